"""FaceLandmarkDataset (label_landmarks.py CSVs), LandmarkRandomFlip and
packing, on tiny CSVs and images written under ``tmp_path``."""
import os
import os.path as osp
import re

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import Compose

from ferpretrain.datasets import (LANDMARK_CSV_HEADER, FaceLandmarkDataset,
                                  FERAnnotationError, FERSampleError)
from ferpretrain.datasets.transforms import (FLIP_PERMUTATION_68,
                                             LandmarkRandomFlip,
                                             flip_landmarks)
from ferpretrain.registry import DATASETS, TRANSFORMS


def _points(seed):
    """(68, 2) fractions, distinct per seed."""
    return np.random.default_rng(seed).uniform(0.1, 0.9, (68, 2))


def _row(rel, source='detected', points=None, seed=0):
    points = _points(seed) if points is None else points
    return ','.join([rel, source] + [f'{v:.5f}' for v in points.reshape(-1)])


def _write(path, lines):
    os.makedirs(osp.dirname(str(path)), exist_ok=True)
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return str(path)


def _image(path, size=(48, 48), value=100):
    os.makedirs(osp.dirname(str(path)), exist_ok=True)
    img = np.full(size, value, np.uint8)
    img[:, :size[1] // 2] = 20  # left half dark: flips are visible
    assert cv2.imwrite(str(path), img)


@pytest.fixture
def root(tmp_path):
    """``root/train/{a,b}/*.png`` and ``root/train_landmarks.csv``."""
    rels = ['train/a/0.png', 'train/a/1.png', 'train/b/2.png']
    for rel in rels:
        _image(tmp_path / rel)
    header = ','.join(LANDMARK_CSV_HEADER)
    _write(tmp_path / 'train_landmarks.csv', [header] + [
        _row(rel, 'fallback' if i == 2 else 'detected', seed=i)
        for i, rel in enumerate(rels)
    ])
    return tmp_path


def _lines(root):
    with open(root / 'train_landmarks.csv') as f:
        return f.read().splitlines()


def _dataset(root, **kwargs):
    kwargs.setdefault('ann_file', 'train_landmarks.csv')
    return FaceLandmarkDataset(data_root=str(root), **kwargs)


def test_header_constant():
    assert len(LANDMARK_CSV_HEADER) == 138
    assert LANDMARK_CSV_HEADER[:4] == ('img_path', 'box_source', 'x0', 'y0')
    assert LANDMARK_CSV_HEADER[-2:] == ('x67', 'y67')


def test_parsing(root):
    dataset = _dataset(root)
    assert len(dataset) == 3
    info = dataset.get_data_info(0)
    assert info['img_path'] == osp.join(str(root), 'train/a/0.png')
    assert info['gt_landmarks'].dtype == np.float32
    assert info['gt_landmarks'].shape == (68, 2)
    np.testing.assert_allclose(info['gt_landmarks'], _points(0), atol=1e-5)
    # x0, y0 are the first two values: (68, 2) rows are (x, y) pairs.
    first = _lines(root)[1].split(',')
    assert info['gt_landmarks'][0].tolist() == pytest.approx(
        [float(first[2]), float(first[3])])
    assert info['box_source'] == 'detected'
    assert info['ann_source'].endswith('train_landmarks.csv:2')
    assert dataset.get_box_sources() == ['detected', 'detected', 'fallback']
    assert dataset.metainfo['num_landmarks'] == 68
    assert 'Number of samples: \t3' in repr(dataset)
    # Through the registry, as a config builds it.
    built = DATASETS.build(
        dict(type='FaceLandmarkDataset', data_root=str(root),
             ann_file='train_landmarks.csv'))
    assert len(built) == 3


def test_data_prefix_and_absolute_ann_file(root, tmp_path_factory):
    # The CSV elsewhere, paths relative to the split folder.
    elsewhere = tmp_path_factory.mktemp('labels')
    lines = _lines(root)
    ann = _write(elsewhere / 'l.csv', [lines[0]] + [
        line.replace('train/', '', 1) for line in lines[1:]
    ])
    dataset = FaceLandmarkDataset(
        ann_file=ann, data_root=str(root), data_prefix='train')
    assert dataset.get_data_info(2)['img_path'] == osp.join(
        str(root), 'train', 'b/2.png')
    dataset = FaceLandmarkDataset(
        ann_file=ann, data_root=str(root), data_prefix=dict(img_path='train'))
    assert len(dataset) == 3


def test_blank_lines_and_bom_are_accepted(root):
    lines = _lines(root)
    _write(root / 'train_landmarks.csv',
           ['\ufeff' + lines[0], lines[1], '', lines[2], lines[3], ''])
    assert len(_dataset(root)) == 3


def test_missing_file(root):
    with pytest.raises(FileNotFoundError,
                       match=r'ann_file not found: .*nope\.csv.*'
                       'label_landmarks.py'):
        _dataset(root, ann_file='nope.csv')
    with pytest.raises(ValueError, match='ann_file is required'):
        FaceLandmarkDataset(ann_file='', data_root=str(root))


def _corrupt(root, line_no, new_line):
    lines = _lines(root)
    lines[line_no - 1] = new_line
    _write(root / 'train_landmarks.csv', lines)


def _expect(root, pattern):
    """The error names the file and line (and says how to fix it)."""
    with pytest.raises(FERAnnotationError) as info:
        _dataset(root)
    msg = str(info.value)
    assert osp.join(str(root), 'train_landmarks.csv') in msg
    assert re.search(pattern, msg), msg
    return msg


def test_wrong_header(root):
    header = list(LANDMARK_CSV_HEADER)
    header[4] = 'x_1'
    _corrupt(root, 1, ','.join(header))
    msg = _expect(root, r"csv:1: header column 5 is 'x_1', expected 'x1'")
    assert 'label_landmarks.py' in msg
    _corrupt(root, 1, 'path,label')
    _expect(root, r'csv:1: the header has 2 columns, expected 138')


def test_empty_file(root):
    _write(root / 'train_landmarks.csv', [])
    with open(root / 'train_landmarks.csv', 'w'):
        pass
    _expect(root, r'csv:1: empty file')


def test_only_header(root):
    _write(root / 'train_landmarks.csv', [_lines(root)[0]])
    _expect(root, r'no sample')


def test_wrong_number_of_columns(root):
    line = _lines(root)[2]
    _corrupt(root, 3, line + ',0.5')
    _expect(root, r'csv:3: 139 columns, expected 138')
    _corrupt(root, 3, ','.join(line.split(',')[:-2]))
    _expect(root, r'csv:3: 136 columns, expected 138')


@pytest.mark.parametrize('bad', ['abc', '', 'nan', 'inf'])
def test_non_numeric_value(root, bad):
    cells = _lines(root)[3].split(',')
    cells[2 + 2 * 36 + 1] = bad  # y36
    _corrupt(root, 4, ','.join(cells))
    _expect(root, rf"csv:4: column 'y36' is '{bad}', not a finite number")


def test_bad_box_source_and_empty_path(root):
    _corrupt(root, 2, _row('train/a/0.png', 'guessed'))
    _expect(root, r"csv:2: box_source is 'guessed', expected one of")
    _corrupt(root, 2, _row('', 'detected'))
    _expect(root, r'csv:2: empty img_path')


def test_image_listed_twice(root):
    _corrupt(root, 3, _row('train/a/0.png', seed=5))
    _expect(root, r"csv:3: image 'train/a/0.png' is listed twice \(first "
            r'at line 2\)')


def test_listed_image_missing(root):
    os.remove(root / 'train/b/2.png')
    with pytest.raises(FileNotFoundError) as info:
        _dataset(root)
    msg = str(info.value)
    assert '1 of 3 listed images not found' in msg
    assert 'train/b/2.png (listed at ' + osp.join(
        str(root), 'train_landmarks.csv') + ':4)' in msg
    assert '--relative-to' in msg
    # Remote storage: the check can be turned off.
    assert len(_dataset(root, check_images=False)) == 3


def test_pipeline_failure_names_the_sample(root):
    with open(root / 'train/a/1.png', 'wb') as f:
        f.write(b'not a png')
    dataset = _dataset(root, pipeline=[dict(type='LoadFERImage')])
    with pytest.raises(FERSampleError,
                       match=r'train/a/1.png \(annotation .*csv:3\)'):
        dataset[1]


# ----------------------------------------------------------------------
# The flip.
def test_flip_permutation_is_an_involution_on_mirror_pairs():
    perm = FLIP_PERMUTATION_68
    assert sorted(perm.tolist()) == list(range(68))
    np.testing.assert_array_equal(perm[perm], np.arange(68))
    pairs = {
        0: 16, 1: 15, 7: 9, 8: 8,  # jaw, chin on the midline
        17: 26, 21: 22,  # brows
        27: 27, 30: 30, 31: 35, 32: 34, 33: 33,  # nose
        36: 45, 37: 44, 38: 43, 39: 42, 40: 47, 41: 46,  # eyes
        48: 54, 49: 53, 50: 52, 51: 51, 55: 59, 56: 58, 57: 57,  # outer lip
        60: 64, 61: 63, 62: 62, 65: 67, 66: 66,  # inner lip
    }
    for a, b in pairs.items():
        assert perm[a] == b and perm[b] == a, (a, b)
    # Only the 8 midline points of the 68 stay in place... plus none else.
    assert sorted(np.flatnonzero(perm == np.arange(68)).tolist()) == [
        8, 27, 28, 29, 30, 33, 51, 57, 62, 66
    ]


def test_flip_of_a_symmetric_face_is_itself():
    # A face symmetric about x = 0.5: each pair mirrored, the midline at 0.5.
    rng = np.random.default_rng(0)
    points = rng.uniform(0.1, 0.9, (68, 2))
    for i, j in enumerate(FLIP_PERMUTATION_68):
        if i == j:
            points[i, 0] = 0.5
        elif i < j:
            points[j] = (1 - points[i, 0], points[i, 1])
    np.testing.assert_allclose(flip_landmarks(points), points, atol=1e-12)
    # And flipping twice gives any face back.
    face = _points(3)
    np.testing.assert_allclose(flip_landmarks(flip_landmarks(face)), face)
    # The image-left eye stays the image-left eye after the flip.
    flipped = flip_landmarks(face)
    assert flipped[36, 0] == pytest.approx(1 - face[45, 0])
    with pytest.raises(ValueError, match=r'\(68, 2\)'):
        flip_landmarks(np.zeros((5, 2)))


def test_landmark_random_flip_moves_image_and_points():
    img = np.zeros((4, 6, 3), np.uint8)
    img[:, 0] = 255  # left column bright
    points = _points(1)
    flip = TRANSFORMS.build(dict(type='LandmarkRandomFlip', prob=1.))
    out = flip(dict(img=img.copy(), gt_landmarks=points.copy()))
    assert out['flip'] and out['flip_direction'] == 'horizontal'
    assert (out['img'][:, -1] == 255).all() and (out['img'][:, 0] == 0).all()
    np.testing.assert_allclose(out['gt_landmarks'], flip_landmarks(points))
    keep = LandmarkRandomFlip(prob=0.)
    out = keep(dict(img=img.copy(), gt_landmarks=points.copy()))
    assert not out['flip'] and out['flip_direction'] is None
    np.testing.assert_array_equal(out['img'], img)
    np.testing.assert_array_equal(out['gt_landmarks'], points)
    with pytest.raises(KeyError, match="RandomFlip"):
        LandmarkRandomFlip(prob=1.)(dict(img=img))
    with pytest.raises(ValueError, match='prob'):
        LandmarkRandomFlip(prob=1.5)
    assert repr(LandmarkRandomFlip(0.3)) == 'LandmarkRandomFlip(prob=0.3)'


def test_flip_probability(monkeypatch):
    flip = LandmarkRandomFlip(prob=0.5)
    np.random.seed(0)
    n = sum(
        flip(dict(img=np.zeros((2, 2), np.uint8),
                  gt_landmarks=_points(0)))['flip'] for _ in range(400))
    assert 150 < n < 250


# ----------------------------------------------------------------------
# Packing.
def test_pack_inputs_puts_landmarks_into_the_data_sample(root):
    pipeline = [
        dict(type='LoadFERImage'),
        dict(type='Resize', scale=(64, 64)),
        dict(type='LandmarkRandomFlip', prob=1.),
        dict(
            type='PackInputs',
            algorithm_keys=('gt_landmarks', ),
            meta_keys=('img_path', 'ori_shape', 'img_shape', 'flip',
                       'box_source')),
    ]
    dataset = _dataset(root, pipeline=pipeline)
    packed = dataset[2]
    assert packed['inputs'].shape == (3, 64, 64)
    assert packed['inputs'].dtype == torch.uint8
    sample = packed['data_samples']
    assert sample.gt_landmarks.shape == (68, 2)
    np.testing.assert_allclose(
        sample.gt_landmarks, flip_landmarks(_points(2)), atol=1e-5)
    assert sample.box_source == 'fallback' and sample.flip
    assert sample.ori_shape == (48, 48) and sample.img_shape == (64, 64)
    # The image was flipped: its dark half is now on the right.
    assert packed['inputs'][0, 0, -1] < packed['inputs'][0, 0, 0]
    # Without the key in algorithm_keys nothing is packed: the model says
    # so (tests/test_models/test_landmark_regressor.py).
    plain = Compose([dict(type='LoadFERImage'), dict(type='PackInputs')])
    assert 'gt_landmarks' not in plain(dataset.get_data_info(0))[
        'data_samples']


def test_csv_with_bom_reads_the_same(root, assert_bom_reads_the_same):
    assert_bom_reads_the_same(lambda: _dataset(root),
                              str(root / 'train_landmarks.csv'))


def test_tiny_image_is_reported_at_load(root, log_messages):
    _dataset(root)
    assert not [m for m in log_messages() if 'under 16 px' in m]
    _image(root / 'train/b/2.png', size=(10, 10))
    dataset = _dataset(root)
    assert len(dataset) == 3  # kept
    warned = [m for m in log_messages() if 'under 16 px' in m]
    assert len(warned) == 1
    assert warned[0].startswith('FaceLandmarkDataset (')
    assert '1 of 3 images' in warned[0]
    assert re.search(r'train/b/2\.png: image 10x10 \(WxH\), listed at '
                     r'.*train_landmarks\.csv:4', warned[0])
