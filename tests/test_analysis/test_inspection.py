"""ferpretrain.analysis.inspection: a config's model with a checkpoint
loaded strictly (or untrained), and images through its test pipeline."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from ferpretrain.analysis import (build_test_pipeline,
                                  load_model_for_analysis, load_test_image,
                                  model_classes, without_pretrained_init)
from ferpretrain.datasets import FER2013
from ferpretrain.utils import UntrustedCheckpointError
from ferpretrain.utils.errors import (CheckpointError,
                                      CheckpointMismatchError, ConfigError,
                                      FERPretrainError)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRANSFER = osp.join(REPO, 'configs', 'transfer', 'fer2013_cpu.py')
APVIT = osp.join(REPO, 'configs', 'apvit', 'fer2013_cpu.py')
CLASSES = tuple(f'expr{i}' for i in range(7))


def test_without_pretrained_init():
    node = dict(
        backbone=dict(
            type='A', init_cfg=dict(type='Pretrained', checkpoint=1)),
        neck=dict(type='B', init_cfg=[
            dict(type='Kaiming'), dict(type='Pretrained', checkpoint=2)]),
        head=dict(type='C', init_cfg=dict(type='Normal', std=0.01)),
        blocks=[dict(init_cfg=dict(type='Pretrained'))],
        pair=(1, 2))
    assert without_pretrained_init(node) == dict(
        backbone=dict(type='A'), neck=dict(type='B'),
        head=dict(type='C', init_cfg=dict(type='Normal', std=0.01)),
        blocks=[dict()], pair=(1, 2))
    assert node['backbone']['init_cfg']['checkpoint'] == 1  # a copy


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """The TransFER CPU model's weights, with class names."""
    torch.manual_seed(0)
    model = load_model_for_analysis(Config.fromfile(TRANSFER), 'none')
    path = tmp_path_factory.mktemp('ckpt') / 'transfer_cpu.pth'
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=CLASSES))), path)
    return path, model


def test_untrained_model_starts_as_training_does(checkpoint):
    model = checkpoint[1]
    assert not model.training
    # init_weights ran: truncated-normal embeddings, not init_model's zeros.
    assert model.neck.cls_token.abs().sum() > 0
    # No checkpoint: the class names of the config's test dataset.
    assert model_classes(model) == FER2013.METAINFO['classes']


def test_checkpoint_loads_strictly_with_its_class_names(checkpoint):
    path, trained = checkpoint
    model = load_model_for_analysis(Config.fromfile(TRANSFER), str(path))
    assert not model.training and model_classes(model) == CLASSES
    for key, value in trained.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def test_checkpoint_of_another_model_is_refused(checkpoint):
    path = str(checkpoint[0])
    with pytest.raises(CheckpointMismatchError) as refused:
        load_model_for_analysis(Config.fromfile(APVIT), path)
    message = str(refused.value)
    assert message.startswith(f'the checkpoint {path!r} does not fit the '
                              'model of the config:\n')
    assert len(message) < 1000


class _Opaque:
    pass


def test_missing_and_untrusted_checkpoints(tmp_path, checkpoint):
    missing = tmp_path / 'nope.pth'
    with pytest.raises(CheckpointError, match='not found') as refused:
        load_model_for_analysis(Config.fromfile(TRANSFER), str(missing))
    assert osp.abspath(missing) in str(refused.value)
    ckpt = torch.load(checkpoint[0], weights_only=True)
    ckpt['meta']['note'] = _Opaque()  # a Python object: refused
    odd = tmp_path / 'odd.pth'
    torch.save(ckpt, odd)
    with pytest.raises(UntrustedCheckpointError):
        load_model_for_analysis(Config.fromfile(TRANSFER), str(odd))


def test_model_classes_of_a_plain_module():
    assert model_classes(torch.nn.Linear(2, 2)) is None


def _image(path, shape):
    img = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
    assert cv2.imwrite(str(path), img)
    return str(path)


def test_test_image_through_the_pipeline(tmp_path):
    cfg = Config.fromfile(TRANSFER)
    pipeline = build_test_pipeline(cfg)
    data, face = load_test_image(pipeline, _image(tmp_path / 'a.png',
                                                  (64, 64, 3)))
    assert tuple(data['inputs'].shape) == (3, 48, 48)
    assert face.shape == (48, 48, 3) and face.dtype == np.uint8
    np.testing.assert_array_equal(face, data['inputs'].permute(1, 2, 0))
    # A dataset wrapper: its dataset's pipeline.
    cfg.test_dataloader.dataset = dict(
        type='ClassBalancedDataset', oversample_thr=0.5,
        dataset=cfg.test_dataloader.dataset)
    build_test_pipeline(cfg)
    with pytest.raises(FERPretrainError, match='test pipeline failed'):
        load_test_image(pipeline, str(tmp_path / 'missing.png'))


def test_one_channel_faces_and_multi_crop():

    def gray(results):
        return dict(inputs=torch.full((1, 4, 4), 7, dtype=torch.uint8))

    _, face = load_test_image(gray, 'x.png')
    assert face.shape == (4, 4, 3) and (face == 7).all()

    def crops(results):
        return dict(inputs=torch.zeros(5, 3, 4, 4))

    with pytest.raises(FERPretrainError, match='multi-crop'):
        load_test_image(crops, 'x.png')


def test_pipeline_is_required():
    cfg = Config(dict(test_dataloader=dict(dataset=dict(type='X'))))
    with pytest.raises(ConfigError, match='no pipeline'):
        build_test_pipeline(cfg)
