"""Images under 16 px: counted and reported once, never dropped."""
import logging
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from ferpretrain.datasets import (RAFDB, AffectNet, CKPlus, FER2013,
                                  LoadFERImage)
from ferpretrain.datasets import small_images
from ferpretrain.datasets.small_images import report_small_images

UNDER_16 = 'under 16 px'
PIPELINE = [dict(type='LoadFERImage'), dict(type='PackInputs')]


def _small_warnings(log_messages):
    return [m for m in log_messages(logging.WARNING) if UNDER_16 in m]


def _shrink(path, size=(10, 12)):
    """Overwrite an image with a ``size`` = (H, W) one."""
    assert cv2.imwrite(path, np.full(size + (3, ), 90, np.uint8))


def _load_all(dataset):
    for i in range(len(dataset)):
        dataset[i]


@pytest.fixture
def rafdb_with_tiny(rafdb_root):
    """The RAF-DB fixture with train_00003's aligned face 12x10 (WxH)."""
    _shrink(osp.join(rafdb_root, 'Image', 'aligned',
                     'train_00003_aligned.jpg'))
    return rafdb_root


def test_tiny_image_is_reported_once_at_load(rafdb_with_tiny, log_messages):
    dataset = RAFDB(rafdb_with_tiny, split='train', pipeline=PIPELINE)
    assert len(dataset) == 14  # kept, not dropped
    warned = _small_warnings(log_messages)
    assert len(warned) == 1, warned
    msg = warned[0]
    assert msg.startswith("RAFDB (split 'train'): 1 of 14 images have a "
                          'side under 16 px')
    assert 'train_00003_aligned.jpg: image 12x10 (WxH)' in msg
    assert 'list_patition_label.txt:3' in msg
    assert 'remove their annotation lines' in msg
    # checked at load: loading the images reports nothing more
    _load_all(dataset)
    assert len(_small_warnings(log_messages)) == 1
    # the test split holds no small image
    RAFDB(rafdb_with_tiny, split='test')
    assert len(_small_warnings(log_messages)) == 1


def test_normal_datasets_report_nothing(rafdb_root, fer_csv_root,
                                        fer_folder_root, ck48_root,
                                        log_messages):
    for dataset in (RAFDB(rafdb_root, split='train', pipeline=PIPELINE),
                    RAFDB(rafdb_root, split='test', pipeline=PIPELINE),
                    FER2013(fer_csv_root, split='train', pipeline=PIPELINE),
                    FER2013(fer_folder_root, split='val', pipeline=PIPELINE),
                    CKPlus(ck48_root, pipeline=PIPELINE)):
        _load_all(dataset)
    assert not _small_warnings(log_messages)


def test_without_load_check_the_loader_reports(rafdb_with_tiny,
                                               log_messages):
    dataset = RAFDB(rafdb_with_tiny, split='train', pipeline=PIPELINE,
                    check_image_size=False)
    assert not _small_warnings(log_messages)
    _load_all(dataset)
    warned = _small_warnings(log_messages)
    assert len(warned) == 1
    assert warned[0].startswith('LoadFERImage: ')
    assert 'train_00003_aligned.jpg (listed at ' in warned[0]
    assert 'is 12x10 (WxH)' in warned[0]
    assert 'so far: 1 (next report at 10)' in warned[0]


def test_auto_leaves_big_folders_to_the_loader(rafdb_with_tiny, log_messages,
                                               monkeypatch):
    monkeypatch.setattr(small_images, 'AUTO_MAX_HEADER_READS', 5)
    dataset = RAFDB(rafdb_with_tiny, split='train', pipeline=PIPELINE)
    assert not _small_warnings(log_messages)
    assert any('14 image files are not read at load' in m
               for m in log_messages(logging.INFO))
    _load_all(dataset)
    assert len(_small_warnings(log_messages)) == 1
    # True reads the headers whatever their number
    RAFDB(rafdb_with_tiny, split='train', check_image_size=True)
    assert len(_small_warnings(log_messages)) == 2


def test_affectnet_face_box_is_checked_without_reading_images(
        tmp_path, log_messages):
    root = tmp_path / 'AffectNet'
    lists = root / 'Manually_Annotated_file_lists'
    lists.mkdir(parents=True)
    header = ('subDirectory_filePath,face_x,face_y,face_width,face_height,'
              'facial_landmarks,expression,valence,arousal')
    rows = ['1/a.jpg,4,4,40,40,"1;2",1,0.5,0.5',
            '1/b.jpg,4,4,10,12,"1;2",2,0.5,0.5']  # a 10x12 face box
    for name in ('training.csv', 'validation.csv'):
        (lists / name).write_text('\n'.join([header] + rows) + '\n')
    for rel in ('1/a.jpg', '1/b.jpg'):
        path = root / 'Manually_Annotated_Images' / rel
        os.makedirs(path.parent, exist_ok=True)
        assert cv2.imwrite(str(path), np.zeros((64, 64, 3), np.uint8))
    AffectNet(str(root), split='train')
    warned = _small_warnings(log_messages)
    assert len(warned) == 1
    assert '1 of 2 images' in warned[0]
    assert 'b.jpg: face box 10x12 (WxH)' in warned[0]
    assert 'training.csv:3' in warned[0]


def test_load_fer_image_reports_at_1_10_100(log_messages):
    load = LoadFERImage()
    for i in range(12):
        load(dict(img=np.zeros((8, 20), np.uint8), ann_source=f'x.csv:{i}'))
    warned = _small_warnings(log_messages)
    assert len(warned) == 2
    assert 'in-memory image (x.csv:0) is 20x8 (WxH)' in warned[0]
    assert 'so far: 10 (next report at 100)' in warned[1]
    # checked by the dataset, or 16 px: nothing
    load(dict(img=np.zeros((8, 8), np.uint8), img_size_checked=True))
    load(dict(img=np.zeros((16, 16), np.uint8)))
    assert len(_small_warnings(log_messages)) == 2


def test_unreadable_header_leaves_the_check_to_the_loader(
        tmp_path, log_messages):
    good = str(tmp_path / 'good.png')
    assert cv2.imwrite(good, np.zeros((20, 20), np.uint8))
    bad = tmp_path / 'bad.png'
    bad.write_bytes(b'not an image')
    data_list = [dict(img_path=good), dict(img_path=str(bad))]
    assert not report_small_images('Test', data_list)
    assert any('header of 1 image file(s) could not be read' in m
               for m in log_messages(logging.INFO))
    assert report_small_images('Test', data_list[:1])
    assert not report_small_images('Test', data_list[:1], mode=False)
    assert not _small_warnings(log_messages)


@pytest.mark.parametrize('value', ['yes', 1, None])
def test_check_image_size_values(rafdb_root, value):
    with pytest.raises(ValueError, match="check_image_size must be 'auto'"):
        RAFDB(rafdb_root, check_image_size=value)
