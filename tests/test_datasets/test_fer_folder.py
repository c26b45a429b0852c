import os
import os.path as osp

import cv2
import numpy as np
import pytest
from PIL import Image

import ferpretrain.datasets.transforms.loading  # noqa: F401
from ferpretrain.datasets.base_fer import FERAnnotationError
from ferpretrain.datasets.fer_folder import FERFolder
from ferpretrain.registry import DATASETS

CLASSES = ('Anger', 'Fear', 'Happy', 'Neutral', 'Sad')


def _img(seed, channels=3):
    rng = np.random.RandomState(seed)
    if channels == 1:
        return rng.randint(0, 255, (32, 32), np.uint8)
    return rng.randint(0, 255, (32, 32, channels), np.uint8)


def write_folder(root, layout):
    """layout: {split: {folder: n_images}}; writes .png images with cv2."""
    root = str(root)
    for split, folders in layout.items():
        for folder, n in folders.items():
            d = osp.join(root, split, folder)
            os.makedirs(d, exist_ok=True)
            for i in range(n):
                assert cv2.imwrite(osp.join(d, f'{i:03d}.png'), _img(i))
    return root


@pytest.fixture
def folder_root(tmp_path):
    # folder names in mixed case; sizes distinct per class
    return write_folder(
        tmp_path / 'fer', {
            'train': {
                'anger': 1,
                'FEAR': 2,
                'Happy': 3,
                'neutral': 4,
                'sad': 5
            },
            'test': {c.lower(): 1
                     for c in CLASSES}
        })


def _label_of_folder(ds):
    out = {}
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        folder = osp.basename(osp.dirname(info['img_path']))
        out.setdefault(folder, set()).add(info['gt_label'])
    return out


def test_labels_follow_given_order(folder_root):
    ds = FERFolder(folder_root, classes=CLASSES, split='train')
    assert ds.CLASSES == CLASSES
    assert len(ds) == 15
    assert ds.class_counts() == [1, 2, 3, 4, 5]
    assert _label_of_folder(ds) == {
        'anger': {0},
        'FEAR': {1},
        'Happy': {2},
        'neutral': {3},
        'sad': {4}
    }
    info = ds.get_data_info(0)
    assert info['ann_source'] == info['img_path']

    # reverse alphabetical order: indices follow classes, not folder sorting
    rev = tuple(reversed(CLASSES))
    ds = FERFolder(folder_root, classes=rev, split='train')
    assert ds.CLASSES == rev
    assert ds.class_counts() == [5, 4, 3, 2, 1]
    assert _label_of_folder(ds)['sad'] == {0}
    assert _label_of_folder(ds)['anger'] == {4}

    test = FERFolder(folder_root, classes=CLASSES, split='test',
                     test_mode=True)
    assert test.class_counts() == [1] * 5


def test_registry_build_and_load(folder_root):
    ds = DATASETS.build(
        dict(type='FERFolder', data_root=folder_root, classes=list(CLASSES),
             split='train', pipeline=[dict(type='LoadFERImage'),
                                      dict(type='PackInputs')]))
    out = ds[0]
    assert tuple(out['inputs'].shape) == (3, 32, 32)


def test_folder_names_mapping(tmp_path):
    root = write_folder(tmp_path, {'train': {'1': 1, '2': 2, '3': 3}})
    classes = ('Surprise', 'Fear', 'Disgust')
    ds = FERFolder(root, classes=classes, folder_names={
        '1': 'Surprise', '2': 'fear', '3': 'Disgust'})
    assert ds.class_counts() == [1, 2, 3]
    # a list parallel to classes
    ds = FERFolder(root, classes=('Disgust', 'Fear', 'Surprise'),
                   folder_names=['3', '2', '1'])
    assert ds.class_counts() == [3, 2, 1]
    assert _label_of_folder(ds) == {'1': {2}, '2': {1}, '3': {0}}
    # dict naming some folders, the others matched by class name
    root2 = write_folder(tmp_path / 'b', {'train': {'1': 1, 'fear': 2}})
    ds = FERFolder(root2, classes=('Surprise', 'Fear'),
                   folder_names={'1': 'Surprise'})
    assert ds.class_counts() == [1, 2]

    with pytest.raises(ValueError, match='not one of classes'):
        FERFolder(root, classes=classes, folder_names={'1': 'Happy'})
    with pytest.raises(ValueError, match='parallel to classes'):
        FERFolder(root, classes=classes, folder_names=['1', '2'])
    with pytest.raises(ValueError, match='twice'):
        FERFolder(root, classes=classes, folder_names=['1', '1', '3'])


def test_class_argument_errors(folder_root):
    with pytest.raises(ValueError, match='classes is required'):
        FERFolder(folder_root)
    with pytest.raises(ValueError, match='classes is required'):
        FERFolder(folder_root, classes='Anger')
    with pytest.raises(ValueError, match='case-insensitively'):
        FERFolder(folder_root, classes=('Sad', 'sad'))
    with pytest.raises(ValueError, match=r"split must be one of \('test', "
                       r"'train'\)"):
        FERFolder(folder_root, classes=CLASSES, split='val')


def test_unknown_folder(folder_root):
    os.makedirs(osp.join(folder_root, 'train', 'Contempt'))
    cv2.imwrite(osp.join(folder_root, 'train', 'Contempt', 'a.png'), _img(0))
    path = osp.join(folder_root, 'train', 'Contempt')
    with pytest.raises(FERAnnotationError,
                       match=rf"^{path}: folder 'Contempt' matches no class"):
        FERFolder(folder_root, classes=CLASSES)


def test_missing_class(folder_root):
    with pytest.raises(FileNotFoundError,
                       match=r"no folder for class\(es\) \['Surprise'\]"):
        FERFolder(folder_root, classes=CLASSES + ('Surprise', ))


def test_stray_and_ignored_files(folder_root):
    d = osp.join(folder_root, 'train', 'sad')
    # ignored: hidden files, Thumbs.db, desktop.ini, hidden folders
    for name in ('.DS_Store', 'Thumbs.db', 'desktop.ini'):
        open(osp.join(d, name), 'w').close()
    os.makedirs(osp.join(d, '.ipynb_checkpoints'))
    open(osp.join(folder_root, 'train', '.hidden'), 'w').close()
    # every accepted extension, any case
    for i, ext in enumerate(('.JPG', '.jpeg', '.bmp', '.tif', '.TIFF',
                             '.webp')):
        assert cv2.imwrite(osp.join(d, f'x{i}{ext}'), _img(i))
    ds = FERFolder(folder_root, classes=CLASSES)
    assert ds.class_counts() == [1, 2, 3, 4, 11]

    stray = osp.join(d, 'labels.txt')
    open(stray, 'w').close()
    with pytest.raises(FERAnnotationError,
                       match=rf'^{stray}: not an image'):
        FERFolder(folder_root, classes=CLASSES)
    os.remove(stray)

    sub = osp.join(d, 'more')
    os.makedirs(sub)
    with pytest.raises(FERAnnotationError, match=rf'^{sub}: not an image'):
        FERFolder(folder_root, classes=CLASSES)
    os.rmdir(sub)

    top = osp.join(folder_root, 'train', 'readme.md')
    open(top, 'w').close()
    with pytest.raises(FERAnnotationError,
                       match=rf'^{top}: a file among the class folders'):
        FERFolder(folder_root, classes=CLASSES)


def test_empty_split_and_root(tmp_path):
    root = str(tmp_path / 'r')
    for c in CLASSES:
        os.makedirs(osp.join(root, 'train', c))
    with pytest.raises(ValueError, match="no sample of split 'train'"):
        FERFolder(root, classes=CLASSES)
    with pytest.raises(FileNotFoundError, match='no split folder'):
        os.makedirs(tmp_path / 'empty')
        FERFolder(str(tmp_path / 'empty'), classes=CLASSES)
    with pytest.raises(FileNotFoundError, match='data_root not found'):
        FERFolder(str(tmp_path / 'nope'), classes=CLASSES)


def test_gray_rgba_palette_load_as_3_channels(tmp_path):
    root = str(tmp_path)
    d = osp.join(root, 'train', 'happy')
    os.makedirs(d)
    assert cv2.imwrite(osp.join(d, 'gray.png'), _img(1, channels=1))
    assert cv2.imwrite(osp.join(d, 'rgba.png'), _img(2, channels=4))
    pal = Image.fromarray(_img(3)).convert('P', palette=Image.ADAPTIVE)
    assert pal.mode == 'P'
    pal.save(osp.join(d, 'palette.png'))
    Image.fromarray(_img(4, channels=1), mode='L').convert('LA').save(
        osp.join(d, 'gray_alpha.png'))
    ds = FERFolder(root, classes=('Happy', ), pipeline=[
        dict(type='LoadFERImage'), dict(type='PackInputs')])
    assert len(ds) == 4
    for i in range(len(ds)):
        out = ds[i]
        assert tuple(out['inputs'].shape) == (3, 32, 32), \
            ds.get_data_info(i)['img_path']
    # the palette image decodes to its colours
    i = [osp.basename(ds.get_data_info(k)['img_path'])
         for k in range(len(ds))].index('palette.png')
    expected = np.asarray(pal.convert('RGB'))[:, :, ::-1]
    got = ds[i]['inputs'].permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(got, expected)
