import os

import cv2
import numpy as np
import pytest
import torch

from ferpretrain.datasets.base_fer import FERAnnotationError
from ferpretrain.datasets.sfew import (CAERS, CAERS_CATEGORIES, SFEW,
                                       SFEW_CATEGORIES)
from ferpretrain.registry import DATASETS

PIPELINE = [dict(type='LoadFERImage'), dict(type='PackInputs')]


def write_folders(root, split_dirs, classes, per_class=2, shuffle=True):
    """``root/<split>/<Class>/<n>.png``; classes created in a shuffled
    order, case varied on one to test case-insensitive matching."""
    order = list(classes)
    if shuffle:
        order = [order[i] for i in np.random.RandomState(1).permutation(7)]
    n = 0
    for split in split_dirs:
        for k, cls in enumerate(order):
            name = cls.lower() if k == 0 else cls
            d = root / split / name
            os.makedirs(d)
            for _ in range(per_class + (k if split == split_dirs[0] else 0)):
                n += 1
                img = np.full((8, 9, 3), n % 256, np.uint8)
                cv2.imwrite(str(d / f'{cls}_{n:04d}.png'), img)
    return str(root)


@pytest.fixture
def sfew_root(tmp_path):
    return write_folders(tmp_path / 'SFEW_2.0', ['Train', 'Val'],
                         SFEW_CATEGORIES)


@pytest.fixture
def caer_root(tmp_path):
    return write_folders(tmp_path / 'CAER-S', ['train', 'test'],
                         CAERS_CATEGORIES)


def _check_mapping(ds):
    for info in ds:
        cls = os.path.basename(info['img_path']).split('_')[0]
        assert ds.CLASSES[info['gt_label']] == cls
        assert info['ann_source'] == info['img_path']


def test_sfew(sfew_root):
    train = SFEW(sfew_root)
    val = SFEW(sfew_root, split='val', test_mode=True)
    assert train.CLASSES == SFEW_CATEGORIES
    assert len(val) == 14 and val.class_counts() == [2] * 7
    assert len(train) == 14 + sum(range(7))
    _check_mapping(train)
    _check_mapping(val)
    with pytest.raises(ValueError, match='Val'):
        SFEW(sfew_root, split='test')


def test_caer(caer_root):
    train = CAERS(caer_root)
    test = CAERS(caer_root, split='test', test_mode=True)
    assert train.CLASSES == CAERS_CATEGORIES
    assert len(test) == 14
    _check_mapping(train)
    _check_mapping(test)


def test_errors(tmp_path, sfew_root):
    os.makedirs(os.path.join(sfew_root, 'Train', 'Contempt'))
    with pytest.raises(FERAnnotationError, match='Contempt'):
        SFEW(sfew_root)
    os.rmdir(os.path.join(sfew_root, 'Train', 'Contempt'))
    stray = os.path.join(sfew_root, 'Val', 'Sad', 'list.csv')
    open(stray, 'w').close()
    with pytest.raises(FERAnnotationError, match='list.csv'):
        SFEW(sfew_root, split='val')
    # hidden files are ignored
    os.remove(stray)
    open(os.path.join(sfew_root, 'Val', 'Sad', '.DS_Store'), 'w').close()
    assert len(SFEW(sfew_root, split='val')) == 14
    # empty split
    empty = tmp_path / 'empty'
    for cls in CAERS_CATEGORIES:
        os.makedirs(empty / 'train' / cls)
    os.makedirs(empty / 'test')
    with pytest.raises(ValueError, match='train'):
        CAERS(str(empty))
    # a class without its folder is named
    os.rmdir(empty / 'train' / 'Fear')
    with pytest.raises(FileNotFoundError, match='Fear'):
        CAERS(str(empty))
    with pytest.raises(FileNotFoundError, match='Val'):
        SFEW(str(empty), split='val')


@pytest.mark.parametrize('cfg', [
    dict(type='SFEW', split='val'),
    dict(type='CAERS', split='test'),
])
def test_build(cfg, sfew_root, caer_root):
    root = sfew_root if cfg['type'] == 'SFEW' else caer_root
    ds = DATASETS.build(dict(cfg, data_root=root, pipeline=PIPELINE))
    out = ds[0]
    assert isinstance(out['inputs'], torch.Tensor)
    assert out['inputs'].shape == (3, 8, 9)
