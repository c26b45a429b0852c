import os
import os.path as osp
import shutil

import numpy as np
import pytest
import torch

from ferpretrain.datasets import (FER2013, FER2013_CATEGORIES,
                                  FERAnnotationError)
from ferpretrain.registry import DATASETS

PIPELINE = [dict(type='LoadFERImage'), dict(type='PackInputs')]
FOLDER_TO_CLASS = dict(
    angry='Angry',
    disgust='Disgust',
    fear='Fear',
    happy='Happy',
    sad='Sad',
    surprise='Surprise',
    neutral='Neutral')
USAGES = {'train': 'Training', 'val': 'PublicTest', 'test': 'PrivateTest'}


def _expected(rows, split):
    return [(code, gray) for code, gray, usage in rows
            if usage == USAGES[split]]


# --------------------------------------------------------------- csv layout
def test_csv_counts_labels_and_images(fer_csv_root, fer_rows):
    sizes = {'train': 14, 'val': 7, 'test': 7}
    for split, size in sizes.items():
        dataset = FER2013(fer_csv_root, split=split)
        assert dataset.layout == 'csv'
        assert len(dataset) == size
        assert dataset.class_counts() == [size // 7] * 7
        expected = _expected(fer_rows, split)
        for i, (code, gray) in enumerate(expected):
            info = dataset.get_data_info(i)
            assert info['gt_label'] == code
            assert info['img'].shape == (48, 48, 3)
            assert info['img'].dtype == np.uint8
            for c in range(3):  # gray replicated into B, G, R
                np.testing.assert_array_equal(info['img'][..., c], gray)
            assert info['img_path'] is None
            assert info['img_shape'] == (48, 48)
    # ann_source: header is line 1, row r is line r + 2
    dataset = FER2013(fer_csv_root, split='val')
    first_val_row = [u for _, _, u in fer_rows].index('PublicTest')
    assert dataset.get_data_info(0)['ann_source'] == \
        osp.join(fer_csv_root, 'fer2013.csv') + f':{first_val_row + 2}'
    assert FER2013_CATEGORIES[dataset.get_data_info(0)['gt_label']] == \
        FER2013_CATEGORIES[fer_rows[first_val_row][0]]
    assert 'PublicTest' in repr(dataset)


def test_csv_path_icml_header_and_explicit_layout(tmp_path, fer_rows,
                                                  make_fer_csv):
    icml = make_fer_csv(
        fer_rows, header='emotion, Usage, pixels', name='icml_face_data.csv')
    by_file = FER2013(icml, split='test')
    by_folder = FER2013(str(tmp_path), split='test', layout='csv')
    by_ann = FER2013(
        str(tmp_path), ann_file='icml_face_data.csv', split='test')
    expected = _expected(fer_rows, 'test')
    for dataset in (by_file, by_folder, by_ann):
        assert dataset.ann_file == icml
        assert len(dataset) == 7
        for i, (code, gray) in enumerate(expected):
            info = dataset.get_data_info(i)
            assert info['gt_label'] == code
            np.testing.assert_array_equal(info['img'][..., 0], gray)


@pytest.mark.parametrize('bad_row, problem', [
    ('3,1 2 3,Training', 'hold 3 values'),
    ('3,' + ' '.join(['7'] * 2303) + ' x,Training', "non-integer value 'x'"),
    ('3,' + ' '.join(['7'] * 2303) + ' 256,Training', '0..255'),
    ('3,,Training', 'empty'),
    ('7,' + ' '.join(['7'] * 2304) + ',Training', 'not an integer in 0..6'),
    ('-1,' + ' '.join(['7'] * 2304) + ',Training', 'not an integer in 0..6'),
    ('happy,' + ' '.join(['7'] * 2304) + ',Training', 'not an integer'),
    ('3,' + ' '.join(['7'] * 2304) + ',Validation', "unknown Usage"),
    ('3,' + ' '.join(['7'] * 2304), 'expected 3 fields'),
])
def test_bad_csv_rows(make_fer_csv, make_fer_rows, bad_row, problem):
    rows = make_fer_rows({'Training': 1, 'PublicTest': 1})  # 14 rows
    path = make_fer_csv(rows, extra_lines=[bad_row])
    with pytest.raises(FERAnnotationError) as e:
        FER2013(path, split='train')
    msg = str(e.value)
    assert f'fer2013.csv:{14 + 2}' in msg
    assert problem in msg


def test_bad_csv_header(make_fer_csv):
    path = make_fer_csv(header='emo,pixels,Usage', rows=[])
    with pytest.raises(FERAnnotationError, match=r"fer2013.csv:1.*'emotion'"):
        FER2013(path)


def test_csv_empty_split(make_fer_csv, make_fer_rows):
    path = make_fer_csv(make_fer_rows({'Training': 1}))
    with pytest.raises(ValueError, match="PrivateTest"):
        FER2013(path, split='test')


# ------------------------------------------------------------ folder layout
def test_folder_counts_and_class_mapping(fer_folder_root, fer_rows):
    train = FER2013(fer_folder_root, split='train')
    assert train.layout == 'folder'
    assert len(train) == 14
    assert FER2013(fer_folder_root, split='val').class_counts() == [1] * 7
    assert len(FER2013(fer_folder_root, split='test')) == 7
    for i in range(len(train)):
        info = train.get_data_info(i)
        folder = osp.basename(osp.dirname(info['img_path']))
        # by name, not by sorted folder order ('neutral' is code 6)
        assert FER2013_CATEGORIES[info['gt_label']] == FOLDER_TO_CLASS[folder]
        assert info['ann_source'] == info['img_path']
    neutral = [
        train.get_data_info(i) for i in range(len(train))
        if '/neutral/' in train.get_data_info(i)['img_path']
    ]
    assert len(neutral) == 2 and all(d['gt_label'] == 6 for d in neutral)


def test_both_layouts_give_the_same_samples(fer_csv_root, fer_folder_root):
    for split in ('train', 'val', 'test'):
        from_csv = FER2013(fer_csv_root, split=split, pipeline=PIPELINE)
        from_folder = FER2013(fer_folder_root, split=split, pipeline=PIPELINE)
        assert len(from_csv) == len(from_folder)
        for i in range(len(from_csv)):
            a, b = from_csv[i], from_folder[i]
            assert a['inputs'].shape == b['inputs'].shape == (3, 48, 48)
            assert a['data_samples'].gt_label.item() == \
                b['data_samples'].gt_label.item()
            # JPEG (quality 100) is lossy: compare approximately
            diff = (a['inputs'].float() - b['inputs'].float()).abs().mean()
            assert diff < 2


def test_folder_errors(make_fer_folders, fer_rows):
    root = make_fer_folders('a', fer_rows, private_test=False)
    os.makedirs(osp.join(root, 'train', 'contempt'))
    with pytest.raises(FERAnnotationError) as e:
        FER2013(root)
    assert osp.join(root, 'train', 'contempt') in str(e.value)
    assert 'unknown class folder' in str(e.value)

    root = make_fer_folders('b', fer_rows, private_test=False)
    bad = osp.join(root, 'test', 'happy', 'img_001.jpg')
    open(bad, 'wb').close()
    with pytest.raises(FERAnnotationError, match='img_001.jpg'):
        FER2013(root, split='val')

    # different images may share a name across class folders (the shared
    # copy has two such pairs): both are samples
    root = make_fer_folders('c', fer_rows, private_test=False)
    name = os.listdir(osp.join(root, 'train', 'happy'))[0]
    shutil.copy(
        osp.join(root, 'train', 'angry',
                 os.listdir(osp.join(root, 'train', 'angry'))[0]),
        osp.join(root, 'train', 'sad', name))
    dataset = FER2013(root)
    assert len(dataset) == 8
    labels = [
        d['gt_label'] for d in (dataset.get_data_info(i) for i in range(8))
        if osp.basename(d['img_path']) == name
    ]
    assert sorted(labels) == [3, 4]


def test_folder_ignores_os_junk_and_split_needs_files(make_fer_folders,
                                                      fer_rows):
    root = make_fer_folders('a', fer_rows, private_test=False)
    open(osp.join(root, 'train', 'angry', '.DS_Store'), 'w').close()
    open(osp.join(root, 'train', 'Thumbs.db'), 'w').close()
    assert len(FER2013(root)) == 7
    # no PrivateTest_ images (as in many shared copies)
    with pytest.raises(ValueError, match='PrivateTest'):
        FER2013(root, split='test')


def test_layout_detection(tmp_path, fer_csv_root, fer_rows, make_fer_folders):
    with pytest.raises(FileNotFoundError, match='fer2013.csv'):
        FER2013(str(tmp_path / 'missing'))
    with pytest.raises(FileNotFoundError, match='train/<class>'):
        FER2013(str(tmp_path / 'missing'), layout='folder')
    # data_root one level too high: suggest the sub-folder
    with pytest.raises(FileNotFoundError, match='did you mean'):
        FER2013(str(tmp_path))
    # csv and folders together: csv wins unless layout says otherwise
    make_fer_folders(fer_csv_root, fer_rows, private_test=False)
    assert FER2013(fer_csv_root).layout == 'csv'
    assert len(FER2013(fer_csv_root, layout='csv')) == 14
    assert FER2013(fer_csv_root, layout='folder').layout == 'folder'
    with pytest.raises(ValueError, match='layout'):
        FER2013(fer_csv_root, layout='lmdb')
    with pytest.raises(ValueError, match='split'):
        FER2013(fer_csv_root, split='valid')


def test_build_with_pipeline(fer_csv_root, fer_folder_root):
    for root in (fer_csv_root, fer_folder_root):
        dataset = DATASETS.build(
            dict(
                type='FER2013',
                data_root=root,
                split='val',
                test_mode=True,
                pipeline=PIPELINE))
        out = dataset[0]
        assert isinstance(out['inputs'], torch.Tensor)
        assert out['inputs'].shape == (3, 48, 48)
        assert out['inputs'].dtype == torch.uint8


@pytest.mark.parametrize('split', ['train', 'test'])
def test_csv_with_bom_reads_the_same(fer_csv_root, split,
                                     assert_bom_reads_the_same):
    # A BOM glued to the header would hide the 'emotion' column.
    assert_bom_reads_the_same(
        lambda: FER2013(fer_csv_root, split=split),
        osp.join(fer_csv_root, 'fer2013.csv'))
