"""FER2013 (ICML 2013 representation learning challenge), both layouts."""
import csv
import os
import os.path as osp
import re
import warnings
from typing import List, Optional, Tuple

import numpy as np
from mmengine.logging import MMLogger

from ferpretrain.registry import DATASETS
from .base_fer import (BaseFERDataset, _suggest_subfolder, ann_source,
                       annotation_error, check_broken_link, int_in_range,
                       is_os_junk, open_label_file, require_dir)
from .categories import FER2013_CATEGORIES

_IMG_SIZE = 48
_NUM_PIXELS = _IMG_SIZE * _IMG_SIZE
_USAGE_TO_SPLIT = {
    'Training': 'train',
    'PublicTest': 'val',
    'PrivateTest': 'test',
}
_SPLIT_TO_USAGE = {v: k for k, v in _USAGE_TO_SPLIT.items()}
# Known csv names: Kaggle's challenge file and the one of the later
# "icml_face_data" upload (same rows, header 'emotion, Usage, pixels').
_CSV_NAMES = ('fer2013.csv', 'icml_face_data.csv')
# Folder layout class names -> FER2013_CATEGORIES index. Mapped by name, so
# the index never depends on how the folders sort ('neutral' sorts before
# 'sad' and 'surprise', but is code 6).
_FOLDER_CLASSES = {
    'angry': 0,
    'disgust': 1,
    'fear': 2,
    'happy': 3,
    'sad': 4,
    'surprise': 5,
    'neutral': 6,
}
_FOLDER_SPLITS = ('train', 'test')
_FOLDER_FILE = re.compile(
    r'^(Training|PublicTest|PrivateTest)_(\d+)\.(?i:jpe?g|png|bmp)$')
_PIXELS_HINT = (f'pixels must be {_NUM_PIXELS} space-separated integers '
                f'0..255 ({_IMG_SIZE}x{_IMG_SIZE}, row-major); a damaged '
                'row means a damaged file: re-download the csv')
_LAYOUT_HELP = (
    "FER2013 is read from either 'fer2013.csv' (columns emotion,pixels,"
    "Usage; also 'icml_face_data.csv') or the folder layout "
    '<data_root>/train/<class>/Training_<n>.jpg and <data_root>/test/'
    '<class>/{PublicTest,PrivateTest}_<n>.jpg with class folders '
    f"{' '.join(sorted(_FOLDER_CLASSES))}")


@DATASETS.register_module()
class FER2013(BaseFERDataset):
    """FER2013: 7 expressions, 48x48 grayscale faces, 28,709 / 3,589 / 3,589.

    `FER2013 <https://www.kaggle.com/c/challenges-in-representation-learning-facial-expression-recognition-challenge>`_
    (Goodfellow et al., ICONIP 2013). Labels 0..6 = ``('Angry', 'Disgust',
    'Fear', 'Happy', 'Sad', 'Surprise', 'Neutral')``
    (:data:`FER2013_CATEGORIES`, the csv ``emotion`` codes).

    Splits: ``'train'`` = Usage ``Training`` (28,709), ``'val'`` =
    ``PublicTest`` (3,589), ``'test'`` = ``PrivateTest`` (3,589).

    Two layouts are read as distributed, detected from ``data_root``:

    1. The challenge csv (``data_root`` is the csv, or a folder holding
       ``fer2013.csv`` or ``icml_face_data.csv``)::

           fer2013
           └── fer2013.csv     emotion,pixels,Usage
                               0,70 80 82 ... (2304 values),Training

       ``pixels`` are 48x48 grayscale values, row-major. Rows are decoded at
       load time into ``img``, a uint8 ``(48, 48, 3)`` BGR array (the gray
       channel replicated), so data infos have ``img_path=None`` and
       ``ann_source='<csv>:<line>'``. The decoded training split holds about
       200 MB. The ``icml_face_data.csv`` header ``emotion, Usage, pixels``
       (other order, spaces) is accepted: columns are found by name.

    2. The widely shared folder copy::

           fer2013
           ├── train
           │   ├── angry
           │   │   └── Training_<n>.jpg
           │   ├── disgust  fear  happy  neutral  sad  surprise
           └── test
               ├── angry
               │   ├── PublicTest_<n>.jpg
               │   └── PrivateTest_<n>.jpg     (absent from many copies)
               └── ...

       The split is the file-name prefix (both ``train/`` and ``test/`` are
       searched); class folders map to labels by name (case-insensitive),
       never by sorted order. Samples are sorted by ``<n>``. Data infos
       carry ``img_path``, ``gt_label`` and ``ann_source`` (the image
       path). A file name is not a unique id: the shared copy has two
       names used by two different images in two class folders, both
       counted in the official totals and both kept. Hidden files and
       ``Thumbs.db`` / ``desktop.ini`` are ignored; any other unexpected
       entry is an error.

    If a folder holds both the csv and ``train/``/``test/``, the csv is
    used (it has all three splits and lossless pixels); pass ``layout`` to
    choose. Bad csv rows (wrong field or pixel count, non-integer values,
    ``emotion`` outside 0..6, unknown ``Usage``), unknown class folders,
    unexpected file names, broken symbolic links and an empty split raise
    errors naming the file (and line).

    Args:
        data_root (str): The folder holding the csv or ``train``/``test``,
            or the csv file itself.
        split (str): ``'train'``, ``'val'`` or ``'test'``. Defaults to
            ``'train'``.
        layout (str, optional): ``'csv'`` or ``'folder'``; None detects it.
            Defaults to None.
        ann_file (str): For the csv layout, the csv relative to
            ``data_root`` or absolute; implies ``layout='csv'``. Defaults to
            ``''`` (look for ``fer2013.csv`` / ``icml_face_data.csv``).
        **kwargs: Other arguments of :class:`BaseFERDataset` (``pipeline``,
            ``test_mode``, ``indices``, ...).

    Examples:
        >>> from ferpretrain.datasets import FER2013
        >>> FER2013('data/fer2013', split='val', test_mode=True)
        Dataset FER2013
            Number of samples:  3589
            Number of categories:       7
            Root of dataset:    data/fer2013
            Split:      val (PublicTest)
            Layout:     csv (data/fer2013/fer2013.csv)
        >>> # in a config; LoadFERImage uses the decoded array or reads the
        >>> # file, whichever the layout gives
        >>> dataset = dict(type='FER2013', data_root='data/fer2013',
        ...                split='train',
        ...                pipeline=[dict(type='LoadFERImage'),
        ...                          dict(type='PackInputs')])
    """  # noqa: E501

    METAINFO = {'classes': FER2013_CATEGORIES}
    SPLITS = ('train', 'val', 'test')
    LAYOUTS = ('csv', 'folder')

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 layout: Optional[str] = None,
                 ann_file: str = '',
                 **kwargs):
        if layout not in (None, ) + self.LAYOUTS:
            raise ValueError(f'FER2013: layout must be one of '
                             f'{self.LAYOUTS} or None (detect), got '
                             f'{layout!r}.')
        if ann_file and layout == 'folder':
            raise ValueError("FER2013: ann_file names a csv, it cannot be "
                             "used with layout='folder'.")
        self.layout = layout
        super().__init__(
            data_root=data_root, split=split, ann_file=ann_file, **kwargs)

    # ------------------------------------------------------------------
    # layout detection
    # ------------------------------------------------------------------
    def _find_csv(self) -> Optional[str]:
        if self.ann_file:
            return self.ann_file
        if osp.isfile(self.data_root):
            return self.data_root
        for name in _CSV_NAMES:
            path = osp.join(self.data_root, name)
            if osp.isfile(path):
                return path
        return None

    def _has_folders(self) -> bool:
        return osp.isdir(self.data_root) and any(
            osp.isdir(osp.join(self.data_root, d)) for d in _FOLDER_SPLITS)

    def _resolve_layout(self) -> Tuple[str, Optional[str]]:
        """Return ``(layout, csv path or None)`` or raise a clear error."""
        if not self.ann_file and not osp.exists(self.data_root):
            raise FileNotFoundError(
                f'FER2013 data_root not found: {self.data_root}. ' +
                _LAYOUT_HELP + '; set data_root to the folder holding the '
                'csv (or to the csv itself) or train/ and test/.')
        csv_path = self._find_csv() if self.layout != 'folder' else None
        if self.layout == 'csv' or (self.layout is None and csv_path):
            if csv_path is None or not osp.isfile(csv_path):
                where = csv_path or (f"{' or '.join(_CSV_NAMES)} in "
                                     f'{self.data_root}')
                raise FileNotFoundError(
                    f'FER2013 csv not found: {where}. ' + _LAYOUT_HELP +
                    '; set data_root to the folder holding the csv or to '
                    'the csv itself.' +
                    _suggest_subfolder(self.data_root, _CSV_NAMES[0]))
            if self.layout is None and self._has_folders():
                MMLogger.get_current_instance().info(
                    f'FER2013: {self.data_root} holds both {csv_path} and '
                    "train/test folders; reading the csv (pass layout="
                    "'folder' for the folders).")
            return 'csv', csv_path
        if self._has_folders():
            return 'folder', None
        if self.layout == 'folder':
            require_dir(
                self.data_root, 'FER2013 data_root',
                '<data_root>/train/<class>/... and <data_root>/'
                'test/<class>/...', 'set data_root to the folder '
                'holding train/ and test/')
        hint = ''
        names = set()
        if osp.isdir(self.data_root):
            names = {n.lower() for n in os.listdir(self.data_root)}
        if names & set(_FOLDER_CLASSES):
            hint = (' data_root holds class folders: set it to the folder '
                    'above, the one holding train/ and test/.')
        raise FileNotFoundError(
            f'FER2013 data not found under {self.data_root}. ' + _LAYOUT_HELP +
            '.' + hint + (_suggest_subfolder(self.data_root, _CSV_NAMES[0])
                          or _suggest_subfolder(self.data_root, 'train')))

    def load_data_list(self) -> List[dict]:
        """Detect the layout and read ``self.split`` from it."""
        self.layout, csv_path = self._resolve_layout()
        if self.layout == 'csv':
            self.ann_file = csv_path
            return self._load_csv(csv_path)
        return self._load_folders()

    # ------------------------------------------------------------------
    # csv layout
    # ------------------------------------------------------------------
    def _load_csv(self, path: str) -> List[dict]:
        usage_wanted = _SPLIT_TO_USAGE[self.split]
        data_list = []
        with open_label_file(path, newline='') as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise annotation_error(ann_source(path, 1), 'empty csv file')
            columns = [h.strip().lower() for h in header]
            col = {}
            for name in ('emotion', 'pixels', 'usage'):
                if name not in columns:
                    raise annotation_error(
                        ann_source(path, 1),
                        f'header {header} has no column {name!r}',
                        'expected emotion,pixels,Usage')
                col[name] = columns.index(name)
            # np.fromstring warns (DeprecationWarning) and returns a
            # truncated array at the first non-integer token; turn that
            # into an exception so that no bad row slips through.
            with warnings.catch_warnings():
                warnings.simplefilter('error', DeprecationWarning)
                for row in reader:
                    if not row:
                        continue  # blank line
                    source = ann_source(path, reader.line_num)
                    info = self._parse_csv_row(row, len(columns), col, source,
                                               usage_wanted)
                    if info is not None:
                        data_list.append(info)
        if not data_list:
            raise self._empty_split_error(
                path, f'no row with Usage {usage_wanted!r}',
                'the official csv has Training, PublicTest and PrivateTest '
                'rows (28,709 / 3,589 / 3,589): this one is incomplete or '
                'another file')
        return data_list

    def _parse_csv_row(self, row: List[str], num_columns: int, col: dict,
                       source: str, usage_wanted: str) -> Optional[dict]:
        if len(row) != num_columns:
            raise annotation_error(
                source, f'expected {num_columns} fields '
                f'(emotion, pixels, Usage), got {len(row)}',
                'fields are separated by commas, pixels by spaces; a short '
                'last row means the file was cut short: re-download it')
        usage = row[col['usage']].strip()
        if usage not in _USAGE_TO_SPLIT:
            raise annotation_error(
                source, f'unknown Usage {usage!r}',
                f'expected one of {tuple(_USAGE_TO_SPLIT)}')
        emotion = row[col['emotion']].strip()
        label = int_in_range(emotion, 0, len(FER2013_CATEGORIES) - 1)
        if label is None:
            raise annotation_error(
                source, f'emotion {emotion!r} is not an integer in 0..6',
                f'codes 0..6 = {", ".join(FER2013_CATEGORIES)}')
        if usage != usage_wanted:
            return None  # other splits' pixels are decoded when they load
        gray = self._decode_pixels(row[col['pixels']], source)
        img = np.repeat(gray[:, :, None], 3, axis=2)
        return dict(
            img=img,
            img_path=None,
            img_shape=img.shape[:2],
            ori_shape=img.shape[:2],
            gt_label=label,
            ann_source=source)

    @staticmethod
    def _decode_pixels(text: str, source: str) -> np.ndarray:
        """Parse 2304 space-separated ints in 0..255 into (48, 48) uint8."""
        if not text.strip():
            # np.fromstring would read a blank field as one 0
            raise annotation_error(source, 'pixels field is empty',
                                   _PIXELS_HINT)
        try:
            values = np.fromstring(text, dtype=np.int64, sep=' ')
        except (ValueError, DeprecationWarning):
            tokens = text.split()
            bad = [t for t in tokens if not t.lstrip('+-').isdigit()]
            raise annotation_error(
                source, 'pixels hold a non-integer value '
                f"{bad[0] if bad else text[:20]!r}", _PIXELS_HINT) from None
        if values.size != _NUM_PIXELS:
            raise annotation_error(
                source, f'pixels hold {values.size} values, expected '
                f'{_NUM_PIXELS} ({_IMG_SIZE}x{_IMG_SIZE})', _PIXELS_HINT)
        if values.min() < 0 or values.max() > 255:
            raise annotation_error(
                source, f'pixel values must lie in 0..255, got '
                f'{values.min()}..{values.max()}', _PIXELS_HINT)
        return values.astype(np.uint8).reshape(_IMG_SIZE, _IMG_SIZE)

    # ------------------------------------------------------------------
    # folder layout
    # ------------------------------------------------------------------
    def _load_folders(self) -> List[dict]:
        usage_wanted = _SPLIT_TO_USAGE[self.split]
        # File names are not unique ids: the shared copy holds two pairs of
        # different images with the same name in two class folders (e.g.
        # Training_8475486.jpg), counted in the official per-class totals,
        # so both are kept; the full path makes the sort order total.
        samples = []
        for top in _FOLDER_SPLITS:
            top_dir = osp.join(self.data_root, top)
            if not osp.isdir(top_dir):
                continue
            # one scandir pass a folder: 28k files load in well under 1 s
            for cls_entry in os.scandir(top_dir):
                if is_os_junk(cls_entry.name):
                    continue
                if not cls_entry.is_dir():
                    raise annotation_error(
                        cls_entry.path, 'unexpected file',
                        f'images belong in {top_dir}/<class>/')
                label = _FOLDER_CLASSES.get(cls_entry.name.lower())
                if label is None:
                    raise annotation_error(
                        cls_entry.path, f'unknown class folder '
                        f'{cls_entry.name!r}',
                        f"expected {' '.join(sorted(_FOLDER_CLASSES))}")
                for entry in os.scandir(cls_entry.path):
                    name = entry.name
                    if is_os_junk(name):
                        continue
                    check_broken_link(entry)
                    match = _FOLDER_FILE.match(name)
                    if match is None or not entry.is_file():
                        raise annotation_error(
                            entry.path, 'unexpected entry',
                            'expected files named Training_<n>.jpg, '
                            'PublicTest_<n>.jpg or PrivateTest_<n>.jpg')
                    if match.group(1) != usage_wanted:
                        continue
                    samples.append(
                        (int(match.group(2)), name, entry.path, label))
        if not samples:
            if usage_wanted == 'PrivateTest':
                hint = ('many shared folder copies hold no PrivateTest_<n> '
                        "images: use split='val' (PublicTest), or "
                        "fer2013.csv for split='test'")
            else:
                hint = (f'the images of split {self.split!r} are named '
                        f'{usage_wanted}_<n>.jpg; check that data_root '
                        'holds the complete copy')
            raise self._empty_split_error(
                f'{self.data_root}/{{train,test}}/<class>/',
                f'no {usage_wanted}_<n> image', hint)
        samples.sort()  # by <n> (then name): independent of scandir order
        return [
            dict(img_path=path, gt_label=label, ann_source=path)
            for _, _, path, label in samples
        ]

    def extra_repr(self) -> List[str]:
        """The extra repr information of the dataset."""
        body = [
            f'Root of dataset: \t{self.data_root}',
            f'Split: \t{self.split} ({_SPLIT_TO_USAGE[self.split]})',
        ]
        if self.layout == 'csv':
            body.append(f'Layout: \tcsv ({self.ann_file})')
        elif self.layout == 'folder':
            body.append('Layout: \tfolder (train/<class>, test/<class>)')
        else:
            body.append('Layout: \tnot detected yet')
        return body
