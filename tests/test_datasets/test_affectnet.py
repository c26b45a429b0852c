import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.logging import MMLogger

import ferpretrain.datasets.transforms.loading  # noqa: F401
from ferpretrain.datasets.affectnet import (AFFECTNET_CATEGORIES,
                                            AffectNet)
from ferpretrain.datasets.base_fer import FERAnnotationError, FERSampleError
from ferpretrain.datasets.transforms.face_crop import CropFaceBox
from ferpretrain.registry import DATASETS

HEADER = ('subDirectory_filePath,face_x,face_y,face_width,face_height,'
          'facial_landmarks,expression,valence,arousal')
TRAIN_CSV = 'Manually_Annotated_file_lists/training.csv'
VAL_CSV = 'Manually_Annotated_file_lists/validation.csv'
# box inside a 64x64 picture
BOX = (8, 12, 40, 36)


def _landmarks():
    return ';'.join(f'{v:.2f}' for v in np.linspace(10, 50, 136))


def _row(rel, code, box=BOX, landmarks=None, valence='0.5',
         arousal='-0.25'):
    lm = _landmarks() if landmarks is None else landmarks
    x, y, w, h = box
    return f'{rel},{x},{y},{w},{h},"{lm}",{code},{valence},{arousal}'


def _write_img(root, rel, value=0):
    path = osp.join(root, 'Manually_Annotated_Images', rel)
    os.makedirs(osp.dirname(path), exist_ok=True)
    img = np.full((64, 64, 3), 30, np.uint8)
    x, y, w, h = BOX
    img[y:y + h, x:x + w] = 200 + value  # the face box is bright
    assert cv2.imwrite(path, img)


def write_affectnet(root, train_rows=None, val_rows=None, images=True):
    """Official layout; rows are (rel_path, code) or raw csv lines."""
    root = str(root)
    os.makedirs(osp.join(root, 'Manually_Annotated_file_lists'),
                exist_ok=True)
    for rel_csv, rows in ((TRAIN_CSV, train_rows), (VAL_CSV, val_rows)):
        with open(osp.join(root, rel_csv), 'w') as f:
            f.write(HEADER + '\n')
            for r in rows:
                if isinstance(r, str):
                    f.write(r + '\n')
                    continue
                f.write(_row(*r) + '\n')
                if images:
                    _write_img(root, r[0], value=r[1])
    os.makedirs(osp.join(root, 'Manually_Annotated_Images'), exist_ok=True)
    return root


def default_rows(per_code=2, codes=range(11), sub=100):
    rows = []
    for k in range(per_code):
        for code in codes:
            rows.append((f'{sub + code}/img_{code}_{k}.jpg', code))
    return rows


@pytest.fixture
def affectnet_root(tmp_path):
    return write_affectnet(tmp_path / 'AffectNet', default_rows(2),
                           default_rows(1, sub=500))


def _line_of(root, rel_csv, rel):
    with open(osp.join(root, rel_csv)) as f:
        for i, line in enumerate(f, start=1):
            if line.startswith(rel + ','):
                return i
    raise AssertionError(rel)


@pytest.fixture
def log_records(monkeypatch):
    logger = MMLogger.get_current_instance()
    records = []
    monkeypatch.setattr(logger, 'info', lambda msg, *a, **k: records.append(
        msg))
    return records


# ----------------------------------------------------------- label sets
def test_eight_classes(affectnet_root, log_records):
    ds = AffectNet(affectnet_root, split='train', num_classes=8)
    assert ds.CLASSES == AFFECTNET_CATEGORIES
    assert len(ds.CLASSES) == 8 and ds.CLASSES[7] == 'Contempt'
    assert len(ds) == 16
    assert ds.class_counts() == [2] * 8
    assert dict(ds.excluded) == {
        'None (code 8)': 2,
        'Uncertain (code 9)': 2,
        'No-Face (code 10)': 2
    }
    msg = '\n'.join(log_records)
    assert 'kept 16 of 22 rows' in msg
    for reason in ('2 None (code 8)', '2 Uncertain (code 9)',
                   '2 No-Face (code 10)'):
        assert reason in msg
    info = ds.get_data_info(0)
    assert info['face_box'] == BOX
    assert info['gt_label'] == 0
    assert info['img_path'] == osp.join(affectnet_root,
                                        'Manually_Annotated_Images',
                                        '100/img_0_0.jpg')
    assert info['ann_source'] == \
        f'{osp.join(affectnet_root, TRAIN_CSV)}:2'
    assert info['valence'] == 0.5 and info['arousal'] == -0.25


def test_seven_classes(affectnet_root, log_records):
    ds = AffectNet(affectnet_root, split='train', num_classes=7)
    assert ds.CLASSES == AFFECTNET_CATEGORIES[:7]
    assert 'Contempt' not in ds.CLASSES
    assert len(ds) == 14
    assert ds.class_counts() == [2] * 7
    assert set(ds.get_gt_labels().tolist()) == set(range(7))
    assert ds.excluded['Contempt (code 7, 7-class protocol)'] == 2
    assert sum(ds.excluded.values()) == 8
    msg = '\n'.join(log_records)
    assert 'kept 14 of 22 rows' in msg
    assert '2 Contempt (code 7, 7-class protocol)' in msg


def test_splits(affectnet_root):
    val = AffectNet(affectnet_root, split='val', test_mode=True)
    test = AffectNet(affectnet_root, split='test', test_mode=True)
    assert len(val) == len(test) == 8
    assert val.ann_file == test.ann_file == osp.join(affectnet_root,
                                                     VAL_CSV)
    with pytest.raises(ValueError, match='split must be one of'):
        AffectNet(affectnet_root, split='validation')
    with pytest.raises(ValueError, match='num_classes must be 7 or 8'):
        AffectNet(affectnet_root, num_classes=11)
    with pytest.raises(ValueError, match='num_classes'):
        AffectNet(affectnet_root, classes=('a', 'b'))


def test_registry_and_face_crop_pipeline(affectnet_root):
    ds = DATASETS.build(
        dict(
            type='AffectNet',
            data_root=affectnet_root,
            split='val',
            num_classes=7,
            test_mode=True,
            pipeline=[
                dict(type='LoadFERImage'),
                dict(type='CropFaceBox'),
                dict(type='PackInputs')
            ]))
    out = ds[0]
    x, y, w, h = BOX
    assert tuple(out['inputs'].shape) == (3, h, w)
    # only the bright face is left
    assert int(out['inputs'].min()) >= 150
    assert out['data_samples'].gt_label.item() == 0

    # with a margin, clipped to the 64x64 image
    ds = DATASETS.build(
        dict(
            type='AffectNet',
            data_root=affectnet_root,
            split='val',
            pipeline=[
                dict(type='LoadFERImage'),
                dict(type='CropFaceBox', margin=0.5),
                dict(type='PackInputs')
            ]))
    out = ds[0]
    # x: 8-20 -> 0 .. 48+20=68 -> 64; y: 12-18 -> 0 .. 48+18 -> 64
    assert tuple(out['inputs'].shape) == (3, 64, 64)


def test_crop_face_box_transform():
    img = np.arange(100 * 80 * 3, dtype=np.uint8).reshape(100, 80, 3)
    t = CropFaceBox(margin=0.1)
    res = t(dict(img=img.copy(), face_box=(10, 20, 30, 40), img_path='a'))
    # 10-3=7 .. 40+3=43; 20-4=16 .. 60+4=64
    assert res['img'].shape == (48, 36, 3)
    assert res['img_shape'] == (48, 36)
    np.testing.assert_array_equal(res['img'], img[16:64, 7:43])
    # partly outside: clipped
    res = CropFaceBox()(dict(img=img.copy(), face_box=(60, 90, 40, 40)))
    assert res['img'].shape == (10, 20, 3)
    # no face box: unchanged
    res = CropFaceBox()(dict(img=img, img_shape=(100, 80)))
    assert res['img'] is img
    # wholly outside
    with pytest.raises(ValueError, match=r'x.jpg \(f.csv:3\).*outside'):
        CropFaceBox()(
            dict(img=img, face_box=(200, 10, 5, 5), img_path='x.jpg',
                 ann_source='f.csv:3'))
    with pytest.raises(ValueError, match='empty'):
        CropFaceBox()(dict(img=img, face_box=(1, 1, 0, 5)))
    with pytest.raises(ValueError, match='margin'):
        CropFaceBox(margin=-1)


def test_box_outside_image_names_sample(tmp_path):
    root = write_affectnet(tmp_path, [('1/a.jpg', 1)], [('2/b.jpg', 2)])
    csv_path = osp.join(root, VAL_CSV)
    with open(csv_path, 'w') as f:
        f.write(HEADER + '\n' + _row('2/b.jpg', 2, box=(100, 100, 10, 10)) +
                '\n')
    ds = AffectNet(root, split='val', pipeline=[
        dict(type='LoadFERImage'), dict(type='CropFaceBox')])
    with pytest.raises(FERSampleError, match=rf'{csv_path}:2.*outside'):
        ds[0]


# ----------------------------------------------------------- error paths
@pytest.mark.parametrize(
    'bad_line, match',
    [
        ('1/x.jpg,1,2,3,4,1;2;3,1,0.1,0.2,extra', 'expected 9 columns'),
        # unquoted landmarks with commas split into too many columns
        ('1/x.jpg,1,2,3,4,1.0,2.0,3.0,1,0.1,0.2', 'expected 9 columns'),
        ('1/x.jpg,1,2,3', 'expected 9 columns, got 4'),
        (_row('1/x.jpg', 1, box=('a', 2, 3, 4)), "face_x 'a'"),
        (_row('1/x.jpg', 1, box=(1, 2, 3, '')), "face_height ''"),
        (_row('1/x.jpg', 1, box=(1, 2, 0, 4)), 'is empty'),
        (_row('1/x.jpg', 'happy'), "expression 'happy'"),
        (_row('1/x.jpg', 11), "expression '11'.*0..10"),
        (_row('1/x.jpg', -1), "expression '-1'"),
        (_row('1/x.jpg', '1.5'), "expression '1.5'"),
        (_row('1/x.jpg', 1, valence='n/a'), "valence 'n/a'"),
        (',1,2,3,4,"1;2",1,0.1,0.2', 'empty subDirectory_filePath'),
    ])
def test_malformed_rows(tmp_path, bad_line, match):
    rows = default_rows(1, codes=range(3)) + [bad_line]
    root = write_affectnet(tmp_path, rows, default_rows(1, sub=500))
    csv_path = osp.join(root, TRAIN_CSV)
    # header + 3 good rows, the bad one is line 5
    with pytest.raises(FERAnnotationError,
                       match=rf'^{csv_path}:5: .*{match}'):
        AffectNet(root, split='train')


def test_bad_header_and_empty(tmp_path):
    root = write_affectnet(tmp_path, default_rows(1), default_rows(1))
    csv_path = osp.join(root, TRAIN_CSV)
    with open(csv_path, 'w') as f:
        f.write(_row('100/img_0_0.jpg', 0) + '\n')
    with pytest.raises(FERAnnotationError,
                       match=rf'{csv_path}:1: unexpected header'):
        AffectNet(root, split='train')
    open(csv_path, 'w').close()
    with pytest.raises(FERAnnotationError, match=rf'{csv_path}:1: empty'):
        AffectNet(root, split='train')
    # only excluded rows -> empty split
    with open(csv_path, 'w') as f:
        f.write(HEADER + '\n' + _row('108/img_8_0.jpg', 8) + '\n')
    with pytest.raises(ValueError, match='no sample of split'):
        AffectNet(root, split='train')


def test_missing_image_names_line(affectnet_root):
    rel = '103/img_3_1.jpg'
    os.remove(osp.join(affectnet_root, 'Manually_Annotated_Images', rel))
    line = _line_of(affectnet_root, TRAIN_CSV, rel)
    csv_path = osp.join(affectnet_root, TRAIN_CSV)
    with pytest.raises(FileNotFoundError) as e:
        AffectNet(affectnet_root, split='train')
    assert '1 of 16 listed images not found' in str(e.value)
    assert f'{rel} (listed at {csv_path}:{line})' in str(e.value)
    # an excluded row's image is not required
    os.remove(osp.join(affectnet_root, 'Manually_Annotated_Images',
                       '109/img_9_0.jpg'))
    os.remove(osp.join(affectnet_root, 'Manually_Annotated_Images',
                       '507/img_7_0.jpg'))
    assert len(AffectNet(affectnet_root, split='val', num_classes=7)) == 7


def test_missing_files_and_folders(tmp_path, affectnet_root):
    with pytest.raises(FileNotFoundError,
                       match="Found it under .*did you mean data_root"):
        AffectNet(osp.dirname(affectnet_root), split='train')
    with pytest.raises(FileNotFoundError, match='AffectNet image folder'):
        AffectNet(affectnet_root, split='train', img_dir='nope')
    with pytest.raises(FileNotFoundError, match='annotation csv not found'):
        AffectNet(str(tmp_path / 'nothing'), split='val')


@pytest.mark.parametrize('split,rel_csv', [('train', TRAIN_CSV),
                                           ('val', VAL_CSV)])
def test_csv_with_bom_reads_the_same(affectnet_root, split, rel_csv,
                                     assert_bom_reads_the_same):
    assert_bom_reads_the_same(
        lambda: AffectNet(affectnet_root, split=split),
        osp.join(affectnet_root, rel_csv))
