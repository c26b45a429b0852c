import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from ferpretrain.datasets.base_fer import FERAnnotationError
from ferpretrain.datasets.jaffe import JAFFE, JAFFE_CATEGORIES
from ferpretrain.registry import DATASETS

SUBJECTS = ('KA', 'KL', 'KM', 'KR', 'MK')
CODES = ('AN', 'DI', 'FE', 'HA', 'NE', 'SA', 'SU')


def write_jaffe(root, subjects=SUBJECTS, codes=CODES):
    root.mkdir()
    n = 0
    for s in subjects:
        for c in codes:
            n += 1
            gray = ((np.arange(16 * 16).reshape(16, 16) + n) % 256).astype(
                np.uint8)
            assert cv2.imwrite(str(root / f'{s}.{c}1.{n}.tiff'), gray)
    (root / 'README').write_text('JAFFE')
    (root / '.DS_Store').write_text('')
    return str(root)


@pytest.fixture
def jaffe_root(tmp_path):
    return write_jaffe(tmp_path / 'jaffe')


def test_parse_all(jaffe_root):
    ds = JAFFE(jaffe_root)
    assert len(ds) == 35 and ds.class_counts() == [5] * 7
    assert ds.CLASSES == JAFFE_CATEGORIES
    info = ds.get_data_info(0)
    assert osp.basename(info['img_path']) == 'KA.AN1.1.tiff'
    assert info['subject'] == 'KA' and info['gt_label'] == 0
    assert info['take'] == 1 and info['image_id'] == 1
    assert info['ann_source'] == info['img_path']
    labels = {osp.basename(i['img_path']).split('.')[1][:2]:
              ds.CLASSES[i['gt_label']] for i in ds}
    assert labels == dict(zip(CODES, JAFFE_CATEGORIES))
    assert labels['NE'] == 'Neutral' and labels['HA'] == 'Happiness'


def test_loso(jaffe_root):
    tr = JAFFE(jaffe_root, protocol='loso', test_subject='KA')
    te = JAFFE(jaffe_root, protocol='loso', test_subject='ka', split='test')
    assert len(tr) == 28 and len(te) == 7
    assert {i['subject'] for i in te} == {'KA'}
    assert 'KA' not in {i['subject'] for i in tr}
    with pytest.raises(ValueError, match='ZZ'):
        JAFFE(jaffe_root, protocol='loso', test_subject='ZZ')
    with pytest.raises(ValueError, match='test_subject'):
        JAFFE(jaffe_root, protocol='loso')
    with pytest.raises(ValueError, match='protocol'):
        JAFFE(jaffe_root, protocol='random')


def test_kfold(jaffe_root):
    tests = []
    for fold in range(5):
        tr = JAFFE(jaffe_root, protocol='kfold', num_folds=5, fold=fold)
        te = JAFFE(jaffe_root, protocol='kfold', num_folds=5, fold=fold,
                   split='test')
        assert not {i['subject'] for i in tr} & {i['subject'] for i in te}
        assert len(te) == 7 and len(tr) == 28
        tests += [i['img_path'] for i in te]
    assert sorted(tests) == sorted(i['img_path'] for i in JAFFE(jaffe_root))
    with pytest.raises(ValueError, match='num_folds'):
        JAFFE(jaffe_root, protocol='kfold', num_folds=10)  # 5 subjects


@pytest.mark.parametrize('name,match', [('KA.XX1.99.tiff', 'XX'),
                                        ('KA_AN1_99.tiff', 'name'),
                                        ('notes.txt', 'name')])
def test_bad_names(tmp_path, name, match):
    root = write_jaffe(tmp_path / 'jaffe', subjects=('KA', ), codes=('AN', ))
    (tmp_path / 'jaffe' / name).write_bytes(b'x')
    with pytest.raises(FERAnnotationError, match=match) as e:
        JAFFE(root)
    assert name in str(e.value)


def test_build_tiff_pipeline(jaffe_root):
    ds = DATASETS.build(
        dict(type='JAFFE', data_root=jaffe_root, protocol='loso',
             test_subject='KL', split='test', test_mode=True,
             pipeline=[dict(type='LoadFERImage'), dict(type='PackInputs')]))
    out = ds[0]
    assert isinstance(out['inputs'], torch.Tensor)
    assert out['inputs'].shape == (3, 16, 16)


def test_test_mode_warning_only_under_a_protocol(jaffe_root, log_messages):
    training_data = 'the training data will be used'
    JAFFE(str(jaffe_root), test_mode=True)  # split ignored: all images
    assert not any(training_data in m for m in log_messages())
    JAFFE(str(jaffe_root), protocol='loso', test_subject='KA',
          split='train', test_mode=True)
    assert sum(training_data in m for m in log_messages()) == 1
