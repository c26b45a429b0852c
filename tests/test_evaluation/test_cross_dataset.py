"""Cross-dataset evaluation: matching classes by name, re-ordering scores,
leaving out the classes a model lacks."""
import os

import cv2
import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample

from ferpretrain.datasets import ClassSubsetDataset, FERFolder
from ferpretrain.datasets.categories import (CKPLUS_CATEGORIES,
                                             FER2013_CATEGORIES,
                                             JAFFE_CATEGORIES,
                                             RAFDB_CATEGORIES)
from ferpretrain.evaluation import (CrossDatasetEvaluator,
                                    canonical_expression, match_classes)


@pytest.mark.parametrize('spellings,canonical', [
    (('Angry', 'anger', 'AN', ' ANGER '), 'anger'),
    (('Happy', 'Happiness', 'HA'), 'happiness'),
    (('Sad', 'sadness', 'SA'), 'sadness'),
    (('Surprise', 'surprised', 'SU'), 'surprise'),
    (('Neutral', 'NE'), 'neutral'),
    (('Fear', 'fearful', 'FE'), 'fear'),
    (('Disgust', 'DI'), 'disgust'),
    (('contempt', 'Contempt'), 'contempt'),
    (('No-Face', 'no_face'), 'no face'),
])
def test_canonical_expression(spellings, canonical):
    assert {canonical_expression(s) for s in spellings} == {canonical}


def test_match_fer2013_to_jaffe_is_a_permutation():
    match = match_classes(FER2013_CATEGORIES, JAFFE_CATEGORIES)
    # JAFFE order: Anger Disgust Fear Happiness Neutral Sadness Surprise.
    assert match.model_index == [0, 1, 2, 3, 6, 4, 5]
    assert match.test_only == [] and match.model_only == []
    assert not match.is_identity


def test_match_rafdb_to_ckplus_reports_both_sides():
    match = match_classes(RAFDB_CATEGORIES, CKPLUS_CATEGORIES)
    assert match.test_only == ['contempt']
    assert match.model_only == ['Neutral']
    assert match.model_index == [5, None, 2, 1, 3, 4, 0]
    table = match.format()
    assert 'contempt' in table and 'lacks this class' in table
    assert "['Neutral']" in table


def test_match_identity_and_explicit_merge():
    assert match_classes(RAFDB_CATEGORIES, RAFDB_CATEGORIES).is_identity
    match = match_classes(RAFDB_CATEGORIES, CKPLUS_CATEGORIES,
                          class_map={'contempt': 'Disgust'})
    assert match.model_index[1] == 2
    assert match.merged == {'contempt': 'Disgust'}
    assert match.test_only == []


@pytest.mark.parametrize('kwargs,message', [
    (dict(model_classes=('Angry', 'anger'), test_classes=('Sad', )),
     "'Angry' and 'anger'"),
    (dict(model_classes=('Sad', ), test_classes=('Sad', ),
          class_map={'Happy': 'Sad'}), "'Happy' is not a test class"),
    (dict(model_classes=('Sad', ), test_classes=('Sad', ),
          class_map={'Sad': 'Joy'}), "'Joy' is not a model class"),
])
def test_match_errors_name_the_class(kwargs, message):
    with pytest.raises(ValueError, match=message):
        match_classes(**kwargs)


def _sample(score, gt):
    sample = DataSample(metainfo=dict(num_classes=len(score)))
    sample.set_pred_score(torch.tensor(score))
    sample.set_gt_label(gt)
    return sample


def test_evaluator_reorders_scores_before_metrics():
    model_classes = ('happy', 'sad', 'neutral')
    evaluator = CrossDatasetEvaluator(
        [dict(type='Accuracy', topk=(1, )),
         dict(type='FERMetric')], model_classes=model_classes)
    evaluator.dataset_meta = dict(classes=('Sadness', 'Happiness'))
    # Model scores over (happy, sad, neutral); gt in (Sadness, Happiness).
    samples = [
        _sample([0.7, 0.2, 0.1], 1),  # happy -> Happiness: right
        _sample([0.1, 0.6, 0.3], 0),  # sad -> Sadness: right
        # neutral wins over all classes, but is not a test class: the
        # arg-max over the shared classes says sad -> Sadness: right.
        _sample([0.1, 0.3, 0.6], 0),
        _sample([0.5, 0.4, 0.1], 0),  # happy for a Sadness face: wrong
    ]
    evaluator.process(samples)
    score = samples[2].pred_score
    assert torch.allclose(score, torch.tensor([0.75, 0.25]))
    assert int(samples[2].pred_label) == 0
    metrics = evaluator.evaluate(len(samples))
    assert metrics['accuracy/top1'] == pytest.approx(75.)
    assert metrics['fer/accuracy_Sadness'] == pytest.approx(200 / 3)
    assert metrics['fer/accuracy_Happiness'] == pytest.approx(100.)
    assert metrics['fer/confusion_matrix'].tolist() == [[2, 1], [0, 1]]
    assert metrics['cross_dataset/model_only'] == ['neutral']


def test_evaluator_counts_unpredictable_samples_as_errors():
    evaluator = CrossDatasetEvaluator(
        dict(type='Accuracy', topk=(1, )), model_classes=('happy', ))
    evaluator.dataset_meta = dict(classes=('Happiness', 'Contempt'))
    evaluator.process([_sample([1.], 0), _sample([1.], 1)])
    metrics = evaluator.evaluate(2)
    assert metrics['accuracy/top1'] == pytest.approx(50.)
    assert metrics['cross_dataset/test_only'] == ['Contempt']


def test_evaluator_rejects_a_head_of_another_size():
    evaluator = CrossDatasetEvaluator(
        dict(type='FERMetric'), model_classes=('happy', 'sad'))
    evaluator.dataset_meta = dict(classes=('sad', 'happy'))
    with pytest.raises(ValueError, match='predicts 3 scores'):
        evaluator.process([_sample([0.2, 0.3, 0.5], 0)])


def _write_folder(root, counts):
    rng = np.random.default_rng(0)
    for name, count in counts.items():
        os.makedirs(os.path.join(root, 'test', name))
        for i in range(count):
            img = rng.integers(0, 255, (8, 8), dtype=np.uint8)
            cv2.imwrite(os.path.join(root, 'test', name, f'{i}.png'), img)


def test_class_subset_dataset(tmp_path):
    _write_folder(str(tmp_path), dict(anger=2, contempt=3, happy=4))
    dataset = dict(
        type='FERFolder',
        data_root=str(tmp_path),
        split='test',
        classes=('anger', 'contempt', 'happy'))
    subset = ClassSubsetDataset(dataset, model_classes=RAFDB_CATEGORIES)
    assert len(subset) == 6
    assert subset.metainfo['classes'] == ('anger', 'contempt', 'happy')
    assert sorted(subset.get_gt_labels().tolist()) == [0, 0, 2, 2, 2, 2]
    assert subset.excluded_counts == {'contempt': 3}
    assert subset[0]['gt_label'] in (0, 2)

    explicit = ClassSubsetDataset(
        FERFolder(
            str(tmp_path), classes=('anger', 'contempt', 'happy'),
            split='test'),
        classes=['contempt'])
    assert explicit.get_gt_labels().tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match=r"\['Joy'\] not among"):
        ClassSubsetDataset(dataset, classes=['Joy'])
    with pytest.raises(ValueError, match='exactly one'):
        ClassSubsetDataset(dataset)
