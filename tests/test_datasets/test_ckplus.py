import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from ferpretrain.datasets.base_fer import FERAnnotationError
from ferpretrain.datasets.ckplus import CKPLUS_CATEGORIES, CKPlus
from ferpretrain.datasets.subject_split import (leave_one_subject_out,
                                                subject_kfold)
from ferpretrain.registry import DATASETS

PIPELINE = [dict(type='LoadFERImage'), dict(type='PackInputs')]


def _img(seed, size=(12, 10)):
    return ((np.arange(size[0] * size[1]).reshape(size) + seed * 7) %
            256).astype(np.uint8)


def write_ckplus(root, sequences):
    """``sequences``: ``[(subject, seq, num_frames, code or None)]``;
    writes the official layout, emotion file named after the last frame."""
    root = str(root)
    for subj, seq, n, code in sequences:
        d = osp.join(root, 'cohn-kanade-images', subj, seq)
        os.makedirs(d, exist_ok=True)
        for k in range(1, n + 1):
            cv2.imwrite(osp.join(d, f'{subj}_{seq}_{k:08d}.png'), _img(k))
        e = osp.join(root, 'Emotion', subj, seq)
        os.makedirs(e, exist_ok=True)  # unlabelled: folder, no file
        if code is not None:
            with open(osp.join(e, f'{subj}_{seq}_{n:08d}_emotion.txt'),
                      'w') as f:
                f.write(f'   {code}\n' if isinstance(code, str) else
                        f'   {float(code):.7e}\n')
    return root


SEQS = [('S005', '001', 11, 3), ('S005', '002', 6, None),
        ('S010', '004', 5, 1), ('S010', '006', 8, 7),
        ('S011', '001', 4, 5), ('S022', '003', 7, 2),
        ('S026', '002', 9, 6), ('S032', '005', 6, 4)]


@pytest.fixture
def ck_root(tmp_path):
    return write_ckplus(tmp_path / 'CK+', SEQS)


def test_last_frames(ck_root):
    ds = CKPlus(ck_root)
    assert ds.layout == 'sequences'
    assert ds.CLASSES == CKPLUS_CATEGORIES
    assert len(ds) == 7 * 3  # 7 labelled sequences, unlabelled skipped
    info = ds.get_data_info(0)
    assert osp.basename(info['img_path']) == 'S005_001_00000009.png'
    assert info['gt_label'] == 2 and ds.CLASSES[2] == 'disgust'
    assert info['subject'] == 'S005' and info['sequence'] == 'S005_001'
    assert info['ann_source'].endswith('S005_001_00000011_emotion.txt')
    assert ds.class_counts() == [3] * 7
    names = [osp.basename(i['img_path']) for i in ds]
    assert 'S010_006_00000006.png' in names
    assert 'S010_006_00000005.png' not in names
    assert not any(n.startswith('S005_002') for n in names)


def test_with_neutral_and_num_last_frames(ck_root):
    ds = CKPlus(ck_root, with_neutral=True)
    assert ds.CLASSES == CKPLUS_CATEGORIES + ('neutral', )
    assert len(ds) == 7 * 4
    assert ds.class_counts() == [3] * 7 + [7]
    neutral = [i for i in ds if i['gt_label'] == 7]
    assert all(i['img_path'].endswith('_00000001.png') for i in neutral)
    # the metainfo of the plain dataset is unchanged
    assert CKPlus(ck_root).CLASSES == CKPLUS_CATEGORIES
    assert len(CKPlus(ck_root, num_last_frames=1)) == 7


def test_ck48_layout(tmp_path):
    root = tmp_path / 'CK+48'
    # folders listed in an order unlike the class order
    for cls, subj in (('surprise', 'S010'), ('anger', 'S011'),
                      ('Contempt', 'S022')):
        os.makedirs(root / cls)
        for k in (17, 18, 19):
            cv2.imwrite(str(root / cls / f'{subj}_004_{k:08d}.png'), _img(k))
    ds = CKPlus(str(root))
    assert ds.layout == 'ck48' and len(ds) == 9
    assert ds.class_counts() == [3, 3, 0, 0, 0, 0, 3]
    by_subject = {i['subject']: i['gt_label'] for i in ds}
    assert by_subject == {'S010': 6, 'S011': 0, 'S022': 1}
    assert ds.get_data_info(0)['sequence'] == 'S010_004'
    with pytest.raises(ValueError, match='neutral'):
        CKPlus(str(root), with_neutral=True)
    os.makedirs(root / 'joy')
    with pytest.raises(FERAnnotationError, match='joy'):
        CKPlus(str(root))
    os.rmdir(root / 'joy')
    (root / 'anger' / 'notes.txt').write_text('x')
    with pytest.raises(FERAnnotationError, match='notes.txt'):
        CKPlus(str(root))


def test_subject_folds(ck_root):
    subjects = {'S005', 'S010', 'S011', 'S022', 'S026', 'S032'}
    union = []
    for fold in range(3):
        tr = CKPlus(ck_root, num_folds=3, fold=fold)
        te = CKPlus(ck_root, num_folds=3, fold=fold, split='test')
        s_tr = {i['subject'] for i in tr}
        s_te = {i['subject'] for i in te}
        assert s_tr and s_te and not s_tr & s_te
        assert s_tr | s_te == subjects
        assert len(s_te) == 2  # 6 subjects, 3 folds: balanced
        assert len(tr) + len(te) == 21
        union += [i['img_path'] for i in te]
    assert sorted(union) == sorted(i['img_path'] for i in CKPlus(ck_root))
    a = [i['img_path'] for i in CKPlus(ck_root, num_folds=3, fold=1)]
    b = [i['img_path'] for i in CKPlus(ck_root, num_folds=3, fold=1)]
    assert a == b
    with pytest.raises(ValueError, match='fold'):
        CKPlus(ck_root, num_folds=3, fold=3)
    with pytest.raises(ValueError, match='num_folds'):
        CKPlus(ck_root, num_folds=1)
    with pytest.raises(ValueError, match='num_folds'):
        CKPlus(ck_root, num_folds=7)  # more folds than subjects


def test_subject_split_helpers():
    subjects = ['b', 'a', 'a', 'c', 'd', 'b', 'e']
    seen = []
    for fold in range(2):
        tr, te = subject_kfold(subjects, 2, fold, seed=3)
        assert sorted(tr + te) == list(range(7))
        assert not {subjects[i] for i in tr} & {subjects[i] for i in te}
        seen += te
        assert (tr, te) == subject_kfold(subjects, 2, fold, seed=3)
    assert sorted(seen) == list(range(7))
    # balanced by subjects: 5 subjects -> 3 + 2
    sizes = sorted(len({subjects[i] for i in subject_kfold(
        subjects, 2, f)[1]}) for f in range(2))
    assert sizes == [2, 3]
    assert leave_one_subject_out(subjects, 'a') == ([0, 3, 4, 5, 6], [1, 2])
    with pytest.raises(ValueError, match="'z'"):
        leave_one_subject_out(subjects, 'z')
    with pytest.raises(ValueError, match='empty'):
        subject_kfold([], 2, 0)
    with pytest.raises(ValueError, match='fold'):
        subject_kfold(subjects, 2, -1)
    with pytest.raises(TypeError):
        subject_kfold('abc', 2, 0)


@pytest.mark.parametrize('content,match', [('three', 'one number'),
                                           ('0.0000000e+00', 'outside'),
                                           ('8.0000000e+00', 'outside'),
                                           ('2.5', 'integer')])
def test_bad_emotion_file(tmp_path, content, match):
    seqs = [('S005', '001', 5, 3), ('S010', '002', 5, content)]
    root = write_ckplus(tmp_path / 'CK+', seqs)
    with pytest.raises(FERAnnotationError, match=match) as e:
        CKPlus(root)
    assert 'S010_002_00000005_emotion.txt' in str(e.value)


def test_too_few_frames(tmp_path):
    root = write_ckplus(tmp_path / 'CK+', [('S005', '001', 3, 3)])
    assert len(CKPlus(root)) == 3
    with pytest.raises(FERAnnotationError, match='need 4') as e:
        CKPlus(root, with_neutral=True)
    assert osp.join('cohn-kanade-images', 'S005', '001') in str(e.value)


def test_missing_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match='CK'):
        CKPlus(str(tmp_path / 'nowhere'))
    root = write_ckplus(tmp_path / 'CK+', [('S005', '001', 5, 3)])
    os.rename(osp.join(root, 'Emotion'), osp.join(root, 'labels'))
    with pytest.raises(FileNotFoundError, match='Emotion'):
        CKPlus(root)


def test_build_pipeline(ck_root):
    ds = DATASETS.build(
        dict(type='CKPlus', data_root=ck_root, pipeline=PIPELINE))
    out = ds[0]
    assert isinstance(out['inputs'], torch.Tensor)
    assert out['inputs'].shape == (3, 12, 10)
    assert out['data_samples'].gt_label.item() == 2


def test_emotion_files_with_bom_read_the_same(ck_root,
                                              assert_bom_reads_the_same):
    emotion_files = [
        osp.join(d, name)
        for d, _, names in os.walk(osp.join(ck_root, 'Emotion'))
        for name in names
    ]
    assert len(emotion_files) == 7
    assert_bom_reads_the_same(lambda: CKPlus(ck_root, with_neutral=True),
                              *emotion_files)


TRAINING_DATA = 'the training data will be used'


def test_test_mode_warning_only_when_split_selects_training_data(
        ck_root, log_messages):
    # Without folds the split is ignored: evaluating on all of CK+ with the
    # default split='train' uses no "training data".
    assert len(CKPlus(ck_root, test_mode=True)) == 21
    assert not any(TRAINING_DATA in m for m in log_messages())
    CKPlus(ck_root, num_folds=3, fold=0, split='test', test_mode=True)
    assert not any(TRAINING_DATA in m for m in log_messages())
    # With folds, 'train' is the training part of the fold: warned.
    CKPlus(ck_root, num_folds=3, fold=0, split='train', test_mode=True)
    warned = [m for m in log_messages() if TRAINING_DATA in m]
    assert len(warned) == 1 and "split='train'" in warned[0]
