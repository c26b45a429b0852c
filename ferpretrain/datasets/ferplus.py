"""FERPlus: FER2013 images re-labelled by 10 annotators each."""
import csv
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import MMLogger

from ferpretrain.registry import DATASETS
from .base_fer import (BaseFERDataset, annotation_error, ann_source,
                       check_choice, check_images_exist, open_label_file,
                       require_dir, require_file)
from .categories import FERPLUS_CATEGORIES

#: The 10 vote columns of ``label.csv`` (after the name and the face box).
FERPLUS_VOTE_COLUMNS = ('neutral', 'happiness', 'surprise', 'sadness',
                        'anger', 'disgust', 'fear', 'contempt', 'unknown',
                        'NF')
FERPLUS_SPLIT_FOLDERS = {
    'train': 'FER2013Train',
    'val': 'FER2013Valid',
    'test': 'FER2013Test',
}
FERPLUS_LABEL_MODES = ('majority', 'probability', 'crossentropy',
                       'multi_target')

_NUM_EMOTIONS = len(FERPLUS_CATEGORIES)  # 8
_NUM_COLUMNS = 2 + len(FERPLUS_VOTE_COLUMNS)  # name, box, 10 votes
_ROW_HINT = ('a row is <image name>,"(x, y, w, h)",<10 vote counts>; '
             're-generate label.csv with the official FERPlus generator '
             '(generate_training_data.py)')

# Reasons a row is dropped (keys of the per-split log line).
DROP_NO_EMOTION = 'no emotion votes'
DROP_UNKNOWN_NF = 'unknown/NF on top'
DROP_NO_MAJORITY = 'top emotion <= half of the votes'
DROP_TOO_FEW = 'kept emotions <= half of the votes or > 3 tied'


def ferplus_target(votes: Sequence[float],
                   mode: str) -> Tuple[Optional[np.ndarray], str]:
    """Apply microsoft/FERPlus ``_process_data`` to one row of votes.

    Args:
        votes (Sequence[float]): The 10 vote counts (neutral, ..., contempt,
            unknown, NF).
        mode (str): One of :data:`FERPLUS_LABEL_MODES`.

    Returns:
        tuple: ``(target, '')`` with ``target`` a float32 array of length 8
        summing to 1 (one-hot for ``'majority'``, the kept vote
        distribution for ``'probability'`` / ``'crossentropy'``, the
        normalised votes of the emotions with >= 30% for
        ``'multi_target'``; :class:`FERPlus` turns the latter into a
        normalised multi-hot), or ``(None, reason)`` when the row is dropped.
    """
    raw = np.asarray(votes, dtype=np.float64).copy()
    if raw.shape != (len(FERPLUS_VOTE_COLUMNS), ):
        raise ValueError(f'expected {len(FERPLUS_VOTE_COLUMNS)} votes, got '
                         f'{raw.shape}')
    # Outlier removal: a single annotator's vote is noise.
    raw[raw <= 1] = 0.0
    if raw[:_NUM_EMOTIONS].sum() <= 0:
        return None, DROP_NO_EMOTION
    total = raw.sum()
    size = len(raw)
    emotion = np.zeros(size)
    reason = ''

    if mode == 'majority':
        maxval = raw.max()
        if maxval > 0.5 * total:
            emotion[int(np.argmax(raw))] = maxval
        else:
            reason = DROP_NO_MAJORITY
    elif mode in ('probability', 'crossentropy'):
        sum_part, count, valid = 0.0, 0, True
        work = raw.copy()
        while sum_part < 0.75 * total and count < 3 and valid:
            maxval = work.max()
            for i in range(size):
                if work[i] == maxval:
                    emotion[i] = maxval
                    work[i] = 0
                    sum_part += emotion[i]
                    count += 1
                    if i >= _NUM_EMOTIONS:
                        # unknown / NF tie with the current maximum
                        valid = False
                        if emotion.sum() > maxval:
                            emotion[i] = 0
                            count -= 1
                        break
        if emotion.sum() <= 0.5 * total or count > 3:
            emotion[:] = 0
            reason = DROP_TOO_FEW
    elif mode == 'multi_target':
        keep = raw >= 0.3 * total
        emotion[keep] = raw[keep]
        if emotion.sum() <= 0.5 * total:
            emotion[:] = 0
            reason = DROP_TOO_FEW
    else:
        raise ValueError(f'label_mode must be one of {FERPLUS_LABEL_MODES}, '
                         f'got {mode!r}')

    if reason:
        return None, reason
    if int(np.argmax(emotion)) >= _NUM_EMOTIONS:
        return None, DROP_UNKNOWN_NF
    target = emotion[:_NUM_EMOTIONS]
    return (target / target.sum()).astype(np.float32), ''


@DATASETS.register_module()
class FERPlus(BaseFERDataset):
    """FERPlus: FER2013's 48x48 faces, each labelled by 10 annotators.

    `FERPlus <https://github.com/microsoft/FERPlus>`_ (Barsoum et al.,
    ICMI 2016). The class reads the output of the official generator
    (``generate_training_data.py``) as it is::

        FERPlus                        <- data_root
        ├── FER2013Train               split='train'
        │   ├── label.csv
        │   ├── fer0000000.png         48x48 grayscale
        │   └── ...
        ├── FER2013Valid               split='val'
        │   ├── label.csv
        │   └── ...
        └── FER2013Test                split='test'
            ├── label.csv
            └── ...

    ``label.csv`` has no header; a row is
    ``fer0000000.png,"(0, 0, 48, 48)",4,0,0,1,3,2,0,0,0,0``: image name,
    face box (unused), then 10 vote counts in the order neutral, happiness,
    surprise, sadness, anger, disgust, fear, contempt, unknown, NF
    (not a face). Images are ``<data_root>/<split folder>/<image name>``.

    Classes (8, ``gt_label`` 0..7): ``('Neutral', 'Happiness', 'Surprise',
    'Sadness', 'Anger', 'Disgust', 'Fear', 'Contempt')``.

    **Labels** follow microsoft/FERPlus ``_process_data`` exactly
    (:func:`ferplus_target`). First every vote count <= 1 is set to 0
    (outlier removal); ``total`` is the sum of the remaining 10 counts
    (unknown and NF included). Rows left with no emotion vote (only
    unknown / NF, or nothing) are dropped in every mode. Then, by
    ``label_mode``:

    - ``'majority'``: the row is kept only if the top count is
      ``> 0.5 * total`` (exactly half is dropped) and that top is one of
      the 8 emotions (unknown / NF winners are dropped).
      ``gt_label`` = the top emotion.
    - ``'probability'`` and ``'crossentropy'``: the largest counts are
      taken, ties together, until they cover ``>= 75%`` of ``total`` or 3
      have been taken; taking stops at an unknown / NF tie with the current
      maximum (which is itself discarded when emotions were taken before
      it). The row is dropped when the taken counts are ``<= 50%`` of
      ``total``, more than 3 were taken (ties), or unknown / NF holds the
      largest taken count. The taken emotion counts, normalised over the
      8 emotions, are the distribution ``p``.

      - ``'probability'``: ``gt_label`` is drawn from ``p`` (with
        :mod:`numpy.random`, so the dataloader's per-worker seeding
        applies) each time the sample is fetched (``prepare_data``); the
        stored ``gt_label`` (used by :meth:`get_gt_labels`) is
        ``argmax(p)``, and ``p`` is kept as ``label_distribution`` (not
        packed).
      - ``'crossentropy'``: ``gt_score`` = ``p`` (float32, length 8, sums
        to 1), which ``PackInputs`` puts in ``DataSample.gt_score`` and
        ``CrossEntropyLoss(use_soft=True)`` trains on; ``gt_label`` =
        ``argmax(p)`` (first on ties) for metrics.
    - ``'multi_target'``: every column with ``>= 30%`` of ``total`` is a
      target; the row is dropped when the targets hold ``<= 50%`` of
      ``total`` or unknown / NF is the largest target. ``gt_score`` = the
      multi-hot over the target emotions, normalised to sum to 1 (uniform
      over the targets), ``gt_label`` = the target with most votes. Train
      it with ``CrossEntropyLoss(use_soft=True)`` (soft CE against the
      normalised multi-hot). The paper's own multi-target loss,
      ``-log(max_k t_k * softmax(z)_k)`` (only the most probable target is
      rewarded) is not in mmpretrain.

    Whatever ``label_mode`` says, ``test_mode=True`` uses ``'majority'``
    (the paper evaluates on majority labels only), so validation and test
    sets built with ``test_mode=True`` are comparable across modes.

    How many rows each rule dropped is logged per split; nothing is dropped
    silently.

    **Counts** (verified on the real ``label.csv`` files, 28,558 / 3,579 /
    3,573 rows, train / val / test):

    ============================== ====== ===== =====
    rule                           train  val   test
    ============================== ====== ===== =====
    majority (official, default)   25,045 3,191 3,137
    probability / crossentropy     27,947 3,508 3,507
    multi_target                   27,667 3,472 3,466
    plain argmax of the raw votes  28,385 3,555 3,545
    ============================== ====== ===== =====

    ``test_mode=True`` gives the majority counts in every mode. The
    plain-argmax row (argmax of the 10 raw counts, first on ties, kept when
    it is an emotion; the same with votes <= 1 removed first) is for
    comparison with papers only and is not implemented as a mode. The
    28,389 / 3,553 / 3,546 sometimes quoted for "argmax" come from the
    newer ``fer2013new.csv`` label version, not from these files.

    Every listed image must exist (unless ``check_images=False``);
    malformed rows (wrong column count, empty name, non-integer or negative
    votes) raise :class:`FERAnnotationError` naming ``label.csv:<line>``.
    Each data info carries ``img_path``, ``gt_label``, ``votes`` (the 10
    raw counts) and ``ann_source`` (``'<label.csv>:<line>'``), plus
    ``gt_score`` / ``label_distribution`` as above.

    Args:
        data_root (str): The folder holding ``FER2013Train/``,
            ``FER2013Valid/`` and ``FER2013Test/``.
        split (str): ``'train'``, ``'val'`` or ``'test'``. Defaults to
            ``'train'``.
        label_mode (str): ``'majority'``, ``'probability'``,
            ``'crossentropy'`` or ``'multi_target'``. Ignored (majority)
            with ``test_mode=True``. Defaults to ``'majority'``.
        check_images (bool): Check that every kept image exists. Set it to
            False only to inspect labels without images. Defaults to True.
        **kwargs: Other arguments of :class:`BaseFERDataset` (``pipeline``,
            ``test_mode``, ``indices``, ...).

    Examples:
        >>> pipeline = [dict(type='LoadFERImage'), dict(type='PackInputs')]
        >>> # evaluation: always majority
        >>> val = dict(type='FERPlus', data_root='data/FERPlus',
        ...            split='test', test_mode=True, pipeline=pipeline)
        >>> # majority training, plain CE
        >>> train = dict(type='FERPlus', data_root='data/FERPlus',
        ...              split='train', label_mode='majority',
        ...              pipeline=pipeline)
        >>> head = dict(loss=dict(type='CrossEntropyLoss'))
        >>> # probability: a label re-drawn from the votes at every fetch
        >>> train = dict(type='FERPlus', data_root='data/FERPlus',
        ...              split='train', label_mode='probability',
        ...              pipeline=pipeline)
        >>> head = dict(loss=dict(type='CrossEntropyLoss'))
        >>> # crossentropy: soft targets in DataSample.gt_score
        >>> train = dict(type='FERPlus', data_root='data/FERPlus',
        ...              split='train', label_mode='crossentropy',
        ...              pipeline=pipeline)
        >>> head = dict(loss=dict(type='CrossEntropyLoss', use_soft=True))
        >>> # multi_target: normalised multi-hot in gt_score
        >>> train = dict(type='FERPlus', data_root='data/FERPlus',
        ...              split='train', label_mode='multi_target',
        ...              pipeline=pipeline)
        >>> head = dict(loss=dict(type='CrossEntropyLoss', use_soft=True))
    """

    METAINFO = {'classes': FERPLUS_CATEGORIES}
    SPLITS = ('train', 'val', 'test')

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 label_mode: str = 'majority',
                 check_images: bool = True,
                 **kwargs):
        check_choice('FERPlus', 'label_mode', label_mode,
                     FERPLUS_LABEL_MODES)
        check_choice('FERPlus', 'split', split, FERPLUS_SPLIT_FOLDERS)
        self.label_mode = label_mode
        self.check_images = check_images
        folder = FERPLUS_SPLIT_FOLDERS[split]
        self.split_folder = folder
        kwargs.setdefault('ann_file', osp.join(folder, 'label.csv'))
        kwargs.setdefault('data_prefix', folder)
        super().__init__(data_root=data_root, split=split, **kwargs)

    @property
    def effective_label_mode(self) -> str:
        """The mode in use: ``'majority'`` in test mode, else
        ``label_mode``."""
        return 'majority' if self.test_mode else self.label_mode

    def load_data_list(self) -> List[dict]:
        """Parse ``label.csv`` of the split, apply the label rules, check
        the images."""
        rel = osp.join(self.split_folder, 'label.csv')
        expected = ('<data_root>/FER2013{Train,Valid,Test}/label.csv as '
                    'written by the official FERPlus generator')
        hint = ('set data_root to the folder holding FER2013Train/, '
                'FER2013Valid/ and FER2013Test/')
        require_file(self.ann_file, 'FERPlus label file', expected, hint,
                     data_root=self.data_root, expected_rel=rel)
        if self.check_images:
            require_dir(self.img_prefix, 'FERPlus image folder',
                        f'<data_root>/{self.split_folder}/<image name>',
                        hint, data_root=self.data_root,
                        expected_rel=self.split_folder)

        mode = self.effective_label_mode
        dropped = {}
        num_rows = 0
        data_list = []
        with open_label_file(self.ann_file, newline='') as f:
            for lineno, row in enumerate(csv.reader(f), start=1):
                if not row or all(not c.strip() for c in row):
                    continue
                source = ann_source(self.ann_file, lineno)
                votes = self._parse_row(row, source)
                num_rows += 1
                target, reason = ferplus_target(votes, mode)
                if target is None:
                    dropped[reason] = dropped.get(reason, 0) + 1
                    continue
                info = dict(
                    img_path=osp.join(self.img_prefix, row[0].strip()),
                    gt_label=int(np.argmax(target)),
                    votes=np.asarray(votes, dtype=np.int64),
                    ann_source=source)
                if mode == 'crossentropy':
                    info['gt_score'] = target
                elif mode == 'multi_target':
                    # gt_label (above) is the target with most votes; the
                    # soft target is the normalised multi-hot.
                    hot = (target > 0).astype(np.float32)
                    info['gt_score'] = hot / hot.sum()
                elif mode == 'probability':
                    info['label_distribution'] = target
                data_list.append(info)

        drops = ', '.join(f'{n} ({r})' for r, n in sorted(dropped.items()))
        MMLogger.get_current_instance().info(
            f'FERPlus {self.split} ({mode} labels): {num_rows} rows in '
            f'{self.ann_file}, kept {len(data_list)}, dropped '
            f'{num_rows - len(data_list)}' + (f': {drops}' if drops else ''))
        if not data_list:
            if num_rows:
                empty_hint = ('the log line above gives the reasons; check '
                              'that the 10 vote columns are in the official '
                              'order')
            else:
                empty_hint = ('an empty label.csv means an interrupted '
                              'generator run: re-run it')
            raise self._empty_split_error(
                self.ann_file, f'{num_rows} rows, none kept by the '
                f'{mode} rule', empty_hint)
        if self.check_images:
            check_images_exist(
                data_list,
                hint=f'Images are looked up as <data_root>/'
                f'{self.split_folder}/<image name>; {hint}.')
        return data_list

    @staticmethod
    def _parse_row(row: List[str], source: str) -> List[int]:
        if len(row) != _NUM_COLUMNS:
            raise annotation_error(
                source, f'expected {_NUM_COLUMNS} columns (image name, '
                f'face box, {len(FERPLUS_VOTE_COLUMNS)} votes), got '
                f'{len(row)}: {",".join(row)!r}', _ROW_HINT)
        if not row[0].strip():
            raise annotation_error(source, 'empty image name', _ROW_HINT)
        votes = []
        for col, value in zip(FERPLUS_VOTE_COLUMNS, row[2:]):
            try:
                vote = int(value.strip())
            except ValueError:
                raise annotation_error(
                    source, f'{col} vote {value!r} of {row[0]} is not an '
                    'integer', _ROW_HINT) from None
            if vote < 0:
                # a vote count is a number of annotators: never negative
                raise annotation_error(
                    source, f'{col} vote {vote} of {row[0]} is negative',
                    _ROW_HINT)
            votes.append(vote)
        return votes

    def sample_label(self, data_info: dict) -> int:
        """Draw a label from ``data_info['label_distribution']`` with
        :mod:`numpy.random` (``'probability'`` mode)."""
        dist = np.asarray(data_info['label_distribution'], dtype=np.float64)
        return int(np.random.choice(len(dist), p=dist / dist.sum()))

    def prepare_data(self, idx: int):
        """Run the pipeline on sample ``idx``; in ``'probability'`` mode
        first draw its ``gt_label`` from the vote distribution."""
        if self.effective_label_mode != 'probability':
            return super().prepare_data(idx)
        data_info = self.get_data_info(idx)
        data_info['gt_label'] = self.sample_label(data_info)
        return self._run_pipeline(idx, data_info)

    def extra_repr(self) -> List[str]:
        """The extra repr information of the dataset."""
        mode = self.effective_label_mode
        if mode != self.label_mode:
            mode += f' (test_mode; label_mode={self.label_mode!r})'
        return super().extra_repr() + [
            f'Label file: \t{self.ann_file}',
            f'Label mode: \t{mode}',
        ]
