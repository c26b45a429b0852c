"""Pairs of (neutral face, expressive face) of the same subject.

"Difference of Embeddings" models compare a face with a neutral face of the
same person: the expression is what changed. :class:`NeutralPairDataset`
wraps a FER dataset whose samples name their subject (CK+, JAFFE, a
:class:`FERFolder` with ``subject_pattern``) and gives one tensor
``[2, C, H, W]`` a sample: index 0 the neutral face, index 1 the target
face.
"""
import copy
import random
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.dataset import Compose
from mmengine.logging import MMLogger

from ferpretrain.registry import DATASETS, TRANSFORMS
from ferpretrain.utils.errors import ConfigError
from .base_fer import _MAX_LISTED, FERSampleError, check_choice
from .categories import canonical_expression
from .small_images import SIZE_CHECKED_KEY

#: The data-info keys the datasets of ferpretrain give to pair by.
PAIR_KEYS_HELP = ("CKPlus gives 'subject' and 'sequence' (use 'sequence' "
                  'with with_neutral=True: the neutral is the first frame '
                  "of the same sequence), JAFFE gives 'subject', FERFolder "
                  "gives 'subject' when built with subject_pattern (e.g. "
                  "subject_pattern=r'^(p\\d+)_')")


def get_rng_states() -> tuple:
    """The states of the global generators transforms draw from: Python's
    :mod:`random`, NumPy's global ``np.random`` and torch's CPU
    generator."""
    return random.getstate(), np.random.get_state(), torch.get_rng_state()


def set_rng_states(states: tuple) -> None:
    """Restore the states saved by :func:`get_rng_states`."""
    py_state, np_state, torch_state = states
    random.setstate(py_state)
    np.random.set_state(np_state)
    torch.set_rng_state(torch_state)


def _find_class(classes: Sequence[str], name: str) -> Optional[int]:
    """Index of ``name`` in ``classes``: the exact name, else the one name
    equal case-insensitively, else the one with the same canonical
    expression (``'NE'``, ``'neutral'`` and ``'Neutral'`` alike); None if
    there is none. Several equally good matches raise."""
    name = str(name)
    tests = (lambda c: c == name, lambda c: c.lower() == name.lower(),
             lambda c: canonical_expression(c) == canonical_expression(name))
    for test in tests:
        found = [i for i, c in enumerate(classes) if test(str(c))]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise ConfigError(
                f'NeutralPairDataset: neutral_class={name!r} matches the '
                f'classes {[classes[i] for i in found]} of {tuple(classes)}; '
                'pass the exact name of one.')
    return None


class PairPipeline:
    """One pipeline run on both faces of a pair with the same random
    decisions: ``pipeline(dict(neutral=info, target=info))`` ->
    ``dict(neutral=out, target=out)``.

    The generator states (:func:`get_rng_states`) are saved before the
    neutral face and restored before the target. It is one call a pair, so
    a wrapper that reseeds around each call (``ReproducibleRandomnessHook``'s
    ``SeededPipeline``) sees a single sample, not two.
    """

    def __init__(self, pipeline: Compose):
        self.pipeline = pipeline

    @property
    def transforms(self):
        return self.pipeline.transforms

    def __call__(self, pair: dict) -> dict:
        states = get_rng_states()
        neutral = self._run(pair['neutral'], 'neutral', pair['target'])
        set_rng_states(states)
        target = self._run(pair['target'], 'target', pair['target'])
        return dict(neutral=neutral, target=target)

    def _run(self, info: dict, role: str, target: dict) -> dict:
        idx = target.get('sample_idx')
        try:
            out = self.pipeline(info)
        except Exception as e:
            raise FERSampleError(
                f'NeutralPairDataset: pair {idx} failed in the pipeline on '
                f'its {role} image {info.get("img_path")} (annotation '
                f'{info.get("ann_source", "unknown")}): '
                f'{type(e).__name__}: {e}') from e
        if not isinstance(out, dict) or 'inputs' not in out:
            raise ConfigError(
                f'NeutralPairDataset: the pipeline gave {type(out).__name__}'
                f' for the {role} image {info.get("img_path")}, not a dict '
                "with 'inputs': end it with PackInputs and drop transforms "
                'that discard samples.')
        return out

    def __repr__(self) -> str:
        return f'PairPipeline({self.pipeline!r})'


@DATASETS.register_module()
class NeutralPairDataset:
    """(Neutral face, target face) pairs of the same subject.

    For "Difference of Embeddings" models, which compare a face with a
    neutral face of the same person. Each sample of the wrapped dataset
    that is not of the neutral class is a *target*; it is paired with the
    neutral image of its group (the samples with the same value of the
    data-info key ``pair_by``)::

        sample i  ->  dict(inputs=Tensor[2, C, H, W],   # 0: neutral,
                                                        # 1: target
                           data_samples=<the target's DataSample>)

    The data sample is the target's (its ``gt_label``, its ``img_path``)
    with ``neutral_path`` added to its metainfo. Collated by mmengine's
    ``pseudo_collate`` a batch holds a list of ``[2, C, H, W]`` tensors,
    by ``default_collate`` one ``[B, 2, C, H, W]`` tensor; use
    :class:`~ferpretrain.models.utils.PairDataPreprocessor` as the model's
    data preprocessor.

    Classes: the wrapped dataset's classes without the neutral class, in
    their order (``metainfo['classes']``), and ``gt_label`` remapped by
    name: neutral images are references only, never targets. Set the
    model's ``num_classes`` to match (7 for CK+ with ``with_neutral=True``,
    6 for JAFFE and the synthetic pairs demo).

    Which neutral image: the first of the group by sorted ``img_path``
    (deterministic). With ``pair_by='sequence'`` on CK+ that is the first
    frame of the target's own sequence; with ``pair_by='subject'`` on JAFFE
    the subject's first ``NE`` image (``KA.NE1.26.tiff``).

    Groups without a neutral image are counted and reported, never skipped
    silently: one warning (how many images and groups, the first groups
    named) and :attr:`unpaired` (``{group: number of target images}``);
    ``missing_neutral`` says what happens to them.

    Same augmentation for both images: ``pipeline`` runs on the neutral
    image, then the states of the global random generators (Python's
    :mod:`random`, ``np.random``, torch's CPU generator) are restored and
    it runs on the target, so every random decision (flip, crop box,
    rotation, colour jitter) is the same for both. A decision that depends
    on the image size (a crop box, a scale) coincides only when both images
    have the same size, as in CK+, JAFFE and the demo pairs: otherwise put
    a fixed-size ``Resize`` first. Transforms that draw from a generator of
    their own (not the global ones) are not synchronised. The wrapped
    dataset's own ``pipeline`` is ignored (the data infos are read with its
    ``get_data_info``).

    Subject-independent splits come from the wrapped dataset: CKPlus
    ``num_folds``/``fold``, JAFFE ``protocol='loso'`` or ``'kfold'``,
    FERFolder split folders holding different persons. Pairs never cross
    the wrapped split, so a test target is paired with a neutral image of
    its own (test) subject, as at deployment, where a neutral photo of the
    person is taken first.

    Args:
        dataset (dict | Dataset): The wrapped FER dataset or its config;
            its data infos need ``img_path``, ``gt_label`` (one int) and
            the ``pair_by`` key, its ``metainfo['classes']`` the neutral
            class (unless ``reference='self'``).
        pipeline (Sequence[dict | Callable]): The transforms applied to
            both images (configs are built from the transform registry),
            ending with ``PackInputs``.
        neutral_class (str, optional): The neutral class name, matched
            exactly, else case-insensitively, else as an expression
            (``'NE'``); JAFFE's is ``'Neutral'``, CK+'s ``'neutral'``.
            None: there is none (only with ``reference='self'``). Defaults
            to ``'neutral'``.
        pair_by (str): The data-info key that groups the images of one
            subject: ``'subject'`` (CKPlus, JAFFE, FERFolder with
            ``subject_pattern``) or ``'sequence'`` (CKPlus). Defaults to
            ``'subject'``.
        reference (str): ``'neutral'`` pairs each target with its group's
            neutral image; ``'self'`` pairs each target with itself
            (inference without a neutral face, to measure what it costs;
            needs no neutral class, so it also works on CK+48). Defaults to
            ``'neutral'``.
        missing_neutral (str): Targets whose group has no neutral image:
            ``'skip'`` leaves them out, ``'error'`` raises, ``'self'`` pairs
            them with themselves. Reported in every case. Defaults to
            ``'skip'``.
        lazy_init (bool): Defer reading the wrapped dataset and pairing to
            :meth:`full_init` (the Runner calls it). Defaults to False.

    Raises:
        ConfigError: If the wrapped dataset has no neutral class and
            ``reference='neutral'``, a data info lacks the ``pair_by`` key,
            ``missing_neutral='error'`` and a group has no neutral image, or
            no pair is left.

    Examples:
        >>> pipeline = [dict(type='LoadFERImage'),
        ...             dict(type='Resize', scale=112),
        ...             dict(type='RandomFlip', prob=0.5),
        ...             dict(type='PackInputs')]
        >>> # CK+ official layout, subject-independent fold 0 of 10, the
        >>> # first frame of each sequence as its neutral
        >>> train = dict(
        ...     type='NeutralPairDataset', pair_by='sequence',
        ...     dataset=dict(type='CKPlus', data_root='data/CK+',
        ...                  with_neutral=True, num_folds=10, fold=0,
        ...                  split='train'),
        ...     pipeline=pipeline)
        >>> # JAFFE leave-one-subject-out, test subject KA
        >>> test = dict(
        ...     type='NeutralPairDataset', neutral_class='Neutral',
        ...     dataset=dict(type='JAFFE', data_root='data/jaffe',
        ...                  protocol='loso', test_subject='KA',
        ...                  split='test', test_mode=True),
        ...     pipeline=pipeline)
    """

    REFERENCES = ('neutral', 'self')
    MISSING_NEUTRAL = ('skip', 'error', 'self')

    def __init__(self,
                 dataset,
                 pipeline: Sequence,
                 neutral_class: Optional[str] = 'neutral',
                 pair_by: str = 'subject',
                 reference: str = 'neutral',
                 missing_neutral: str = 'skip',
                 lazy_init: bool = False):
        owner = 'NeutralPairDataset'
        check_choice(owner, 'reference', reference, self.REFERENCES)
        check_choice(owner, 'missing_neutral', missing_neutral,
                     self.MISSING_NEUTRAL)
        if not isinstance(pair_by, str) or not pair_by:
            raise ConfigError(f'{owner}: pair_by must be a data-info key '
                              f'such as "subject", got {pair_by!r}.')
        self.pair_by = pair_by
        self.reference = reference
        self.missing_neutral = missing_neutral
        self.pipeline = self._build_pipeline(pipeline)
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
        self.dataset = dataset
        self._dataset_name = type(dataset).__name__

        inner_classes = tuple(
            str(c) for c in (dataset.metainfo.get('classes') or ()))
        if not inner_classes:
            raise ConfigError(
                f'{owner}: {self._dataset_name} has no metainfo["classes"]; '
                'the pairs need the class names (to find the neutral class '
                'and name the target classes).')
        self.inner_classes = inner_classes
        self.neutral_label = None if neutral_class is None else \
            _find_class(inner_classes, neutral_class)
        if self.neutral_label is None and reference == 'neutral':
            raise ConfigError(
                f'{owner}: the classes of {self._dataset_name} '
                f'{inner_classes} hold no neutral class '
                f'(neutral_class={neutral_class!r}, matched '
                'case-insensitively), so there is no neutral face to pair '
                'with. If it is spelled otherwise, pass its exact name as '
                'neutral_class. CK+48 has no neutral frames: use the '
                'official CK+ sequences layout (cohn-kanade-images/ and '
                'Emotion/) with CKPlus(with_neutral=True), or '
                "reference='self' to pair each image with itself.")
        self.neutral_name = None if self.neutral_label is None else \
            inner_classes[self.neutral_label]
        #: The target classes, in the wrapped dataset's order.
        self.classes = tuple(c for i, c in enumerate(inner_classes)
                             if i != self.neutral_label)
        self._label_map = {
            i: self.classes.index(c)
            for i, c in enumerate(inner_classes) if i != self.neutral_label
        }
        self._metainfo = copy.deepcopy(dict(dataset.metainfo))
        self._metainfo['classes'] = self.classes
        #: ``{group: number of target images}`` of the groups without a
        #: neutral image (set by :meth:`full_init`).
        self.unpaired: Dict = {}
        self._target_idx = np.zeros(0, np.int64)
        self._neutral_idx = np.zeros(0, np.int64)
        self._labels = np.zeros(0, np.int64)
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @staticmethod
    def _build_pipeline(pipeline) -> 'PairPipeline':
        if not pipeline or isinstance(pipeline, (str, dict)):
            raise ConfigError(
                'NeutralPairDataset: pipeline is required: a list of the '
                'transforms applied to both images, ending with '
                "PackInputs (e.g. [dict(type='LoadFERImage'), "
                "dict(type='PackInputs')]); the wrapped dataset's own "
                'pipeline is not used.')
        return PairPipeline(Compose([
            TRANSFORMS.build(t) if isinstance(t, dict) else t
            for t in pipeline
        ]))

    # ------------------------------------------------------------------
    @property
    def metainfo(self) -> dict:
        """The wrapped dataset's metainfo with the target ``classes``."""
        return copy.deepcopy(self._metainfo)

    @property
    def CLASSES(self) -> Tuple[str, ...]:
        """The target classes (as mmpretrain datasets name them)."""
        return self.classes

    def full_init(self) -> None:
        """Read the wrapped dataset's data infos and pair them."""
        if self._fully_initialized:
            return
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        targets = []  # (inner index, group, label)
        neutrals = {}  # group -> (img_path, inner index)
        need_group = self.reference == 'neutral'
        for i in range(len(self.dataset)):
            info = self.dataset.get_data_info(i)
            label = self._inner_label(info, i)
            group = self._group(info, i) if need_group else None
            if label == self.neutral_label:
                if need_group:
                    path = str(info.get('img_path'))
                    if group not in neutrals or path < neutrals[group][0]:
                        neutrals[group] = (path, i)
                continue
            targets.append((i, group, self._label_map[label]))

        unpaired = OrderedDict()
        pairs = []
        for i, group, label in targets:
            if not need_group:
                pairs.append((i, i, label))
            elif group in neutrals:
                pairs.append((i, neutrals[group][1], label))
            else:
                unpaired[group] = unpaired.get(group, 0) + 1
                if self.missing_neutral == 'self':
                    pairs.append((i, i, label))
        self.unpaired = dict(unpaired)
        if unpaired:
            self._report_unpaired(unpaired, len(targets))
        if not pairs:
            raise ConfigError(
                f'NeutralPairDataset: no pair in {self._dataset_name} '
                f'({len(self.dataset)} samples, {len(targets)} targets): '
                + ('every target lacks a neutral image in its group; '
                   f'check pair_by={self.pair_by!r} and the split, or pass '
                   "missing_neutral='self'." if targets else
                   'it holds no image of a target class.'))
        table = np.asarray(pairs, dtype=np.int64).reshape(-1, 3)
        self._target_idx, self._neutral_idx, self._labels = table.T.copy()
        self._fully_initialized = True

    def _inner_label(self, info: dict, idx: int) -> int:
        label = info.get('gt_label')
        try:
            value = int(np.asarray(label).item())
        except (TypeError, ValueError):
            value = None
        if value is None or not 0 <= value < len(self.inner_classes):
            raise ConfigError(
                f'NeutralPairDataset: sample {idx} of {self._dataset_name} '
                f'({info.get("ann_source", info.get("img_path"))}) has '
                f'gt_label {label!r}; one class index in '
                f'0..{len(self.inner_classes) - 1} is needed.')
        return value

    def _group(self, info: dict, idx: int):
        if self.pair_by not in info:
            raise ConfigError(
                f'NeutralPairDataset: pair_by={self.pair_by!r}, but the data '
                f'infos of {self._dataset_name} have no {self.pair_by!r} key '
                f'(sample {idx}: '
                f'{info.get("ann_source", info.get("img_path"))}; keys '
                f'{sorted(info)}). {PAIR_KEYS_HELP}.')
        return info[self.pair_by]

    def _report_unpaired(self, unpaired: Dict, num_targets: int) -> None:
        num_images = sum(unpaired.values())
        listed = ', '.join(f'{group} ({n})'
                           for group, n in list(unpaired.items())[
                               :_MAX_LISTED])
        if len(unpaired) > _MAX_LISTED:
            listed += f', ... and {len(unpaired) - _MAX_LISTED} more'
        msg = (f'NeutralPairDataset: {num_images} of {num_targets} target '
               f'images of {self._dataset_name}, in {len(unpaired)} '
               f'group(s) by {self.pair_by!r}, have no '
               f'{self.neutral_name!r} image in their group: {listed}')
        if self.missing_neutral == 'error':
            raise ConfigError(
                msg + ". Add their neutral images, pass missing_neutral="
                "'skip' to leave them out or 'self' to pair them with "
                'themselves, or check pair_by.')
        what = ('left out' if self.missing_neutral == 'skip' else
                'paired with themselves')
        MMLogger.get_current_instance().warning(
            f'{msg}; {what} (missing_neutral={self.missing_neutral!r}).')

    def _ensure_init(self) -> None:
        if not self._fully_initialized:
            self.full_init()

    # ------------------------------------------------------------------
    def __len__(self) -> int:
        self._ensure_init()
        return len(self._target_idx)

    def _check_index(self, idx: int) -> int:
        n = len(self)
        idx = int(idx)
        if idx < 0:
            idx += n
        if not 0 <= idx < n:
            raise IndexError(f'NeutralPairDataset: index {idx} out of range '
                             f'for {n} pairs')
        return idx

    def _pair_infos(self, idx: int) -> Tuple[dict, dict]:
        """(target info with remapped label and ``neutral_path``, neutral
        info), both copies."""
        idx = self._check_index(idx)
        target = dict(self.dataset.get_data_info(int(self._target_idx[idx])))
        neutral = dict(
            self.dataset.get_data_info(int(self._neutral_idx[idx])))
        target['gt_label'] = int(self._labels[idx])
        target['sample_idx'] = idx
        target['neutral_path'] = neutral.get('img_path')
        return target, neutral

    def get_data_info(self, idx: int) -> dict:
        """The target's data info (a copy): ``gt_label`` remapped to
        :attr:`classes`, ``neutral_path`` the neutral image's path."""
        return self._pair_infos(idx)[0]

    def get_gt_labels(self) -> np.ndarray:
        """The target labels (in :attr:`classes`), one per pair."""
        self._ensure_init()
        return self._labels.copy()

    def get_cat_ids(self, idx: int) -> List[int]:
        """The target label of pair ``idx``, as a one-item list."""
        return [int(self._labels[self._check_index(idx)])]

    def class_counts(self) -> List[int]:
        """Number of pairs of each target class."""
        return np.bincount(
            self.get_gt_labels(), minlength=len(self.classes)).tolist()

    def __getitem__(self, idx: int) -> dict:
        """``dict(inputs=Tensor[2, C, H, W], data_samples=DataSample)``:
        index 0 the neutral image, 1 the target, same random decisions."""
        target, neutral = self._pair_infos(idx)
        neutral.pop('gt_label', None)  # a reference, not a sample
        if getattr(self.dataset, '_image_sizes_checked', False):
            target[SIZE_CHECKED_KEY] = neutral[SIZE_CHECKED_KEY] = True
        outs = self.pipeline(dict(neutral=neutral, target=target))
        neutral_out, target_out = outs['neutral'], outs['target']
        n_in, t_in = neutral_out['inputs'], target_out['inputs']
        if not (isinstance(n_in, torch.Tensor)
                and isinstance(t_in, torch.Tensor)):
            raise ConfigError(
                'NeutralPairDataset: the pipeline must end with PackInputs '
                f'(inputs are {type(n_in).__name__}, not tensors).')
        if n_in.shape != t_in.shape:
            raise FERSampleError(
                f'NeutralPairDataset: pair {target["sample_idx"]}: the '
                f'neutral image {target["neutral_path"]} gives inputs of '
                f'shape {tuple(n_in.shape)}, the target '
                f'{target.get("img_path")} {tuple(t_in.shape)}; put a '
                'fixed-size Resize (or CenterCrop) in the pipeline.')
        data_sample = target_out['data_samples']
        data_sample.set_metainfo(dict(neutral_path=target['neutral_path']))
        return dict(
            inputs=torch.stack([n_in, t_in]), data_samples=data_sample)


    def __repr__(self) -> str:
        body = [
            f'classes={self.classes}',
            f'reference={self.reference!r}',
            f'pair_by={self.pair_by!r}',
        ]
        if self._fully_initialized:
            body.append(f'num_pairs={len(self)}')
            if self.unpaired:
                body.append(f'unpaired={sum(self.unpaired.values())} images '
                            f'in {len(self.unpaired)} groups '
                            f'({self.missing_neutral})')
        else:
            body.append('not fully initialized')
        return (f'NeutralPairDataset({", ".join(body)}, '
                f'dataset={self._dataset_name})')
