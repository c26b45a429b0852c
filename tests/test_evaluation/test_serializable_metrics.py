"""serializable_metrics: what ``tools/test.py --out-item metrics`` writes."""
import json

import numpy as np
import torch

from ferpretrain.evaluation import serializable_metrics


def test_metrics_become_plain_python_with_the_class_names():
    metrics = {
        'accuracy/top1': 75.0,
        'fer/mean_class_accuracy': np.float64(62.5),
        'fer/per_class_accuracy': torch.tensor([50., 75.]),
        'fer/confusion_matrix': np.array([[1, 1], [0, 2]]),
        'cross_dataset/test_only': ['Surprise'],
    }
    out = serializable_metrics(metrics, ('happy', 'sad'))
    assert out == {
        'accuracy/top1': 75.0,
        'fer/mean_class_accuracy': 62.5,
        'fer/per_class_accuracy': [50., 75.],
        'fer/confusion_matrix': [[1, 1], [0, 2]],
        'cross_dataset/test_only': ['Surprise'],
        'classes': ['happy', 'sad'],
    }
    assert type(out['fer/mean_class_accuracy']) is float
    assert json.loads(json.dumps(out)) == out
    assert 'classes' not in serializable_metrics(metrics)
