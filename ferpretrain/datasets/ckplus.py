"""CK+ (Extended Cohn-Kanade): official sequences and the CK+48 copy."""
import math
import os
import os.path as osp
import re
from typing import List, Optional

from ferpretrain.registry import DATASETS
from .base_fer import (BaseFERDataset, annotation_error, check_broken_link,
                       is_os_junk, open_label_file, require_dir)
from .categories import CKPLUS_CATEGORIES
from .subject_split import subject_kfold

_NEUTRAL = 'neutral'
_IMG_EXTS = ('.png', '.jpg', '.jpeg', '.bmp')
_SUBJECT = re.compile(r'^S\d+$')
_SEQUENCE = re.compile(r'^\d+$')
# CK+48 and official frame names: S010_004_00000017.png
_FRAME = re.compile(r'^(S\d+)_(\d+)_(\d+)\.(?i:png|jpe?g|bmp)$')
# An emotion file is named after the frame it labels (the peak):
# S005_001_00000011_emotion.txt labels S005_001_00000011.png.
_EMOTION_FILE = re.compile(r'^(S\d+_\d+_\d+)_emotion\.txt$')
_CODE_HINT = ('an emotion file holds one code 1..7 = ' +
              ', '.join(CKPLUS_CATEGORIES) + '; re-extract it from the '
              'Emotion_labels archive')
# The two layouts, as require_dir's ``expected`` ("Expected <this>").
_LAYOUTS = (
    'the official download (<data_root>/cohn-kanade-images/S005/001/'
    'S005_001_00000001.png and <data_root>/Emotion/S005/001/'
    'S005_001_00000011_emotion.txt) or the CK+48 copy (<data_root>/<class>/'
    f"S010_004_00000017.png, classes {' '.join(CKPLUS_CATEGORIES)})")
_LAYOUT_HELP = 'CK+ is read from ' + _LAYOUTS


def _sorted_dirs(path: str) -> List[os.DirEntry]:
    return sorted((e for e in os.scandir(path) if not is_os_junk(e.name)),
                  key=lambda e: e.name)


@DATASETS.register_module()
class CKPlus(BaseFERDataset):
    """CK+: 7 expressions (+ optional neutral), 123 subjects, lab posed.

    `CK+ <https://www.jeffcohn.net/Resources/>`_ (Lucey et al., CVPR
    Workshops 2010): 593 sequences from neutral onset to peak, 327 of them
    with an emotion label. Two layouts are read, detected from
    ``data_root`` or chosen with ``layout``:

    1. ``layout='sequences'``, the official download::

           CK+                                   <- data_root
           ├── cohn-kanade-images
           │   └── S005
           │       └── 001
           │           ├── S005_001_00000001.png   first frame (neutral)
           │           ├── ...
           │           └── S005_001_00000011.png   peak
           ├── Emotion
           │   └── S005
           │       └── 001
           │           └── S005_001_00000011_emotion.txt  "   3.0000000e+00"
           └── Landmarks                             (unused)

       Only sequences with an emotion file are used (the others are
       unlabelled). Protocol: the last ``num_last_frames`` frames (by file
       name) of each labelled sequence get its label (3 gives the usual 981
       images); with ``with_neutral=True`` the first frame of each labelled
       sequence is added as ``'neutral'``.

    2. ``layout='ck48'``, the widely shared 48x48 copy (last 3 frames, no
       neutral)::

           CK+48                                 <- data_root
           ├── anger
           │   └── S010_004_00000017.png
           └── contempt disgust fear happy sadness surprise

       Class folders map to labels by name (case-insensitive), never by
       sorting. ``num_last_frames`` does not apply; ``with_neutral=True``
       is an error.

    Classes (``METAINFO``): the CK+ code order without neutral, ``('anger',
    'contempt', 'disgust', 'fear', 'happy', 'sadness', 'surprise')`` = codes
    1..7 -> indices 0..6. With ``with_neutral=True`` the dataset's metainfo
    gets ``'neutral'`` appended as index 7 (8 classes); set the model's
    ``num_classes`` to match.

    Subject-independent k-fold: with ``num_folds`` set, the subjects
    (``S###``) are split into folds by
    :func:`ferpretrain.datasets.subject_split.subject_kfold` (sorted,
    shuffled with ``seed``, dealt round-robin), fold ``fold`` is the
    ``'test'`` split and the others the ``'train'`` split, so the frames of
    one subject never straddle train and test. ``num_folds=None`` gives all
    samples (``split`` is then ignored). ``test_mode=True`` with
    ``split='train'`` logs that the training data will be used only when
    ``num_folds`` is set, the one case where that is so. Cross-validation =
    one training run a fold, e.g. ``--cfg-options
    train_dataloader.dataset.fold=3 val_dataloader.dataset.fold=3`` for
    ``fold`` in ``0..9``. Do not use
    mmpretrain's ``tools/kfold-cross-valid.py`` / ``KFoldDataset`` on CK+:
    they split by sample, putting frames of the same sequence and subject in
    both train and test. (It is fine to wrap a dataset built with
    ``num_folds=None`` for other purposes, but its accuracy is not
    subject-independent.)

    Errors name the file: an emotion file that is not one number, or whose
    code is not an integer in 1..7, or whose frame (the peak it is named
    after, ``S005_001_00000011_emotion.txt`` -> ``S005_001_00000011.png``)
    is missing; a labelled sequence with fewer frames than needed
    (``num_last_frames``, + 1 with ``with_neutral``) or without its image
    folder; a broken symbolic link among the frames; unknown class folders,
    unexpected files, broken links or names not like
    ``S010_004_00000017.png`` in CK+48.

    Each data info carries ``img_path``, ``gt_label``, ``subject``
    (``'S005'``), ``sequence`` (``'S005_001'``) and ``ann_source`` (the
    emotion file, or the image path in CK+48; for the neutral frame the
    emotion file of its sequence).

    Args:
        data_root (str): The folder holding ``cohn-kanade-images/`` and
            ``Emotion/``, or the CK+48 folder holding the class folders.
        split (str): ``'train'`` or ``'test'`` (used with ``num_folds``).
            Defaults to ``'train'``.
        layout (str, optional): ``'sequences'`` or ``'ck48'``; None
            detects it. Defaults to None.
        num_last_frames (int): Peak frames taken per labelled sequence
            (sequences layout). Defaults to 3.
        with_neutral (bool): Add the first frame of each labelled sequence
            as ``'neutral'`` (sequences layout). Defaults to False.
        num_folds (int, optional): Number of subject folds; None uses all
            samples. Defaults to None.
        fold (int): The test fold, ``0..num_folds-1``. Defaults to 0.
        seed (int): Seed of the subject-to-fold assignment. Defaults to 0.
        **kwargs: Other arguments of :class:`BaseFERDataset` (``pipeline``,
            ``test_mode``, ``metainfo``, ...).

    Examples:
        >>> from ferpretrain.datasets.ckplus import CKPlus
        >>> CKPlus('data/CK+48')                       # all 981 images
        >>> # fold 3 of subject-independent 10-fold CV, official layout
        >>> dataset = dict(type='CKPlus', data_root='data/CK+',
        ...                num_folds=10, fold=3, split='test',
        ...                test_mode=True,
        ...                pipeline=[dict(type='LoadFERImage'),
        ...                          dict(type='PackInputs')])
    """

    METAINFO = {'classes': CKPLUS_CATEGORIES}
    SPLITS = ('train', 'test')
    LAYOUTS = ('sequences', 'ck48')

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 layout: Optional[str] = None,
                 num_last_frames: int = 3,
                 with_neutral: bool = False,
                 num_folds: Optional[int] = None,
                 fold: int = 0,
                 seed: int = 0,
                 metainfo: Optional[dict] = None,
                 **kwargs):
        if layout not in (None, ) + self.LAYOUTS:
            raise ValueError(f'CKPlus: layout must be one of {self.LAYOUTS} '
                             f'or None (detect), got {layout!r}.')
        if isinstance(num_last_frames, bool) or not isinstance(
                num_last_frames, int) or num_last_frames < 1:
            raise ValueError('CKPlus: num_last_frames must be a positive '
                             f'int, got {num_last_frames!r}.')
        if num_folds is not None and (isinstance(num_folds, bool)
                                      or not isinstance(num_folds, int)
                                      or num_folds < 2):
            raise ValueError('CKPlus: num_folds must be None or an int >= '
                             f'2, got {num_folds!r}.')
        if num_folds is not None and not (isinstance(fold, int)
                                          and 0 <= fold < num_folds):
            raise ValueError(f'CKPlus: fold must be an int in '
                             f'0..{num_folds - 1}, got {fold!r}.')
        self.layout = layout
        self.num_last_frames = num_last_frames
        self.with_neutral = bool(with_neutral)
        self.num_folds = num_folds
        self.fold = fold
        self.seed = seed
        if self.with_neutral:
            metainfo = dict(metainfo or {})
            metainfo.setdefault('classes', CKPLUS_CATEGORIES + (_NEUTRAL, ))
        super().__init__(
            data_root=data_root,
            split=split,
            ann_file='',
            metainfo=metainfo,
            **kwargs)

    def _split_is_training_data(self, split: str) -> bool:
        """Only with ``num_folds`` set is ``'train'`` the training part;
        without folds ``split`` is ignored and all samples are used, so
        ``test_mode=True`` with the default ``split='train'`` (the usual
        way to evaluate on all of CK+) is not "training data"."""
        return self.num_folds is not None and \
            super()._split_is_training_data(split)

    # ------------------------------------------------------------------
    def _resolve_layout(self) -> str:
        root = self.data_root
        if self.layout is not None:
            return self.layout
        if osp.isdir(osp.join(root, 'cohn-kanade-images')) or osp.isdir(
                osp.join(root, 'Emotion')):
            return 'sequences'
        if osp.isdir(root) and any(
                e.is_dir() and e.name.lower() in CKPLUS_CATEGORIES
                for e in os.scandir(root)):
            return 'ck48'
        require_dir(root, 'CK+ data_root', _LAYOUTS,
                    'set data_root to one of these folders')
        raise FileNotFoundError(f'CK+ data not found under {root}. ' +
                                _LAYOUT_HELP + '.')

    def load_data_list(self) -> List[dict]:
        """Detect the layout, read it, keep the fold of ``self.split``."""
        self.layout = self._resolve_layout()
        if self.layout == 'sequences':
            data_list = self._load_sequences()
        else:
            if self.with_neutral:
                raise ValueError(
                    'CKPlus: with_neutral=True needs the official sequences '
                    "layout; CK+48 holds no neutral frames.")
            data_list = self._load_ck48()
        if not data_list:
            if self.layout == 'sequences':
                hint = ('Emotion/ holds no *_emotion.txt: the CK+ labels '
                        'come as a separate archive (Emotion_labels); '
                        'extract it into <data_root>/Emotion')
            else:
                hint = ('the class folders hold no image: put the CK+48 '
                        'images into <data_root>/<class>/')
            raise ValueError(f'CKPlus: no labelled sample under '
                             f'{self.data_root} (layout {self.layout!r}); '
                             f'{hint}.')
        if self.num_folds is None:
            return data_list
        train_idx, test_idx = subject_kfold(
            [info['subject'] for info in data_list], self.num_folds,
            self.fold, self.seed)
        keep = test_idx if self.split == 'test' else train_idx
        return [data_list[i] for i in keep]

    def _load_sequences(self) -> List[dict]:
        root = self.data_root
        img_root = require_dir(
            osp.join(root, 'cohn-kanade-images'), 'CK+ image folder',
            '<data_root>/cohn-kanade-images/S###/###/*.png',
            'set data_root to the folder holding cohn-kanade-images/ and '
            'Emotion/', root, 'cohn-kanade-images')
        emo_root = require_dir(
            osp.join(root, 'Emotion'), 'CK+ emotion label folder',
            '<data_root>/Emotion/S###/###/S###_###_########_emotion.txt',
            'set data_root to the folder holding cohn-kanade-images/ and '
            'Emotion/ (CK+ labels come as a separate archive)', root,
            'Emotion')
        needed = self.num_last_frames + int(self.with_neutral)
        neutral_label = len(CKPLUS_CATEGORIES)
        data_list = []
        for subj in _sorted_dirs(emo_root):
            if not subj.is_dir() or not _SUBJECT.match(subj.name):
                raise annotation_error(subj.path, 'unexpected entry',
                                       'expected subject folders S###')
            for seq in _sorted_dirs(subj.path):
                if not seq.is_dir() or not _SEQUENCE.match(seq.name):
                    raise annotation_error(
                        seq.path, 'unexpected entry',
                        'expected sequence folders ### (e.g. 001)')
                emo_files = [
                    e.path for e in _sorted_dirs(seq.path)
                    if e.name.endswith('_emotion.txt')
                ]
                if not emo_files:
                    continue  # an unlabelled sequence
                if len(emo_files) > 1:
                    raise annotation_error(
                        seq.path, f'{len(emo_files)} emotion files',
                        'a sequence has one label')
                emo_file = emo_files[0]
                code = self._read_code(emo_file)
                frame_dir = osp.join(img_root, subj.name, seq.name)
                if not osp.isdir(frame_dir):
                    raise annotation_error(
                        emo_file, f'its image folder {frame_dir} is '
                        'missing')
                frames = []
                for e in os.scandir(frame_dir):
                    if is_os_junk(e.name):
                        continue
                    # a dangling frame link must not silently shift the
                    # "last frames" to earlier ones
                    check_broken_link(e)
                    if e.is_file() and e.name.lower().endswith(_IMG_EXTS):
                        frames.append(e.path)
                frames.sort()
                self._check_peak_frame(emo_file, frame_dir, frames)
                if len(frames) < needed:
                    raise annotation_error(
                        frame_dir, f'{len(frames)} frames, need {needed} '
                        f'(num_last_frames={self.num_last_frames}'
                        f'{" + 1 neutral" if self.with_neutral else ""})',
                        f'labelled by {emo_file}')
                common = dict(
                    subject=subj.name,
                    sequence=f'{subj.name}_{seq.name}',
                    ann_source=emo_file)
                if self.with_neutral:
                    data_list.append(
                        dict(
                            img_path=frames[0],
                            gt_label=neutral_label,
                            **common))
                for path in frames[-self.num_last_frames:]:
                    data_list.append(
                        dict(img_path=path, gt_label=code - 1, **common))
        return data_list

    @staticmethod
    def _check_peak_frame(emo_file: str, frame_dir: str,
                          frames: List[str]) -> None:
        """Raise if the frame an emotion file is named after is missing: the
        last frames of the folder would then not be the labelled peak."""
        match = _EMOTION_FILE.match(osp.basename(emo_file))
        if match is None:
            return  # a renamed label file: nothing to check against
        peak = match.group(1)
        if not any(
                osp.splitext(osp.basename(f))[0] == peak for f in frames):
            raise annotation_error(
                emo_file, f'labels frame {peak}, which is missing from '
                f'{frame_dir}', 're-extract cohn-kanade-images (the frame '
                'was lost), or remove the emotion file to leave the '
                'sequence unlabelled')

    @staticmethod
    def _read_code(path: str) -> int:
        with open_label_file(path) as f:
            text = f.read()
        try:
            value = float(text.strip())
        except ValueError:
            raise annotation_error(
                path, f'expected one number (e.g. 3.0000000e+00), got '
                f'{text.strip()[:40]!r}', _CODE_HINT) from None
        if not math.isfinite(value) or not value.is_integer():
            raise annotation_error(path, f'code {value} is not an integer',
                                   _CODE_HINT)
        code = int(value)
        if not 1 <= code <= 7:
            raise annotation_error(
                path, f'emotion code {code} is outside 1..7',
                '0 (neutral) never labels a peak; ' + _CODE_HINT)
        return code

    def _load_ck48(self) -> List[dict]:
        root = require_dir(self.data_root, 'CK+48 data_root', _LAYOUTS,
                           'set data_root to the folder holding the class '
                           'folders')
        samples = []
        for cls in _sorted_dirs(root):
            if not cls.is_dir():
                raise annotation_error(cls.path, 'unexpected file',
                                       f'images belong in {root}/<class>/')
            name = cls.name.lower()
            if name not in CKPLUS_CATEGORIES:
                raise annotation_error(
                    cls.path, f'unknown class folder {cls.name!r}',
                    f"expected {' '.join(CKPLUS_CATEGORIES)}")
            label = CKPLUS_CATEGORIES.index(name)
            for entry in _sorted_dirs(cls.path):
                check_broken_link(entry)
                match = _FRAME.match(entry.name)
                if match is None or not entry.is_file():
                    raise annotation_error(
                        entry.path, 'unexpected entry',
                        'expected images named S###_###_########.png')
                subject, seq = match.group(1), match.group(2)
                samples.append(
                    dict(
                        img_path=entry.path,
                        gt_label=label,
                        subject=subject,
                        sequence=f'{subject}_{seq}',
                        ann_source=entry.path))
        samples.sort(key=lambda d: osp.basename(d['img_path']))
        return samples

    def extra_repr(self) -> List[str]:
        """The extra repr information of the dataset."""
        body = [
            f'Root of dataset: \t{self.data_root}',
            f'Layout: \t{self.layout}',
        ]
        if self.layout != 'ck48':
            body.append(f'Frames: \tlast {self.num_last_frames}' +
                        (' + first as neutral' if self.with_neutral else ''))
        if self.num_folds is None:
            body.append('Folds: \tnone (all samples)')
        else:
            body.append(f'Folds: \t{self.split} of fold {self.fold}/'
                        f'{self.num_folds} by subject (seed {self.seed})')
        return body
