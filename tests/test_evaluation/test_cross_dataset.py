"""Cross-dataset evaluation: re-ordering scores, leaving out the classes a
model lacks (matching classes by name is tested in
tests/test_datasets/test_categories.py)."""
import os

import cv2
import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample

from ferpretrain.datasets import ClassSubsetDataset, FERFolder
from ferpretrain.datasets.categories import RAFDB_CATEGORIES
from ferpretrain.evaluation import CrossDatasetEvaluator


def test_name_matching_is_still_importable_from_evaluation():
    # It moved to datasets.categories; the evaluation paths are public API.
    from ferpretrain import datasets, evaluation
    from ferpretrain.evaluation import cross_dataset
    for name in ('ClassMatch', 'canonical_expression', 'match_classes'):
        assert getattr(evaluation, name) is getattr(datasets, name)
        assert getattr(cross_dataset, name) is getattr(datasets, name)


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
