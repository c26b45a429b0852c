"""Every dataset config in configs/_base_/datasets builds its train, val and
test sets on a copy of its dataset's real layout, and its pipelines give
3-channel inputs of the config's size (112x112 for most; a (neutral,
target) pair of faces for the Difference-of-Embeddings configs) with as many
classes as the model predicts."""
import copy
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from ferpretrain.analysis import infer_input_size
from ferpretrain.datasets.categories import CAERS_CATEGORIES, SFEW_CATEGORIES
from ferpretrain.datasets.synthetic_faces import generate_synthetic_pairs
from ferpretrain.registry import DATASETS
# The writers of the real layouts live beside each class's own tests
# (pytest puts this folder on sys.path).
from conftest import fer2013_rows, rafdb_entries, write_fer2013_csv, \
    write_rafdb
from test_affectnet import default_rows, write_affectnet
from test_ckplus import write_ckplus
from test_ferplus import write_ferplus
from test_jaffe import write_jaffe
from test_sfew_caer import write_folders

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATASET_CONFIGS = osp.join(REPO, 'configs', '_base_', 'datasets')

# CK+ sequences of 12 subjects (10 folds need at least 10), 4 frames each.
CK_SEQS = [(f'S{100 + i:03d}', '001', 4, 1 + i % 7) for i in range(12)]
JAFFE_SUBJECTS = ('KA', 'KL', 'KM', 'KR', 'MK', 'NA', 'NM', 'TM', 'UY',
                  'YM')


def _write(name, tmp_path):
    """Write the layout the config ``name`` reads; return its data_root."""
    root = tmp_path / name
    if name.startswith('rafdb'):
        return write_rafdb(root, rafdb_entries())
    if name.startswith('fer2013'):
        root.mkdir()
        write_fer2013_csv(root / 'fer2013.csv', fer2013_rows())
        return str(root)
    if name.startswith('ferplus'):
        return write_ferplus(root)
    if name.startswith('affectnet'):
        return write_affectnet(root, default_rows(2), default_rows(1, sub=500))
    if name.startswith('ckplus'):
        return write_ckplus(root, CK_SEQS)
    if name.startswith('jaffe'):
        return write_jaffe(root, subjects=JAFFE_SUBJECTS)
    if name.startswith('caers'):
        write_folders(root, ('train', 'test'), CAERS_CATEGORIES)
        return str(root)
    if name.startswith('demo_pairs'):
        generate_synthetic_pairs(str(root), 3, 1, size=16)
        return str(root)
    if name.startswith('sfew'):
        write_folders(root, ('Train', 'Val'), SFEW_CATEGORIES)
        return str(root)
    raise AssertionError(f'no fixture for configs/_base_/datasets/{name}; '
                         'add one here')


def _with_root(dataset_cfg, root):
    """The dataset config with ``data_root`` replaced (through wrappers)."""
    dataset_cfg = copy.deepcopy(dataset_cfg)
    inner = dataset_cfg
    while 'dataset' in inner:
        inner = inner['dataset']
    inner['data_root'] = root
    inner['serialize_data'] = False
    return dataset_cfg


def _names_a_dataset(path):
    """Dataset configs name a dataset type; the shared pipelines
    (fer_112.py, transfer_aug_112.py) do not."""
    cfg = Config.fromfile(path)
    return 'type' in cfg.get('test_dataloader', {}).get('dataset', {})


CONFIGS = sorted(
    osp.basename(p) for p in glob.glob(osp.join(DATASET_CONFIGS, '*.py'))
    if _names_a_dataset(p))


def test_every_paper_dataset_has_a_config():
    assert {
        'rafdb_112.py', 'fer2013_112.py', 'ferplus_112.py',
        'affectnet7_112.py', 'affectnet8_112.py', 'ckplus_112.py',
        'jaffe_112.py', 'ckplus_all_112.py', 'jaffe_all_112.py',
        'sfew_112.py', 'caers_112.py'
    } <= set(CONFIGS)


@pytest.mark.parametrize('name', CONFIGS)
def test_dataset_config_builds_on_real_layout(name, tmp_path):
    cfg = Config.fromfile(osp.join(DATASET_CONFIGS, name))
    root = _write(osp.splitext(name)[0], tmp_path)
    num_classes = cfg.data_preprocessor.num_classes
    # A pair dataset gives both faces of a sample stacked.
    faces = (2, ) if 'NeutralPair' in cfg.test_dataloader.dataset.type \
        else ()
    shape = faces + (3, *infer_input_size(cfg))
    sizes = {}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = DATASETS.build(_with_root(cfg[loader].dataset, root))
        assert len(dataset) > 0, loader
        assert len(dataset.metainfo['classes']) == num_classes, loader
        sample = dataset[0]
        assert tuple(sample['inputs'].shape) == shape, loader
        assert 0 <= int(sample['data_samples'].gt_label) < num_classes
        sizes[loader] = len(dataset)
    if name.endswith('_all_112.py'):
        # Every image is a test image (cross-dataset evaluation).
        assert sizes['test_dataloader'] > sizes['val_dataloader']
    elif name.startswith(('ckplus', 'jaffe', 'demo_pairs')):
        # Subject folds: the held-out fold is smaller than the rest.
        assert sizes['val_dataloader'] < sizes['train_dataloader']
