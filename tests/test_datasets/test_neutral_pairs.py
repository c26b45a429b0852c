"""Tests of NeutralPairDataset, FERFolder's subject_pattern, the synthetic
pairs generator and PairDataPreprocessor.

Fixtures are tiny and written in the real layouts: CK+ official sequences
(``write_ckplus`` of test_ckplus), CK+48 (``ck48_root`` of conftest), JAFFE
flat .tiff files (``write_jaffe`` of test_jaffe), FERFolder with person ids
in the file names, and the demo pairs generator.
"""
import importlib.util
import logging
import os
import os.path as osp
import random
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate, pseudo_collate
from mmengine.runner import Runner
from mmpretrain.models.utils import ClsDataPreprocessor
from test_ckplus import SEQS, write_ckplus
from test_jaffe import write_jaffe

from ferpretrain.datasets import (EXPRESSIONS, PAIRS_SUBJECT_PATTERN,
                                  ClassBalancedSampler, FERFolder,
                                  NeutralPairDataset, draw_face,
                                  generate_synthetic_pairs, sample_identity)
from ferpretrain.datasets import neutral_pairs as neutral_pairs_module
from ferpretrain.datasets.base_fer import FERAnnotationError
from ferpretrain.datasets.categories import (CKPLUS_CATEGORIES,
                                             JAFFE_CATEGORIES)
from ferpretrain.datasets.neutral_pairs import (get_rng_states,
                                                set_rng_states)
from ferpretrain.models.utils import PairDataPreprocessor
from ferpretrain.utils.errors import ConfigError

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLI = osp.join(REPO, 'tools', 'dataset_converters', 'generate_demo_pairs.py')
PIPELINE = [dict(type='LoadFERImage'), dict(type='PackInputs')]
RANDOM_PIPELINE = [
    dict(type='LoadFERImage'),
    dict(type='RandomResizedCrop', scale=24, crop_ratio_range=(0.3, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandomApply',
        transforms=[dict(type='ColorJitter', brightness=0.5, contrast=0.5)],
        prob=0.8),
    dict(type='PackInputs'),
]
JAFFE_TARGETS = ('Anger', 'Disgust', 'Fear', 'Happiness', 'Sadness',
                 'Surprise')


def _file_tensor(path):
    """What LoadFERImage + PackInputs give for ``path`` (BGR, CHW)."""
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    assert img is not None, path
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


def _seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ------------------------------------------------------------------ CK+
@pytest.fixture
def ck_root(tmp_path):
    return write_ckplus(tmp_path / 'CK+', SEQS)


def _ck_pairs(root, **kwargs):
    inner = dict(type='CKPlus', data_root=root, with_neutral=True)
    inner.update(kwargs.pop('inner', {}))
    return NeutralPairDataset(
        inner, pipeline=PIPELINE, pair_by=kwargs.pop('pair_by', 'sequence'),
        **kwargs)


def test_ckplus_pairs_by_sequence(ck_root):
    ds = _ck_pairs(ck_root)
    # 7 labelled sequences x 3 peak frames; the 7 neutral frames are
    # references, not samples
    assert len(ds) == 21 and ds.unpaired == {}
    assert ds.classes == CKPLUS_CATEGORIES  # 'neutral' (index 7) dropped
    assert ds.metainfo['classes'] == CKPLUS_CATEGORIES
    assert ds.class_counts() == [3] * 7
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        frame_dir = osp.dirname(info['img_path'])
        # the first frame of the target's own sequence
        assert info['neutral_path'] == osp.join(
            frame_dir, f'{info["sequence"]}_00000001.png')
        assert info['img_path'] != info['neutral_path']
    sample = ds[5]
    info = ds.get_data_info(5)
    assert sample['inputs'].shape == (2, 3, 12, 10)
    assert torch.equal(sample['inputs'][0],
                       _file_tensor(info['neutral_path']))
    assert torch.equal(sample['inputs'][1], _file_tensor(info['img_path']))
    assert not torch.equal(sample['inputs'][0], sample['inputs'][1])
    ds_meta = sample['data_samples'].metainfo
    assert ds_meta['neutral_path'] == info['neutral_path']
    assert ds_meta['img_path'] == info['img_path']
    assert int(sample['data_samples'].gt_label) == info['gt_label']


def test_ckplus_pairs_by_subject_take_first_sorted_neutral(ck_root):
    # S010 has sequences 004 and 006: both pair with S010_004's first frame
    ds = _ck_pairs(ck_root, pair_by='subject')
    s010 = [ds.get_data_info(i) for i in range(len(ds))
            if ds.get_data_info(i)['subject'] == 'S010']
    assert {i['sequence'] for i in s010} == {'S010_004', 'S010_006'}
    assert {osp.basename(i['neutral_path'])
            for i in s010} == {'S010_004_00000001.png'}


def test_ckplus_folds_stay_subject_independent(ck_root):
    train = _ck_pairs(ck_root, inner=dict(num_folds=3, fold=1))
    test = _ck_pairs(
        ck_root, inner=dict(num_folds=3, fold=1, split='test',
                            test_mode=True))
    assert len(train) + len(test) == 21
    subjects = []
    for ds in (train, test):
        infos = [ds.get_data_info(i) for i in range(len(ds))]
        for info in infos:
            # the neutral frame belongs to the target's subject
            assert osp.basename(info['neutral_path']).startswith(
                info['subject'] + '_')
        subjects.append({i['subject'] for i in infos})
    assert subjects[0] and subjects[1] and not subjects[0] & subjects[1]


def test_ck48_needs_reference_self(ck48_root):
    with pytest.raises(ConfigError) as err:
        NeutralPairDataset(
            dict(type='CKPlus', data_root=ck48_root), pipeline=PIPELINE,
            pair_by='sequence')
    msg = str(err.value)
    assert 'CK+48 has no neutral frames' in msg
    assert 'with_neutral=True' in msg and "reference='self'" in msg
    ds = NeutralPairDataset(
        dict(type='CKPlus', data_root=ck48_root), pipeline=PIPELINE,
        reference='self')
    assert len(ds) == 21 and ds.classes == CKPLUS_CATEGORIES
    assert ds.class_counts() == [3] * 7
    sample = ds[4]
    info = ds.get_data_info(4)
    assert info['neutral_path'] == info['img_path']
    assert torch.equal(sample['inputs'][0], sample['inputs'][1])
    assert torch.equal(sample['inputs'][1], _file_tensor(info['img_path']))


# ---------------------------------------------------------------- JAFFE
@pytest.fixture
def jaffe_root(tmp_path):
    root = write_jaffe(tmp_path / 'jaffe')
    # KA gets two more neutral images; its first by sorted path stays
    # KA.NE1.5.tiff (names sort by characters: 'KA.NE1' < 'KA.NE2')
    for name, value in (('KA.NE3.90.tiff', 200), ('KA.NE2.91.tiff', 100)):
        assert cv2.imwrite(osp.join(root, name),
                           np.full((16, 16), value, np.uint8))
    return root


def _jaffe_pairs(root, pipeline=PIPELINE, **kwargs):
    inner = dict(type='JAFFE', data_root=root)
    inner.update(kwargs.pop('inner', {}))
    return NeutralPairDataset(inner, pipeline=pipeline, **kwargs)


def test_jaffe_loso_pairs(jaffe_root):
    ds = _jaffe_pairs(
        jaffe_root, neutral_class='Neutral',
        inner=dict(protocol='loso', test_subject='KA', split='test',
                   test_mode=True))
    assert ds.classes == JAFFE_TARGETS
    assert len(ds) == 6
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        assert info['subject'] == 'KA'
        assert osp.basename(info['neutral_path']) == 'KA.NE1.5.tiff'
        # labels remapped by name: the class of the target's file code
        code = osp.basename(info['img_path']).split('.')[1][:2]
        expected = JAFFE_CATEGORIES[('AN', 'DI', 'FE', 'HA', 'NE', 'SA',
                                     'SU').index(code)]
        assert ds.classes[info['gt_label']] == expected
        sample = ds[i]
        assert torch.equal(sample['inputs'][0],
                           _file_tensor(info['neutral_path']))
        assert torch.equal(sample['inputs'][1],
                           _file_tensor(info['img_path']))
    # Surprise is 6 in JAFFE, 5 here; Anger stays 0
    by_name = {ds.classes[int(ds.get_cat_ids(i)[0])]: int(ds.get_cat_ids(
        i)[0]) for i in range(len(ds))}
    assert by_name['Surprise'] == 5 and by_name['Sadness'] == 4
    assert by_name['Anger'] == 0
    assert ds.get_gt_labels().tolist() == sorted(by_name.values())
    # the training split holds the other subjects, each with its own NE
    train = _jaffe_pairs(
        jaffe_root, inner=dict(protocol='loso', test_subject='KA'))
    assert len(train) == 4 * 6
    for i in range(len(train)):
        info = train.get_data_info(i)
        assert info['subject'] != 'KA'
        assert osp.basename(info['neutral_path']).startswith(
            info['subject'] + '.NE')


def test_neutral_class_matching(jaffe_root):
    # default 'neutral' matches JAFFE's 'Neutral' case-insensitively, the
    # code 'NE' as an expression name
    for name in ('neutral', 'Neutral', 'NE'):
        ds = _jaffe_pairs(jaffe_root, neutral_class=name)
        assert ds.neutral_label == 4 and ds.classes == JAFFE_TARGETS
    with pytest.raises(ConfigError, match="neutral_class='calm'"):
        _jaffe_pairs(jaffe_root, neutral_class='calm')


def test_inner_pipeline_is_ignored(jaffe_root):
    inner_pipeline = [dict(type='LoadFERImage'),
                      dict(type='Resize', scale=(8, 8)),
                      dict(type='PackInputs')]
    ds = _jaffe_pairs(jaffe_root, inner=dict(pipeline=inner_pipeline))
    assert ds.dataset[0]['inputs'].shape[-2:] == (8, 8)
    assert ds[0]['inputs'].shape == (2, 3, 16, 16)


def test_reference_self(jaffe_root):
    ds = _jaffe_pairs(jaffe_root, pipeline=RANDOM_PIPELINE,
                      reference='self')
    # same targets and classes as with neutral references
    assert len(ds) == 30 and ds.classes == JAFFE_TARGETS
    for i in (0, 7, 29):
        _seed_all(i)
        sample = ds[i]
        assert torch.equal(sample['inputs'][0], sample['inputs'][1])
        assert sample['data_samples'].metainfo['neutral_path'] == \
            ds.get_data_info(i)['img_path']


def test_missing_neutral(jaffe_root, log_messages):
    for path in os.listdir(jaffe_root):
        if path.startswith(('KM.NE', 'MK.NE')):
            os.remove(osp.join(jaffe_root, path))
    ds = _jaffe_pairs(jaffe_root)
    assert ds.unpaired == {'KM': 6, 'MK': 6}
    assert len(ds) == 30 - 12
    assert {ds.get_data_info(i)['subject']
            for i in range(len(ds))} == {'KA', 'KL', 'KR'}
    warnings = [m for m in log_messages(logging.WARNING)
                if 'NeutralPairDataset' in m]
    assert len(warnings) == 1
    assert '12 of 30 target images' in warnings[0]
    assert '2 group(s)' in warnings[0]
    assert 'KM (6)' in warnings[0] and 'MK (6)' in warnings[0]
    assert "missing_neutral='skip'" in warnings[0]

    paired_self = _jaffe_pairs(jaffe_root, missing_neutral='self')
    assert paired_self.unpaired == {'KM': 6, 'MK': 6}
    assert len(paired_self) == 30
    km = [i for i in range(30)
          if paired_self.get_data_info(i)['subject'] == 'KM']
    assert len(km) == 6
    sample = paired_self[km[0]]
    assert torch.equal(sample['inputs'][0], sample['inputs'][1])
    assert len([m for m in log_messages(logging.WARNING)
                if 'paired with themselves' in m]) == 1

    with pytest.raises(ConfigError, match=r'KM \(6\), MK \(6\)'):
        _jaffe_pairs(jaffe_root, missing_neutral='error')
    with pytest.raises(ValueError, match='missing_neutral'):
        _jaffe_pairs(jaffe_root, missing_neutral='drop')


def test_no_pair_at_all(jaffe_root):
    for path in os.listdir(jaffe_root):
        if '.NE' in path:
            os.remove(osp.join(jaffe_root, path))
    with pytest.raises(ConfigError, match='no pair'):
        _jaffe_pairs(jaffe_root)


def test_several_neutrals_first_by_sorted_path(tmp_path):
    # an inner dataset object (not a config) listing neutrals unsorted
    paths = {}
    for name, value in (('b_neutral.png', 10), ('a_neutral.png', 20),
                        ('c_happy.png', 30)):
        paths[name] = str(tmp_path / name)
        assert cv2.imwrite(paths[name], np.full((16, 16), value, np.uint8))

    class ListDataset:
        metainfo = dict(classes=('happy', 'neutral'))

        def __init__(self, infos):
            self.infos = infos

        def __len__(self):
            return len(self.infos)

        def get_data_info(self, idx):
            return dict(self.infos[idx])

    inner = ListDataset([
        dict(img_path=paths['c_happy.png'], gt_label=0, subject='x'),
        dict(img_path=paths['b_neutral.png'], gt_label=1, subject='x'),
        dict(img_path=paths['a_neutral.png'], gt_label=1, subject='x'),
    ])
    ds = NeutralPairDataset(inner, pipeline=PIPELINE)
    assert len(ds) == 1 and ds.classes == ('happy', )
    assert ds.get_data_info(0)['neutral_path'] == paths['a_neutral.png']
    assert int(ds[0]['inputs'][0].max()) == 20


def test_missing_pair_key(tmp_path):
    root = _write_persons(tmp_path / 'fer')
    with pytest.raises(ConfigError) as err:
        NeutralPairDataset(
            dict(type='FERFolder', data_root=root, classes=PERSON_CLASSES),
            pipeline=PIPELINE)
    msg = str(err.value)
    assert "no 'subject' key" in msg and 'subject_pattern' in msg
    assert 'CKPlus' in msg and 'JAFFE' in msg
    with pytest.raises(ConfigError, match="no 'session' key"):
        NeutralPairDataset(
            dict(type='FERFolder', data_root=root, classes=PERSON_CLASSES,
                 subject_pattern=r'^(p\d+)_'),
            pipeline=PIPELINE, pair_by='session')


def test_pipeline_required(jaffe_root):
    with pytest.raises(ConfigError, match='pipeline is required'):
        _jaffe_pairs(jaffe_root, pipeline=[])


# --------------------------------------------------- FERFolder subjects
PERSON_CLASSES = ('Anger', 'Neutral', 'Happy')


def _write_persons(root, persons=('p01', 'p02'), image=None):
    """``<root>/train/<class>/<person>_1.png`` for every class and person;
    ``image(person, cls)`` gives the pixels (default: distinct per file)."""
    for k, person in enumerate(persons):
        for c, cls in enumerate(PERSON_CLASSES):
            d = osp.join(str(root), 'train', cls.lower())
            os.makedirs(d, exist_ok=True)
            img = image(person, cls) if image else np.full(
                (20, 20), 10 * k + c + 1, np.uint8)
            assert cv2.imwrite(osp.join(d, f'{person}_1.png'), img)
    return str(root)


def test_ferfolder_subject_pattern(tmp_path):
    root = _write_persons(tmp_path / 'fer')
    ds = FERFolder(root, classes=PERSON_CLASSES, subject_pattern=r'^(p\d+)_')
    assert [i['subject'] for i in ds] == ['p01', 'p02'] * 3
    named = FERFolder(root, classes=PERSON_CLASSES,
                      subject_pattern=r'(x)?(?P<subject>p\d+)')
    assert [i['subject'] for i in named] == ['p01', 'p02'] * 3
    assert 'subject' not in FERFolder(root, classes=PERSON_CLASSES)[0]
    # remapped by name around the neutral class in the middle
    pairs = NeutralPairDataset(
        dict(type='FERFolder', data_root=root, classes=PERSON_CLASSES,
             subject_pattern=r'^(p\d+)_'), pipeline=PIPELINE)
    assert pairs.classes == ('Anger', 'Happy')
    infos = [pairs.get_data_info(i) for i in range(len(pairs))]
    assert [(i['subject'], pairs.classes[i['gt_label']]) for i in infos] == [
        ('p01', 'Anger'), ('p02', 'Anger'), ('p01', 'Happy'),
        ('p02', 'Happy')]
    for info in infos:
        assert info['neutral_path'] == osp.join(
            root, 'train', 'neutral', f'{info["subject"]}_1.png')
    # p01's Happy image is 3, its neutral 2; p02's: 13 and 12
    sample = pairs[3]
    assert int(sample['inputs'][0].max()) == 12
    assert int(sample['inputs'][1].max()) == 13


def test_ferfolder_subject_pattern_errors(tmp_path):
    root = _write_persons(tmp_path / 'fer')
    bad = osp.join(root, 'train', 'happy', 'IMG_0001.png')
    assert cv2.imwrite(bad, np.zeros((20, 20), np.uint8))
    with pytest.raises(FERAnnotationError) as err:
        FERFolder(root, classes=PERSON_CLASSES, subject_pattern=r'^(p\d+)_')
    assert bad in str(err.value) and r'^(p\d+)_' in str(err.value)
    os.remove(bad)
    with pytest.raises(ValueError, match='has no group'):
        FERFolder(root, classes=PERSON_CLASSES, subject_pattern=r'^p\d+_')
    with pytest.raises(ValueError, match='not a valid regular expression'):
        FERFolder(root, classes=PERSON_CLASSES, subject_pattern='(p')


# ------------------------------------------------ same random decisions
def test_rng_states_round_trip():
    states = get_rng_states()
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_states(states)
    assert (random.random(), np.random.rand(),
            torch.rand(1).item()) == first


def _same_image_pairs(tmp_path):
    """One person whose neutral and happy images are the same file
    content: any difference between the halves comes from augmentation."""
    noise = np.random.RandomState(0).randint(0, 256, (40, 40, 3), np.uint8)
    root = _write_persons(tmp_path / 'same', persons=('p01', ),
                          image=lambda person, cls: noise)
    return NeutralPairDataset(
        dict(type='FERFolder', data_root=root, classes=PERSON_CLASSES,
             subject_pattern=r'^(p\d+)_'), pipeline=RANDOM_PIPELINE)


def test_same_random_decisions_for_both_images(tmp_path, monkeypatch):
    ds = _same_image_pairs(tmp_path)
    assert len(ds) == 2
    assert ds.get_data_info(1)['neutral_path'] != \
        ds.get_data_info(1)['img_path']
    outputs, flips = [], set()
    for seed in range(8):
        _seed_all(seed)
        sample = ds[1]
        assert sample['inputs'].shape == (2, 3, 24, 24)
        assert torch.equal(sample['inputs'][0], sample['inputs'][1]), seed
        outputs.append(sample['inputs'][1])
        flips.add(sample['data_samples'].flip)
    # the augmentation is real: outputs differ between calls, both flip
    # decisions occur
    assert flips == {True, False}
    assert len({o.numpy().tobytes() for o in outputs}) == len(outputs)
    # without restoring the generators the halves would differ: the test
    # above can fail
    monkeypatch.setattr(neutral_pairs_module, 'set_rng_states',
                        lambda states: None)
    differ = 0
    for seed in range(8):
        _seed_all(seed)
        sample = ds[1]
        differ += not torch.equal(sample['inputs'][0], sample['inputs'][1])
    assert differ > 0


@pytest.mark.parametrize('in_worker', [False, True])
def test_same_decisions_under_the_reseeding_hook(tmp_path, monkeypatch,
                                                 in_worker):
    """ReproducibleRandomnessHook wraps every dataset's ``pipeline`` in a
    SeededPipeline that swaps the generator states around each call (in the
    main process) or reseeds once an epoch (in a loader worker); one pair
    must stay one call, or the two faces get different decisions."""
    from types import SimpleNamespace

    from ferpretrain.engine.hooks import reproducible_randomness as rr
    ds = _same_image_pairs(tmp_path)
    randomness = rr.DataRandomness(0, 0, 0)
    ds.pipeline = rr.SeededPipeline(ds.pipeline, randomness)
    worker = SimpleNamespace(id=0) if in_worker else None
    monkeypatch.setattr(rr, 'get_worker_info', lambda: worker)
    flips = set()
    for epoch in range(3):
        randomness._round.value = epoch
        for _ in range(3):
            sample = ds[1]
            assert torch.equal(sample['inputs'][0], sample['inputs'][1])
            flips.add(sample['data_samples'].flip)
    assert flips == {True, False}


# ------------------------------------------------------ batching, runner
def _pairs_cfg(root):
    return dict(
        type='NeutralPairDataset',
        dataset=dict(type='FERFolder', data_root=root,
                     classes=PERSON_CLASSES, subject_pattern=r'^(p\d+)_'),
        pipeline=PIPELINE)


def test_collate_and_preprocessor(tmp_path):
    ds = NeutralPairDataset(**{
        k: v for k, v in _pairs_cfg(_write_persons(tmp_path / 'f')).items()
        if k != 'type'
    })
    items = [ds[0], ds[3]]
    listed = pseudo_collate(items)
    assert isinstance(listed['inputs'], list)
    assert [t.shape for t in listed['inputs']] == [(2, 3, 20, 20)] * 2
    stacked = default_collate(items)
    assert stacked['inputs'].shape == (2, 2, 3, 20, 20)
    assert len(stacked['data_samples']) == 2

    mean, std = [10., 20., 30.], [2., 4., 8.]
    pre = PairDataPreprocessor(mean=mean, std=std, to_rgb=True)
    single = ClsDataPreprocessor(mean=mean, std=std, to_rgb=True)
    for batch in (listed, stacked):
        out = pre(dict(batch), training=True)
        x = out['inputs']
        assert x.shape == (2, 2, 3, 20, 20) and x.dtype == torch.float32
        for b, item in enumerate(items):
            for k in range(2):
                # each half as the single-image preprocessor treats it
                ref = single(dict(inputs=[item['inputs'][k]]))['inputs'][0]
                torch.testing.assert_close(x[b, k], ref)
        labels = [int(s.gt_label) for s in out['data_samples']]
        assert labels == [int(i['data_samples'].gt_label) for i in items]
    # neutral and target differ, so the halves must differ after it
    assert not torch.equal(x[0, 0], x[0, 1])
    # by hand: BGR -> RGB, then (x - mean) / std, the same for both halves
    raw = items[1]['inputs'].float().flip(1)
    expected = (raw - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(
        std).view(1, 3, 1, 1)
    torch.testing.assert_close(x[1], expected)


def test_preprocessor_pads_pairs_of_different_sizes():
    pre = PairDataPreprocessor()
    out = pre(dict(inputs=[torch.ones(2, 3, 20, 24),
                           torch.ones(2, 3, 24, 20)]))
    assert out['inputs'].shape == (2, 2, 3, 24, 24)


def test_preprocessor_errors():
    with pytest.raises(ConfigError, match='batch_augments'):
        PairDataPreprocessor(
            num_classes=6,
            batch_augments=dict(augments=dict(type='Mixup', alpha=0.8)))
    pre = PairDataPreprocessor()
    for inputs in (torch.zeros(4, 3, 8, 8), [torch.zeros(3, 8, 8)] * 2,
                   [torch.zeros(3, 3, 8, 8)], torch.zeros(2, 3, 3, 8, 8)):
        with pytest.raises(ConfigError, match='is for paired inputs'):
            pre(dict(inputs=inputs))


def test_runner_dataloader_and_sampler(tmp_path):
    cfg = _pairs_cfg(_write_persons(tmp_path / 'f', persons=('p1', 'p2',
                                                              'p3')))
    cfg['lazy_init'] = True
    loader = Runner.build_dataloader(
        dict(batch_size=4, num_workers=0, dataset=cfg,
             sampler=dict(type='DefaultSampler', shuffle=False),
             collate_fn=dict(type='default_collate')), seed=0)
    batch = next(iter(loader))
    assert batch['inputs'].shape == (4, 2, 3, 20, 20)
    assert loader.dataset.metainfo['classes'] == ('Anger', 'Happy')
    sampler = ClassBalancedSampler(loader.dataset, seed=0)
    assert sampler.class_counts.tolist() == [3, 3]
    assert len(list(iter(sampler))) == 6


def test_lazy_init_and_indexing(jaffe_root):
    ds = _jaffe_pairs(jaffe_root, lazy_init=True)
    assert not ds._fully_initialized
    assert ds.metainfo['classes'] == JAFFE_TARGETS  # without full_init
    assert len(ds) == 30 and ds._fully_initialized
    assert ds.get_data_info(-1) == ds.get_data_info(29)
    assert ds.get_data_info(29)['sample_idx'] == 29
    with pytest.raises(IndexError):
        ds.get_data_info(30)
    assert 'num_pairs=30' in repr(ds)


# ------------------------------------------------- synthetic demo pairs
@pytest.fixture(scope='module')
def demo_pairs(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('pairs'))
    summary = generate_synthetic_pairs(
        out, num_train_subjects=2, num_test_subjects=2, size=32, seed=0)
    return out, summary


def test_demo_pairs_layout(demo_pairs):
    out, summary = demo_pairs
    assert summary['root'] == osp.abspath(out)
    assert summary['subjects'] == {'train': ['p0001', 'p0002'],
                                   'test': ['p0003', 'p0004']}
    assert summary['num_images'] == {'train': 14, 'test': 14}
    assert summary['subject_pattern'] == PAIRS_SUBJECT_PATTERN
    assert sorted(os.listdir(out)) == ['test', 'train']
    assert sorted(os.listdir(osp.join(out, 'train'))) == sorted(EXPRESSIONS)
    for expression in EXPRESSIONS:
        assert sorted(os.listdir(osp.join(out, 'train', expression))) == [
            'p0001_1.jpg', 'p0002_1.jpg']
    img = cv2.imread(osp.join(out, 'test', 'Neutral', 'p0004_1.jpg'))
    assert img.shape == (32, 32, 3) and img.std() > 5


def test_demo_pairs_are_subject_independent(demo_pairs):
    out, _ = demo_pairs
    subjects = {}
    for split in ('train', 'test'):
        ds = NeutralPairDataset(
            dict(type='FERFolder', data_root=out, split=split,
                 classes=EXPRESSIONS, subject_pattern=PAIRS_SUBJECT_PATTERN),
            pipeline=PIPELINE, neutral_class='Neutral')
        assert len(ds) == 2 * 6 and ds.unpaired == {}
        assert ds.classes == EXPRESSIONS[:-1]
        infos = [ds.get_data_info(i) for i in range(len(ds))]
        for info in infos:
            assert info['neutral_path'] == osp.join(
                out, split, 'Neutral', f'{info["subject"]}_1.jpg')
            assert osp.basename(info['img_path']).startswith(
                info['subject'] + '_')
        subjects[split] = {i['subject'] for i in infos}
    assert len(subjects['train']) == len(subjects['test']) == 2
    assert not subjects['train'] & subjects['test']


def test_demo_pairs_same_person_and_deterministic(tmp_path, demo_pairs):
    out, _ = demo_pairs
    again = str(tmp_path / 'again')
    generate_synthetic_pairs(again, num_train_subjects=2,
                             num_test_subjects=2, size=32, seed=0, workers=2)
    for rel in ('train/Anger/p0001_1.jpg', 'test/Neutral/p0003_1.jpg'):
        with open(osp.join(out, rel), 'rb') as a, \
                open(osp.join(again, rel), 'rb') as b:
            assert a.read() == b.read(), rel
    # one identity drawn with two expressions: same person, other face;
    # the same background draw (same rng seed) isolates the expression
    identity = sample_identity(np.random.default_rng(7))
    neutral = draw_face('Neutral', np.random.default_rng(1), 64, identity)
    happy = draw_face('Happiness', np.random.default_rng(1), 64, identity)
    other = draw_face('Neutral', np.random.default_rng(1), 64,
                      sample_identity(np.random.default_rng(8)))
    diff_expr = np.abs(neutral.astype(int) - happy.astype(int)).mean()
    diff_person = np.abs(neutral.astype(int) - other.astype(int)).mean()
    assert 0 < diff_expr < diff_person
    with pytest.raises(ValueError, match='num_train_subjects'):
        generate_synthetic_pairs(again, num_train_subjects=0)
    with pytest.raises(ValueError, match='takes'):
        generate_synthetic_pairs(again, takes=0)


def test_demo_pairs_takes(tmp_path):
    summary = generate_synthetic_pairs(
        str(tmp_path), num_train_subjects=1, num_test_subjects=0, size=16,
        takes=2)
    assert summary['num_images'] == {'train': 14, 'test': 0}
    assert not osp.exists(tmp_path / 'test')
    a, b = (cv2.imread(str(tmp_path / 'train' / 'Fear' / f'p0001_{t}.jpg'))
            for t in (1, 2))
    assert a.shape == b.shape == (16, 16, 3) and not np.array_equal(a, b)


def test_demo_pairs_cli(tmp_path, capsys):
    out = str(tmp_path / 'demo')
    args = [out, '--num-train-subjects', '1', '--num-test-subjects', '1',
            '--size', '16']
    # once as a program ...
    first = subprocess.run([sys.executable, CLI, *args],
                           capture_output=True, text=True, cwd=REPO)
    assert first.returncode == 0, first.stderr
    assert osp.abspath(out) in first.stdout
    assert "subject_pattern=r'^(p\\d+)_'" in first.stdout
    assert "type='NeutralPairDataset'" in first.stdout
    assert "'Surprise', 'Fear'" in first.stdout
    assert len(os.listdir(osp.join(out, 'test', 'Neutral'))) == 1
    # ... then its main() in this process (importing it again is slow)
    spec = importlib.util.spec_from_file_location('generate_demo_pairs',
                                                  CLI)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    with pytest.raises(SystemExit, match='--overwrite'):
        cli.main(args + ['--takes', '2'])
    assert len(os.listdir(osp.join(out, 'train', 'Neutral'))) == 1
    cli.main(args + ['--takes', '2', '--overwrite'])
    assert 'deleting' in capsys.readouterr().out
    assert sorted(os.listdir(osp.join(out, 'train', 'Neutral'))) == [
        'p0001_1.jpg', 'p0001_2.jpg']
    shutil.rmtree(out)
