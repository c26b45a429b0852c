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
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger

from ferpretrain.registry import EVALUATORS, METRICS

# The eight expressions of the FER datasets, each with the spellings the
# datasets use: class names, folder names and JAFFE's two-letter codes.
_EXPRESSION_SPELLINGS = {
    'anger': ('anger', 'angry', 'an', 'ang'),
    'contempt': ('contempt', 'contemptuous', 'co'),
    'disgust': ('disgust', 'disgusted', 'di', 'dis'),
    'fear': ('fear', 'fearful', 'afraid', 'scared', 'fe', 'fea'),
    'happiness': ('happiness', 'happy', 'joy', 'ha', 'hap'),
    'neutral': ('neutral', 'ne', 'neu'),
    'sadness': ('sadness', 'sad', 'sa'),
    'surprise': ('surprise', 'surprised', 'su', 'sur'),
}
_CANONICAL = {
    spelling: canonical
    for canonical, spellings in _EXPRESSION_SPELLINGS.items()
    for spelling in spellings
}


def canonical_expression(name: str) -> str:
    """The canonical name of an expression class, for matching by name.

    Case, surrounding white space, ``-`` and ``_`` do not matter. One of the
    eight expressions (``anger contempt disgust fear happiness neutral
    sadness surprise``) in any spelling the FER datasets use becomes that
    word; any other name is returned lower-cased (so two custom folder
    datasets still match by name).

    Example:
        >>> canonical_expression('Angry'), canonical_expression('SU')
        ('anger', 'surprise')
    """
    key = str(name).strip().lower().replace('-', ' ').replace('_', ' ')
    return _CANONICAL.get(key, key)


@dataclass
class ClassMatch:
    """How the classes of a model map onto those of a test set.

    Attributes:
        model_classes (list[str]): The model's classes, in head order.
        test_classes (list[str]): The test set's classes, in label order.
        model_index (list[int | None]): For each test class, the index of the
            model class that predicts it, or ``None`` if the model has none.
        merged (dict[str, str]): Test class -> model class pairs that come
            from an explicit ``class_map`` (not from equal names).
    """
    model_classes: List[str]
    test_classes: List[str]
    model_index: List[Optional[int]]
    merged: Dict[str, str] = field(default_factory=dict)

    @property
    def is_identity(self) -> bool:
        """True when the model's head order is the test set's label order
        (nothing to map)."""
        return (len(self.model_classes) == len(self.test_classes)
                and self.model_index == list(range(len(self.test_classes))))

    @property
    def test_only(self) -> List[str]:
        """Test classes the model cannot predict."""
        return [
            name for name, index in zip(self.test_classes, self.model_index)
            if index is None
        ]

    @property
    def model_only(self) -> List[str]:
        """Model classes left out of the prediction (no such test class)."""
        used = set(i for i in self.model_index if i is not None)
        return [
            name for i, name in enumerate(self.model_classes) if i not in used
        ]

    def format(self) -> str:
        """A text table: test class <- model class, and what is left out."""
        width = max(len(c) for c in self.test_classes + ['test class']) + 2
        lines = ['test class'.ljust(width) + '<- model class']
        for name, index in zip(self.test_classes, self.model_index):
            if index is None:
                source = '(none: the model lacks this class)'
            else:
                source = f'{self.model_classes[index]} [{index}]'
                if name in self.merged:
                    source += '   (merged by class_map)'
            lines.append(name.ljust(width) + '<- ' + source)
        if self.model_only:
            lines.append(f'model classes left out of the prediction (no '
                         f'such test class): {self.model_only}')
        return '\n'.join(lines)

    def to_dict(self) -> dict:
        """JSON-friendly summary (stored with the metrics)."""
        return dict(
            model_classes=list(self.model_classes),
            test_classes=list(self.test_classes),
            model_index=list(self.model_index),
            test_only=self.test_only,
            model_only=self.model_only,
            merged=dict(self.merged))


def _check_unique(classes: Sequence[str], what: str) -> None:
    seen = {}
    for name in classes:
        key = canonical_expression(name)
        if key in seen:
            raise ValueError(
                f'{what} holds two names of the same expression: '
                f'{seen[key]!r} and {name!r} (both mean {key!r}); class '
                f'names must be distinct to be matched by name: '
                f'{tuple(classes)}.')
        seen[key] = name


def match_classes(model_classes: Sequence[str],
                  test_classes: Sequence[str],
                  class_map: Optional[Dict[str, str]] = None) -> ClassMatch:
    """Pair every test class with the model class of the same expression.

    Args:
        model_classes (Sequence[str]): The model's classes in head order
            (e.g. the training set's ``METAINFO['classes']``).
        test_classes (Sequence[str]): The test set's classes in label order.
        class_map (dict[str, str], optional): Explicit ``{test class: model
            class}`` pairs, for classes that should be graded by a model
            class of another name (e.g. ``{'contempt': 'disgust'}``). Names
            are matched like the classes (any spelling). Defaults to None.

    Returns:
        ClassMatch: The mapping, with the classes each side lacks.

    Raises:
        ValueError: If a list names one expression twice, or ``class_map``
            names a class that is not in the lists (the message lists the
            known names).
    """
    model_classes = [str(c) for c in model_classes]
    test_classes = [str(c) for c in test_classes]
    _check_unique(model_classes, 'The model classes')
    _check_unique(test_classes, 'The test classes')
    model_lookup = {
        canonical_expression(c): i
        for i, c in enumerate(model_classes)
    }
    test_lookup = {canonical_expression(c): c for c in test_classes}

    explicit = {}
    for test_name, model_name in (class_map or {}).items():
        test_key = canonical_expression(test_name)
        model_key = canonical_expression(model_name)
        if test_key not in test_lookup:
            raise ValueError(
                f'class_map: {test_name!r} is not a test class; the test '
                f'classes are {tuple(test_classes)}.')
        if model_key not in model_lookup:
            raise ValueError(
                f'class_map: {model_name!r} is not a model class; the model '
                f'classes are {tuple(model_classes)}.')
        explicit[test_key] = model_lookup[model_key]

    model_index, merged = [], {}
    for name in test_classes:
        key = canonical_expression(name)
        if key in explicit:
            index = explicit[key]
            if canonical_expression(model_classes[index]) != key:
                merged[name] = model_classes[index]
        else:
            index = model_lookup.get(key)
        model_index.append(index)
    return ClassMatch(model_classes, test_classes, model_index, merged)


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
