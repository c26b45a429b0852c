"""The numbers FER papers report, from one pass over the predictions."""
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from ferpretrain.registry import METRICS


@METRICS.register_module()
class FERMetric(BaseMetric):
    """Overall accuracy, mean class accuracy, per-class accuracy and the
    confusion matrix of a single-label expression classifier.

    FER test sets are imbalanced (RAF-DB's test split is 39 % Happiness), so
    papers report the mean of the per-class accuracies (macro recall) next
    to the overall accuracy, plus the per-class accuracies and the confusion
    matrix. All four come from one confusion matrix here.

    Keys (with the default prefix ``'fer'``): ``fer/accuracy``,
    ``fer/mean_class_accuracy``, ``fer/accuracy_<class>`` for every class
    (names from the dataset's ``METAINFO``, else indices) and
    ``fer/confusion_matrix`` (a ``(C, C)`` tensor, rows = ground truth,
    columns = prediction). Accuracies are percentages. Classes absent from
    the ground truth get ``nan`` and are left out of the mean, which says so
    in the log.

    Args:
        num_classes (int, optional): Defaults to the size of the predicted
            scores.
        collect_device (str): Defaults to 'cpu'.
        prefix (str, optional): Defaults to ``'fer'``.
    """
    default_prefix = 'fer'

    def __init__(self,
                 num_classes: Optional[int] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device, prefix)
        self.num_classes = num_classes
        self._num_scores = 0  # the size of the predicted scores, once seen

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'pred_score' in sample:
                score = sample['pred_score']
                pred = int(score.argmax())
                self._num_scores = score.numel()
            else:
                pred = int(sample['pred_label'])
            self.results.append((pred, int(sample['gt_label'])))

    def compute_metrics(self, results: List) -> dict:
        num_classes = self.num_classes
        if num_classes is None:
            # The larger of the model's and the test set's class counts:
            # they differ when indices are compared across datasets.
            classes = (self.dataset_meta or {}).get('classes') or ()
            num_classes = max(
                self._num_scores, len(classes),
                1 + max((max(p, g) for p, g in results), default=-1))
        matrix = confusion_matrix(results, num_classes)
        support = matrix.sum(axis=1)
        correct = np.diag(matrix)
        with np.errstate(invalid='ignore', divide='ignore'):
            per_class = 100. * correct / support
        names = self._class_names(num_classes)
        present = support > 0
        out = {
            'accuracy': 100. * correct.sum() / max(support.sum(), 1),
            'mean_class_accuracy': float(per_class[present].mean())
            if present.any() else float('nan'),
        }
        for name, acc in zip(names, per_class):
            out[f'accuracy_{name}'] = float(acc)
        out['confusion_matrix'] = torch.from_numpy(matrix)
        MMLogger.get_current_instance().info(
            '\n' + format_confusion_matrix(matrix, names))
        if not present.all():
            missing = [n for n, p in zip(names, present) if not p]
            MMLogger.get_current_instance().warning(
                f'FERMetric: no test samples of {missing}; their accuracy is '
                'nan and they are left out of the mean class accuracy.')
        return out

    def _class_names(self, num_classes: int) -> List[str]:
        classes = (self.dataset_meta or {}).get('classes')
        if classes is not None and len(classes) == num_classes:
            return [str(c) for c in classes]
        return [str(i) for i in range(num_classes)]


def confusion_matrix(pairs, num_classes: int) -> np.ndarray:
    """(pred, gt) pairs -> (C, C) counts, rows = gt, columns = prediction."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) and (pairs.min() < 0 or pairs.max() >= num_classes):
        raise ValueError(
            f'FERMetric: a label outside 0..{num_classes - 1}; set '
            'num_classes to the number of classes of the test set.')
    flat = pairs[:, 1] * num_classes + pairs[:, 0]
    return np.bincount(flat, minlength=num_classes**2).reshape(
        num_classes, num_classes)


def format_confusion_matrix(matrix: np.ndarray, names: Sequence[str]) -> str:
    """A text table: counts, with each row's accuracy at the end."""
    width = max(6, max(len(n) for n in names) + 1)
    head = 'gt \\ pred'.ljust(width) + ''.join(
        n[:width - 1].rjust(width) for n in names) + '   acc %'
    lines = [head]
    for i, (name, row) in enumerate(zip(names, matrix)):
        total = row.sum()
        acc = 100. * row[i] / total if total else float('nan')
        lines.append(name[:width - 1].ljust(width) + ''.join(
            str(v).rjust(width) for v in row) + f'{acc:10.2f}')
    return '\n'.join(lines)


def serializable_metrics(metrics: dict,
                         classes: Optional[Sequence[str]] = None) -> dict:
    """``metrics`` as plain Python for JSON or YAML (tensors and numpy
    values as nested lists and numbers), with the test set's ``classes``,
    which name the confusion matrix's rows and columns, when given."""
    out = {}
    for key, value in metrics.items():
        # Tensors, numpy arrays and numpy scalars all have tolist().
        if hasattr(value, 'tolist'):
            value = value.tolist()
        out[key] = value
    if classes is not None:
        out['classes'] = list(classes)
    return out
