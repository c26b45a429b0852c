import os
import os.path as osp

import pytest
import torch

from ferpretrain.datasets import (RAFDB, RAFDB_CATEGORIES, FERAnnotationError,
                                  FERSampleError)
from ferpretrain.registry import DATASETS

LABEL_FILE = 'list_patition_label.txt'


def _line_of(root, name):
    """1-based line of ``name`` in the fixture's label file."""
    path = osp.join(root, 'EmoLabel', LABEL_FILE)
    with open(path) as f:
        for i, line in enumerate(f, start=1):
            if line.split()[0] == name:
                return i
    raise AssertionError(name)


# ---------------------------------------------------------- normal loading
def test_counts_and_labels(rafdb_root):
    train = RAFDB(rafdb_root, split='train')
    test = RAFDB(rafdb_root, split='test', test_mode=True)
    assert len(train) == 14 and len(test) == 7
    assert train.class_counts() == [2] * 7
    assert test.class_counts() == [1] * 7
    assert train.CLASSES == RAFDB_CATEGORIES

    # label 1 -> Surprise (index 0), label 7 -> Neutral (index 6)
    info = train.get_data_info(0)
    assert osp.basename(info['img_path']) == 'train_00001_aligned.jpg'
    assert info['gt_label'] == 0
    assert train.CLASSES[info['gt_label']] == 'Surprise'
    info = train.get_data_info(6)
    assert info['gt_label'] == 6
    assert info['ann_source'].endswith(f'{LABEL_FILE}:7')
    # test split keeps its own lines (after the 14 train lines)
    info = test.get_data_info(0)
    assert osp.basename(info['img_path']) == 'test_0001_aligned.jpg'
    assert info['ann_source'].endswith(f'{LABEL_FILE}:15')

    text = repr(test)
    assert 'Number of samples: \t7' in text and 'Split: \ttest' in text


def test_image_types_and_custom_dir(make_rafdb):
    root = make_rafdb(aligned_224=True)
    aligned = RAFDB(root, image_type='aligned')
    original = RAFDB(root, image_type='original')
    assert aligned.get_data_info(3)['img_path'] == osp.join(
        root, 'Image/aligned', 'train_00004_aligned.jpg')
    assert original.get_data_info(3)['img_path'] == osp.join(
        root, 'Image/original', 'train_00004.jpg')
    # APViT's re-aligned faces: own folder, plain names
    custom = RAFDB(root, img_dir='Image/aligned_224', img_suffix='.jpg')
    assert custom.get_data_info(3)['img_path'] == osp.join(
        root, 'Image/aligned_224', 'train_00004.jpg')
    # absolute img_dir works too
    absolute = RAFDB(
        root, img_dir=osp.join(root, 'Image/aligned_224'), img_suffix='.jpg')
    assert absolute.get_data_info(3)['img_path'] == \
        custom.get_data_info(3)['img_path']


def test_build_with_pipeline(rafdb_root):
    dataset = DATASETS.build(
        dict(
            type='RAFDB',
            data_root=rafdb_root,
            split='test',
            test_mode=True,
            pipeline=[dict(type='LoadFERImage'),
                      dict(type='PackInputs')]))
    out = dataset[2]
    assert isinstance(out['inputs'], torch.Tensor)
    assert out['inputs'].shape == (3, 100, 100)
    assert out['inputs'].dtype == torch.uint8
    assert out['data_samples'].gt_label.item() == 2

    original = DATASETS.build(
        dict(
            type='RAFDB',
            data_root=rafdb_root,
            image_type='original',
            pipeline=[dict(type='LoadFERImage'),
                      dict(type='PackInputs')]))
    assert original[0]['inputs'].shape == (3, 90, 120)


# ------------------------------------------------------------------ errors
def test_missing_label_file(tmp_path, rafdb_root):
    with pytest.raises(FileNotFoundError) as e:
        RAFDB(str(tmp_path / 'nowhere'))
    msg = str(e.value)
    assert 'EmoLabel/list_patition_label.txt' in msg
    assert "'basic'" in msg
    # pointing at the parent of 'basic' suggests the right data_root
    with pytest.raises(FileNotFoundError, match="data_root='.*basic'"):
        RAFDB(str(tmp_path))


def test_missing_image_folder(make_rafdb):
    root = make_rafdb(original=False)
    os.rmdir(osp.join(root, 'Image/original'))
    with pytest.raises(FileNotFoundError, match='Image/original'):
        RAFDB(root, image_type='original')


@pytest.mark.parametrize('bad_line, problem',
                         [('train_00099.jpg', 'expected'),
                          ('train_00099.jpg 3 extra', 'expected'),
                          ('train_00099.jpg 0', 'not an integer in 1..7'),
                          ('train_00099.jpg 8', 'not an integer in 1..7'),
                          ('train_00099.jpg five', 'not an integer in 1..7'),
                          ('val_00001.jpg 3', 'unknown prefix'),
                          ('train_00001.jpg 3', 'listed again')])
def test_bad_lines(make_rafdb, bad_line, problem):
    root = make_rafdb(extra_lines=[bad_line])
    bad_lineno = 22  # 21 valid lines first
    for split in ('train', 'test'):  # checked whatever the split
        with pytest.raises(FERAnnotationError) as e:
            RAFDB(root, split=split)
        msg = str(e.value)
        assert f'{LABEL_FILE}:{bad_lineno}' in msg
        assert problem in msg


def test_blank_lines_are_ignored(make_rafdb):
    root = make_rafdb(extra_lines=['', '   '])
    assert len(RAFDB(root)) == 14


def test_missing_image(make_rafdb):
    root = make_rafdb()
    os.remove(osp.join(root, 'Image/aligned', 'train_00005_aligned.jpg'))
    with pytest.raises(FileNotFoundError) as e:
        RAFDB(root)
    msg = str(e.value)
    assert 'train_00005_aligned.jpg' in msg
    assert f'{LABEL_FILE}:{_line_of(root, "train_00005.jpg")}' in msg
    assert '1 of 14' in msg
    # the other split does not list that image
    assert len(RAFDB(root, split='test')) == 7


def test_empty_split(make_rafdb):
    root = make_rafdb(entries=[('train_00001.jpg', 1)])
    with pytest.raises(ValueError, match="split 'test'"):
        RAFDB(root, split='test')


def test_bad_arguments(rafdb_root):
    with pytest.raises(ValueError, match='split'):
        RAFDB(rafdb_root, split='val')
    with pytest.raises(ValueError, match='image_type'):
        RAFDB(rafdb_root, image_type='aligned_224')


def test_corrupt_image_names_file_and_line(rafdb_root):
    bad = osp.join(rafdb_root, 'Image/aligned', 'train_00003_aligned.jpg')
    with open(bad, 'wb') as f:
        f.write(b'\xff\xd8 this is not a jpeg')
    for test_mode in (False, True):
        dataset = RAFDB(
            rafdb_root,
            test_mode=test_mode,
            pipeline=[dict(type='LoadFERImage'),
                      dict(type='PackInputs')])
        dataset[0]  # others still load
        with pytest.raises(FERSampleError) as e:
            dataset[2]
        msg = str(e.value)
        assert bad in msg
        assert f'{LABEL_FILE}:3' in msg
        assert isinstance(e.value.__cause__, ValueError)


@pytest.mark.parametrize('split', ['train', 'test'])
def test_label_file_with_bom_reads_the_same(rafdb_root, split,
                                            assert_bom_reads_the_same):
    # A BOM glued to the first name would make it '\ufefftrain_00001.jpg'.
    infos = assert_bom_reads_the_same(
        lambda: RAFDB(rafdb_root, split=split),
        osp.join(rafdb_root, 'EmoLabel', LABEL_FILE))
    assert len(infos) == (14 if split == 'train' else 7)


def test_utf16_label_file_is_refused_by_name(rafdb_root):
    # Notepad's "Unicode" is UTF-16: say so, instead of a bare
    # UnicodeDecodeError that names no file.
    path = osp.join(rafdb_root, 'EmoLabel', LABEL_FILE)
    with open(path, encoding='utf-8') as f:
        text = f.read()
    with open(path, 'w', encoding='utf-16') as f:  # writes a BOM first
        f.write(text)
    with pytest.raises(FERAnnotationError,
                       match=rf'{LABEL_FILE}:1: the file is UTF-16 encoded '
                       r'\(re-save it as UTF-8'):
        RAFDB(rafdb_root, split='train')
