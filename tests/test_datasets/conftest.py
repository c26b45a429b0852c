"""Builders of tiny synthetic FER datasets in their real on-disk layouts.

Every fixture writes real image files with cv2 under ``tmp_path``; nothing
here reads a real dataset.
"""
import logging
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.logging import MMLogger

from ferpretrain.datasets.categories import CKPLUS_CATEGORIES

RAFDB_LABEL_FILE = 'EmoLabel/list_patition_label.txt'


def _face(seed: int, size=(100, 100), channels=3) -> np.ndarray:
    """A smooth, seed-dependent image (JPEG-friendly, distinct per seed)."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = (xx * (1 + seed % 5) + yy * (1 + seed % 3) + 7 * seed) % 256
    img = base.astype(np.uint8)
    if channels == 1:
        return img
    return np.stack([img, img[::-1], img[:, ::-1]], axis=2)


def rafdb_entries(train_per_class=2, test_per_class=1):
    """``[(name, code)]`` interleaving classes and splits as the real file
    lists them (all train names first, classes mixed)."""
    entries = []
    n = 0
    for _ in range(train_per_class):
        for code in range(1, 8):
            n += 1
            entries.append((f'train_{n:05d}.jpg', code))
    n = 0
    for _ in range(test_per_class):
        for code in range(1, 8):
            n += 1
            entries.append((f'test_{n:04d}.jpg', code))
    return entries


def write_rafdb(root,
                entries,
                extra_lines=(),
                aligned=True,
                original=True,
                aligned_224=False):
    """Write ``basic/`` under ``root``: label file, aligned and original
    images for ``entries``; ``extra_lines`` are appended verbatim."""
    root = str(root)
    label_file = osp.join(root, RAFDB_LABEL_FILE)
    for d in ('EmoLabel', 'Image/original', 'Image/aligned',
              'Annotation/manual'):
        os.makedirs(osp.join(root, d), exist_ok=True)
    with open(label_file, 'w') as f:
        for name, code in entries:
            f.write(f'{name} {code}\n')
        for line in extra_lines:
            f.write(line + '\n')
    for i, (name, _) in enumerate(entries):
        stem = osp.splitext(name)[0]
        if aligned:
            cv2.imwrite(
                osp.join(root, 'Image/aligned', f'{stem}_aligned.jpg'),
                _face(i))
        if original:
            cv2.imwrite(
                osp.join(root, 'Image/original', name),
                _face(i, size=(90, 120)))
        if aligned_224:
            d = osp.join(root, 'Image/aligned_224')
            os.makedirs(d, exist_ok=True)
            cv2.imwrite(osp.join(d, name), _face(i, size=(32, 32)))
    return root


@pytest.fixture
def rafdb_root(tmp_path):
    """A valid RAF-DB ``basic`` folder: 14 train / 7 test images."""
    return write_rafdb(tmp_path / 'basic', rafdb_entries())


@pytest.fixture
def make_rafdb(tmp_path):
    """Return ``build(entries=None, extra_lines=(), **kw) -> data_root``."""

    def build(entries=None, extra_lines=(), **kwargs):
        entries = rafdb_entries() if entries is None else entries
        return write_rafdb(tmp_path / 'basic', entries, extra_lines, **kwargs)

    return build


# ----------------------------------------------------------------- FER2013
FER2013_FOLDERS = ('angry', 'disgust', 'fear', 'happy', 'sad', 'surprise',
                   'neutral')  # index = emotion code


def fer2013_rows(per_split=None):
    """``[(emotion, gray 48x48 uint8, Usage)]`` in csv row order.

    Default: Training 2 a class, PublicTest and PrivateTest 1 a class.
    """
    per_split = per_split or {'Training': 2, 'PublicTest': 1, 'PrivateTest': 1}
    rows = []
    for usage, k in per_split.items():
        for _ in range(k):
            for code in range(7):
                rows.append((code, _face(len(rows), (48, 48), 1), usage))
    # mix classes and splits, as the real csv does
    order = np.random.RandomState(0).permutation(len(rows))
    return [rows[i] for i in order]


def write_fer2013_csv(path,
                      rows,
                      header='emotion,pixels,Usage',
                      extra_lines=()):
    """Write ``rows`` as ``fer2013.csv`` (or the ``icml_face_data.csv``
    column order when ``header`` says so)."""
    columns = [c.strip() for c in header.split(',')]
    with open(path, 'w', newline='') as f:
        f.write(header + '\n')
        for code, gray, usage in rows:
            fields = {
                'emotion': str(code),
                'pixels': ' '.join(str(v) for v in gray.ravel()),
                'Usage': usage
            }
            f.write(','.join(fields[c] for c in columns) + '\n')
        for line in extra_lines:
            f.write(line + '\n')
    return str(path)


def write_fer2013_folders(root, rows):
    """Write ``rows`` in the folder layout, ``<n>`` = csv row index."""
    for n, (code, gray, usage) in enumerate(rows):
        top = 'train' if usage == 'Training' else 'test'
        d = osp.join(str(root), top, FER2013_FOLDERS[code])
        os.makedirs(d, exist_ok=True)
        cv2.imwrite(
            osp.join(d, f'{usage}_{n}.jpg'), gray,
            [cv2.IMWRITE_JPEG_QUALITY, 100])
    return str(root)


@pytest.fixture
def fer_rows():
    return fer2013_rows()


@pytest.fixture
def fer_csv_root(tmp_path, fer_rows):
    """``<tmp>/fer2013csv/fer2013.csv`` with 14 / 7 / 7 rows."""
    root = tmp_path / 'fer2013csv'
    root.mkdir()
    write_fer2013_csv(root / 'fer2013.csv', fer_rows)
    return str(root)


@pytest.fixture
def fer_folder_root(tmp_path, fer_rows):
    """The same rows in the folder layout."""
    return write_fer2013_folders(tmp_path / 'fer2013folder', fer_rows)


@pytest.fixture
def make_fer_rows():
    """Return :func:`fer2013_rows` (``per_split`` dict -> rows)."""
    return fer2013_rows


@pytest.fixture
def make_fer_folders(tmp_path):
    """Return ``build(dirname, rows, private_test=True) -> data_root``:
    the folder layout under ``tmp_path / dirname``. With
    ``private_test=False`` only Training and PublicTest images are written,
    one a class and split (like the widely shared copy)."""

    def build(dirname, rows, private_test=True):
        if not private_test:
            keep, seen = [], set()
            for code, gray, usage in rows:
                if usage != 'PrivateTest' and (code, usage) not in seen:
                    seen.add((code, usage))
                    keep.append((code, gray, usage))
            rows = keep
        return write_fer2013_folders(tmp_path / dirname, rows)

    return build


@pytest.fixture
def make_fer_csv(tmp_path):
    """Return ``build(rows=None, header=..., extra_lines=()) -> csv path``."""

    def build(rows=None,
              header='emotion,pixels,Usage',
              extra_lines=(),
              name='fer2013.csv'):
        rows = fer2013_rows() if rows is None else rows
        return write_fer2013_csv(tmp_path / name, rows, header, extra_lines)

    return build


# ------------------------------------------------------------------ CK+48
def write_ck48(root):
    """The CK+48 copy: ``<class>/S###_###_########.png``, 48x48 grayscale,
    the last 3 frames (17..19) of one sequence a class, each class another
    subject (``S010`` for the first class, ``S011`` for the next, ...)."""
    root = str(root)
    for k, cls in enumerate(CKPLUS_CATEGORIES):
        d = osp.join(root, cls)
        os.makedirs(d, exist_ok=True)
        for frame in (17, 18, 19):
            assert cv2.imwrite(
                osp.join(d, f'S{10 + k:03d}_004_{frame:08d}.png'),
                _face(3 * k + frame, (48, 48), 1))
    return root


@pytest.fixture
def ck48_root(tmp_path):
    """A valid CK+48 folder: 3 images in each of the 7 class folders."""
    return write_ck48(tmp_path / 'CK+48')


# ------------------------------------------------------ byte-order marks
UTF8_BOM = b'\xef\xbb\xbf'


def _same_value(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b))
    return a == b


@pytest.fixture
def assert_bom_reads_the_same():
    """Return ``check(build, *label_files)``: ``build()`` makes a dataset;
    it is built once as the fixture wrote the label files, then again after
    a UTF-8 byte-order mark is put in front of each of them (as Windows
    Notepad and Excel save), and both data lists must be equal, key by key
    (arrays by value). Returns the data list."""

    def check(build, *label_files):
        assert label_files, 'name the label files to rewrite'
        dataset = build()
        plain = [dataset.get_data_info(i) for i in range(len(dataset))]
        for path in label_files:
            with open(path, 'rb') as f:
                data = f.read()
            assert not data.startswith(UTF8_BOM), path
            with open(path, 'wb') as f:
                f.write(UTF8_BOM + data)
        dataset = build()
        with_bom = [dataset.get_data_info(i) for i in range(len(dataset))]
        assert len(with_bom) == len(plain)
        for i, (a, b) in enumerate(zip(plain, with_bom)):
            assert a.keys() == b.keys(), i
            for key in a:
                assert _same_value(a[key], b[key]), (i, key, a[key], b[key])
        return with_bom

    return check


# ------------------------------------------------------------------- logs
class _ListHandler(logging.Handler):

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def log_messages():
    """Collect what is logged to mmengine's current logger during the test.

    Returns ``messages(level=logging.WARNING) -> [str]``: the messages
    logged at exactly ``level``. A handler catches both ``logger.warning``
    and ``print_log(..., logger='current')``, whichever the code uses.
    """
    logger = MMLogger.get_current_instance()
    handler = _ListHandler()
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)

    def messages(level=logging.WARNING):
        return [
            r.getMessage() for r in handler.records if r.levelno == level
        ]

    yield messages
    logger.removeHandler(handler)
    logger.setLevel(old_level)
