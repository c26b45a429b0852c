"""The model that ships inside the package (DEFAULT_MODEL): it is in the
index with a packaged checkpoint, loads strictly with no network, and the
inferencer and the demos run it on a real face by default. Not its
accuracy: configs/iresnet/README.md has that, measured."""
import os.path as osp
import sys

import numpy as np
import pytest

import ferpretrain
from ferpretrain.apis import model as model_api
from ferpretrain.datasets.categories import FER2013_CATEGORIES
from ferpretrain.utils import resources

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from inferencer_helpers import face_image  # noqa: E402



def test_the_default_model_is_packaged():
    entry = model_api._ferpretrain_models()[model_api.DEFAULT_MODEL]
    assert entry.weights.startswith(resources.PACKAGED_SCHEME)
    path = resources.packaged_checkpoint(entry.weights)
    assert osp.dirname(path) == resources.WEIGHTS_DIR
    assert osp.getsize(path) < 10 * 2**20
    assert entry.config.endswith('configs/iresnet/fer2013_cpu.py')


def test_it_loads_strictly_with_its_class_names():
    model = ferpretrain.get_model(model_api.DEFAULT_MODEL, pretrained=True)
    assert tuple(model.dataset_meta['classes']) == FER2013_CATEGORIES
    assert not model.training


def test_the_inferencer_runs_it_on_a_real_face_by_default():
    from ferpretrain.apis import FERInferencer
    inferencer = FERInferencer()
    assert inferencer.classes == FER2013_CATEGORIES
    assert inferencer.classes_source == 'checkpoint'
    (result, ) = inferencer(face_image())
    (face, ) = result['faces']
    assert face['label'] in FER2013_CATEGORIES
    assert sum(face['scores'].values()) == pytest.approx(1, abs=1e-6)
    assert np.isfinite(list(face['scores'].values())).all()


def test_mmpretrain_inferencer_runs_it_by_name():
    """mmpretrain's own inferencer takes the name (ModelHub) and the
    packaged weights, and scores an aligned face as FERInferencer does."""
    from mmpretrain import ImageClassificationInferencer

    from ferpretrain.apis import FERInferencer
    ours = FERInferencer(detect=False)
    crop = ours(face_image(), detect=True,
                return_crops=True)[0]['faces'][0]['aligned_face']
    theirs = ImageClassificationInferencer(
        model_api.DEFAULT_MODEL, pretrained=True)
    (result, ) = theirs(crop)
    (face, ) = ours(crop)[0]['faces']
    assert result['pred_class'] == face['label']
    np.testing.assert_allclose(
        result['pred_scores'], [face['scores'][c] for c in theirs.classes],
        atol=1e-5)
