import math

import pytest
import torch
from mmpretrain.structures import DataSample

from ferpretrain.evaluation import FERMetric, confusion_matrix
from ferpretrain.registry import METRICS


def _samples(pairs, num_classes=3):
    out = []
    for pred, gt in pairs:
        score = torch.zeros(num_classes)
        score[pred] = 1.
        sample = DataSample().set_pred_score(score).set_gt_label(gt)
        out.append(sample.to_dict())
    return out


def test_accuracy_mean_class_accuracy_per_class_and_matrix():
    metric = METRICS.build(dict(type='FERMetric'))
    metric.dataset_meta = dict(classes=('Happy', 'Sad', 'Angry'))
    # gt Happy x4 (3 right), Sad x2 (1 right), Angry x1 (1 right)
    pairs = [(0, 0), (0, 0), (0, 0), (1, 0), (1, 1), (0, 1), (2, 2)]
    metric.process(None, _samples(pairs))
    result = metric.evaluate(len(pairs))
    assert result['fer/accuracy'] == pytest.approx(100 * 5 / 7)
    assert result['fer/accuracy_Happy'] == pytest.approx(75.)
    assert result['fer/accuracy_Sad'] == pytest.approx(50.)
    assert result['fer/accuracy_Angry'] == pytest.approx(100.)
    assert result['fer/mean_class_accuracy'] == pytest.approx(75.)
    assert result['fer/confusion_matrix'].tolist() == [[3, 1, 0], [1, 1, 0],
                                                       [0, 0, 1]]


def test_absent_class_is_nan_and_left_out_of_the_mean():
    metric = FERMetric(num_classes=3)
    metric.process(None, _samples([(0, 0), (1, 0), (1, 1)]))
    result = metric.evaluate(3)
    assert math.isnan(result['fer/accuracy_2'])
    assert result['fer/mean_class_accuracy'] == pytest.approx(75.)


def test_labels_out_of_range_are_explained():
    with pytest.raises(ValueError, match='num_classes'):
        confusion_matrix([(0, 5)], 3)


def test_more_test_classes_than_scores():
    # A 2-class model on a 3-class test set, indices compared as they are:
    # the matrix covers the test classes, the third is never predicted.
    metric = METRICS.build(dict(type='FERMetric'))
    metric.dataset_meta = dict(classes=('Happy', 'Sad', 'Surprise'))
    metric.process(None, _samples([(0, 0), (1, 1), (0, 2)], num_classes=2))
    result = metric.evaluate(3)
    assert result['fer/confusion_matrix'].tolist() == [[1, 0, 0], [0, 1, 0],
                                                       [1, 0, 0]]
    assert result['fer/accuracy_Surprise'] == 0.
