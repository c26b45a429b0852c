"""Evaluate a model trained on one FER dataset on another (cross-dataset).

FER datasets name and order the same expressions differently: FER2013 index
0 is ``Angry``, RAF-DB index 0 is ``Surprise``, JAFFE spells ``Anger`` and CK+
``anger``, and CK+ has ``contempt`` but no neutral class. Comparing a
model's class index with a test set's label index is only right when the two
lists agree, so cross-dataset evaluation here maps classes **by name**:

1. every name is reduced to a canonical expression
   (:func:`canonical_expression`: ``'Angry'``, ``'anger'``, ``'AN'`` ->
   ``'anger'``); names that are not one of the eight expressions are
   compared case-insensitively as they are;
2. :func:`match_classes` pairs each test class with the model class of the
   same canonical name, or with the model class that ``class_map`` names
   (an explicit, user-given merge such as ``contempt -> disgust``);
3. :class:`CrossDatasetEvaluator` re-orders the predicted scores into the
   test set's class order before any metric sees them.

Nothing is merged silently:

- **test classes the model lacks** (CK+ ``contempt`` for a RAF-DB model)
  cannot be predicted; ``tools/test.py`` leaves their samples out with
  :class:`ferpretrain.datasets.ClassSubsetDataset` and reports how many, and
  the metrics list them as classes without test samples. Used on its own,
  the evaluator keeps such samples (they count as errors) and warns.
- **model classes the test set lacks** (RAF-DB ``Neutral`` on CK+48) are
  left out of the prediction: the prediction is the arg-max over the classes
  both have (the usual cross-dataset protocol), with the scores of the
  shared classes re-normalised to sum to one. The log names these classes.

The mapping is logged as a table and returned with the metrics
(``cross_dataset/*`` keys), so it ends up in ``--out`` files too.
"""
from typing import Dict, Optional, Sequence

import torch
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger

# Name matching is shared with the datasets (ClassSubsetDataset), which may
# not import evaluation; the names stay importable from here.
from ferpretrain.datasets.categories import (ClassMatch, canonical_expression,
                                             match_classes)
from ferpretrain.registry import EVALUATORS, METRICS

__all__ = [
    'ClassMatch', 'CrossDatasetEvaluator', 'canonical_expression',
    'match_classes'
]

@EVALUATORS.register_module()
class CrossDatasetEvaluator(Evaluator):
    """An :class:`mmengine.evaluator.Evaluator` that re-orders the model's
    scores into the test set's classes (matched by name) before its metrics
    see them.

    For a test sample, ``pred_score`` (model classes, length ``M``) becomes
    a score over the test classes (length ``T``): the column of each test
    class is the score of its model class, re-normalised over the classes
    both share; a test class the model lacks gets 0. ``pred_label`` is the
    arg-max of the new score. See the module docstring for what happens to
    the classes each side lacks.

    The returned metrics gain ``cross_dataset/model_classes``,
    ``cross_dataset/test_only`` and ``cross_dataset/model_only``.

    Args:
        metrics (dict | list): The metrics, as for ``Evaluator``.
        model_classes (Sequence[str]): The model's classes in head order.
        class_map (dict[str, str], optional): Explicit ``{test class: model
            class}`` merges, see :func:`match_classes`.
    """

    def __init__(self,
                 metrics,
                 model_classes: Sequence[str],
                 class_map: Optional[Dict[str, str]] = None):
        # Built from mmpretrain's registry, so that the evaluator also works
        # outside a Runner (which sets the default scope).
        if not isinstance(metrics, Sequence):
            metrics = [metrics]
        super().__init__([
            METRICS.build(m) if isinstance(m, dict) else m for m in metrics
        ])
        if not model_classes:
            raise ValueError('CrossDatasetEvaluator: model_classes is empty; '
                             'give the class names of the model head.')
        self.model_classes = [str(c) for c in model_classes]
        self.class_map = dict(class_map or {})
        self.match: Optional[ClassMatch] = None
        self._index: Optional[torch.Tensor] = None
        self._test_only_seen = 0

    @Evaluator.dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        Evaluator.dataset_meta.fset(self, dataset_meta)
        classes = (dataset_meta or {}).get('classes')
        if not classes:
            raise ValueError(
                'CrossDatasetEvaluator: the test dataset has no '
                "metainfo['classes']; classes can only be matched by name.")
        self.match = match_classes(self.model_classes, classes,
                                   self.class_map)
        # -1 marks a test class without a model class (gathered as 0 below).
        self._index = torch.tensor(
            [-1 if i is None else i for i in self.match.model_index])
        logger = MMLogger.get_current_instance()
        if self.match.is_identity:
            logger.info('The model classes and the test classes agree: '
                        f'{self.match.test_classes}.')
            return
        logger.info('Cross-dataset evaluation, classes matched by name:\n' +
                    self.match.format())
        if self.match.test_only:
            logger.warning(
                f'The model cannot predict the test classes '
                f'{self.match.test_only}; tools/test.py leaves their samples '
                'out, and they are reported as classes without test samples.')

    def remap_score(self, score: torch.Tensor) -> torch.Tensor:
        """Model-class score ``(M,)`` -> test-class score ``(T,)``."""
        if self.match is None:
            raise RuntimeError('CrossDatasetEvaluator: dataset_meta must be '
                               'set (the Runner does) before process().')
        if score.numel() != len(self.model_classes):
            raise ValueError(
                f'CrossDatasetEvaluator: the model predicts '
                f'{score.numel()} scores but model_classes names '
                f'{len(self.model_classes)} classes {self.model_classes}; '
                'give the class names of the model head in head order '
                '(tools/test.py --model-classes).')
        index = self._index.to(score.device)
        gathered = score[index.clamp(min=0)]
        gathered = torch.where(index >= 0, gathered,
                               torch.zeros_like(gathered))
        total = gathered.sum()
        # Scores are softmax probabilities: re-normalise over the shared
        # classes. Logits (negative values) are left as they are.
        if total > 0 and bool((score >= 0).all()):
            gathered = gathered / total
        return gathered

    def process(self, data_samples, data_batch=None):
        test_only = set(i for i, m in enumerate(self.match.model_index)
                        if m is None) if self.match else set()
        for sample in data_samples:
            if 'pred_score' not in sample:
                raise KeyError(
                    'CrossDatasetEvaluator needs pred_score in the '
                    'predictions (a classifier head with predict()).')
            score = self.remap_score(sample.pred_score)
            # The head stamped the model's class count on the sample.
            sample.set_metainfo(dict(num_classes=score.numel()))
            sample.set_pred_score(score)
            sample.set_pred_label(score.argmax(dim=-1, keepdim=True))
            if 'gt_label' in sample and int(sample.gt_label) in test_only:
                self._test_only_seen += 1
        super().process(data_samples, data_batch)

    def evaluate(self, size: int) -> dict:
        metrics = super().evaluate(size)
        if self._test_only_seen:
            MMLogger.get_current_instance().warning(
                f'{self._test_only_seen} test samples belong to classes the '
                f'model lacks ({self.match.test_only}) and count as errors; '
                'leave them out with ClassSubsetDataset (tools/test.py does).')
            self._test_only_seen = 0
        if self.match is not None and not self.match.is_identity:
            metrics['cross_dataset/model_classes'] = self.match.model_classes
            metrics['cross_dataset/test_only'] = self.match.test_only
            metrics['cross_dataset/model_only'] = self.match.model_only
        return metrics
