"""Dataset wrappers for FER protocols."""
import copy
from collections import Counter
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.logging import MMLogger

from ferpretrain.registry import DATASETS
from .categories import match_classes


@DATASETS.register_module()
class ClassSubsetDataset:
    """Keep only the samples of some classes; labels stay as they are.

    The classes and label indices of the wrapped dataset do not change
    (``metainfo['classes']`` is the full list), so metrics still name every
    class, and a class without samples shows as such. Used by cross-dataset
    evaluation to leave out the test classes a model cannot predict (CK+
    ``contempt`` for a RAF-DB model); how many samples of each class were
    left out is logged and kept in :attr:`excluded_counts`.

    Args:
        dataset (BaseDataset | dict): The dataset, or its config.
        classes (Sequence[str], optional): The class names to keep, spelled
            as in the dataset's ``metainfo['classes']``.
        model_classes (Sequence[str], optional): Instead of ``classes``:
            keep the classes a model with these classes can predict, matched
            by name as in cross-dataset evaluation
            (:func:`ferpretrain.datasets.match_classes`).
        class_map (dict[str, str], optional): Explicit ``{dataset class:
            model class}`` pairs for ``model_classes``. Defaults to None.
        lazy_init (bool): Defer the filtering to :meth:`full_init`. Defaults
            to False.

    Raises:
        ValueError: If ``classes`` names a class the dataset does not have
            (the message lists the dataset's classes), or not exactly one of
            ``classes`` and ``model_classes`` is given.
    """

    def __init__(self,
                 dataset,
                 classes: Optional[Sequence[str]] = None,
                 model_classes: Optional[Sequence[str]] = None,
                 class_map: Optional[Dict[str, str]] = None,
                 lazy_init: bool = False):
        if (classes is None) == (model_classes is None):
            raise ValueError('ClassSubsetDataset: give exactly one of '
                             '`classes` and `model_classes`.')
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
        self.dataset = dataset
        all_classes = list(self.dataset.metainfo.get('classes') or ())
        if model_classes is not None:
            match = match_classes(model_classes, all_classes, class_map)
            classes = [
                c for c, i in zip(all_classes, match.model_index)
                if i is not None
            ]
        unknown = [c for c in classes if c not in all_classes]
        if unknown:
            raise ValueError(
                f'ClassSubsetDataset: {unknown} not among the classes of '
                f'{type(dataset).__name__}: {tuple(all_classes)}.')
        self.classes = list(classes)
        self._keep = {all_classes.index(c) for c in classes}
        self.excluded_counts: Counter = Counter()
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self.dataset.metainfo)

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        self.dataset.full_init()
        labels = self._labels()
        keep = [i for i, label in enumerate(labels) if label in self._keep]
        names = self.dataset.metainfo['classes']
        self.excluded_counts = Counter(names[label] for label in labels
                                       if label not in self._keep)
        if labels and not keep:
            from ferpretrain.utils.errors import ConfigError
            raise ConfigError(
                f'ClassSubsetDataset: none of the {len(labels)} samples of '
                f'{type(self.dataset).__name__} is of a kept class '
                f'({list(self.classes) or "no class matched"}; the dataset '
                f'has {dict(self.excluded_counts)}): nothing to evaluate. '
                'Check the model\'s classes (--model-classes) and the test '
                'data, or merge classes explicitly with --class-map '
                'TEST=MODEL.')
        if len(keep) < len(labels):
            # In place, so that the dataset's own indexing and serialisation
            # (shared memory between workers) keep working.
            self.dataset.get_subset_(keep)
            MMLogger.get_current_instance().warning(
                f'ClassSubsetDataset: left out {len(labels) - len(keep)} of '
                f'{len(labels)} samples of {type(self.dataset).__name__} '
                f'(classes not kept: {dict(self.excluded_counts)}).')
        self._fully_initialized = True

    def _labels(self) -> List[int]:
        if hasattr(self.dataset, 'get_gt_labels'):
            return [int(x) for x in self.dataset.get_gt_labels()]
        return [
            int(self.dataset.get_data_info(i)['gt_label'])
            for i in range(len(self.dataset))
        ]

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(idx)

    def get_gt_labels(self) -> np.ndarray:
        return np.array(self._labels())

    def get_cat_ids(self, idx: int) -> List[int]:
        return [int(self.dataset.get_data_info(idx)['gt_label'])]

    def __getitem__(self, idx: Union[int, slice]):
        return self.dataset[idx]

    def __len__(self) -> int:
        return len(self.dataset)

    def __repr__(self) -> str:
        return (f'ClassSubsetDataset(classes={self.classes}, '
                f'num_samples={len(self)}, dataset={self.dataset!r})')
