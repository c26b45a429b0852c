"""Tests of the FERPlus dataset on tiny synthetic copies of its real layout
(three split folders, each a header-less ``label.csv`` and 48x48 grayscale
PNGs written with cv2)."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from ferpretrain.datasets import base_fer
from ferpretrain.datasets import ferplus as ferplus_mod
from ferpretrain.datasets.base_fer import FERAnnotationError
from ferpretrain.datasets.ferplus import (
    DROP_NO_EMOTION, DROP_NO_MAJORITY, DROP_TOO_FEW, DROP_UNKNOWN_NF, FERPlus,
    ferplus_target)
from ferpretrain.registry import DATASETS

FOLDERS = {'train': 'FER2013Train', 'val': 'FER2013Valid',
           'test': 'FER2013Test'}
PIPELINE = [dict(type='LoadFERImage'), dict(type='PackInputs')]

# (votes, majority gt_label or None when majority drops the row)
TRAIN_ROWS = [
    ([5, 1, 1, 1, 1, 1, 0, 0, 0, 0], 0),  # 1-votes removed -> 5/5 neutral
    ([0, 9, 1, 0, 0, 0, 0, 0, 0, 0], 1),  # happiness
    ([4, 0, 0, 1, 3, 2, 0, 0, 0, 0], None),  # 4 of 9: no majority
    ([6, 3, 1, 0, 0, 0, 0, 0, 0, 0], 0),  # neutral 6/9
    ([0, 0, 0, 0, 0, 0, 0, 0, 6, 4], None),  # only unknown / NF
    ([0, 0, 0, 0, 0, 0, 0, 7, 0, 3], 7),  # contempt
]
VAL_ROWS = [([0, 0, 8, 2, 0, 0, 0, 0, 0, 0], 2),
            ([0, 0, 0, 0, 0, 0, 10, 0, 0, 0], 6)]
TEST_ROWS = [([0, 0, 0, 6, 4, 0, 0, 0, 0, 0], 3),
             ([0, 0, 0, 0, 0, 9, 0, 0, 0, 1], 5)]


def _row(name, votes):
    return f'{name},"(0, 0, 48, 48)",' + ','.join(map(str, votes))


def write_ferplus(root, rows=None, extra_lines=None, skip_images=()):
    """Write ``root/FER2013{Train,Valid,Test}`` with label.csv and PNGs.

    ``rows`` maps split -> list of votes; ``extra_lines`` maps split ->
    raw lines appended to that label.csv.
    """
    rows = rows or {'train': [v for v, _ in TRAIN_ROWS],
                    'val': [v for v, _ in VAL_ROWS],
                    'test': [v for v, _ in TEST_ROWS]}
    extra_lines = extra_lines or {}
    n = 0
    for split, folder in FOLDERS.items():
        d = osp.join(root, folder)
        os.makedirs(d, exist_ok=True)
        lines = []
        for votes in rows.get(split, []):
            name = f'fer{n:07d}.png'
            n += 1
            lines.append(_row(name, votes))
            if name not in skip_images:
                img = ((np.arange(48 * 48).reshape(48, 48) + 17 * n) %
                       256).astype(np.uint8)
                assert cv2.imwrite(osp.join(d, name), img)
        lines += extra_lines.get(split, [])
        with open(osp.join(d, 'label.csv'), 'w', newline='') as f:
            f.write('\n'.join(lines) + '\n')
    return str(root)


@pytest.fixture
def root(tmp_path):
    return write_ferplus(tmp_path / 'FERPlus')


# ----------------------------------------------------------------- rules
@pytest.mark.parametrize('votes,label', TRAIN_ROWS + VAL_ROWS + TEST_ROWS)
def test_majority_table(votes, label):
    target, reason = ferplus_target(votes, 'majority')
    if label is None:
        assert target is None and reason
    else:
        assert reason == ''
        np.testing.assert_array_equal(target, np.eye(8)[label])


def test_majority_edge_cases():
    # ones are outliers: without removal 5 of 10 would be exactly half
    assert ferplus_target([5, 1, 1, 1, 1, 1, 0, 0, 0, 0],
                          'majority')[0].argmax() == 0
    # exactly half is not a majority
    assert ferplus_target([5, 3, 2, 0, 0, 0, 0, 0, 0, 0],
                          'majority') == (None, DROP_NO_MAJORITY)
    assert ferplus_target([4, 4, 0, 0, 0, 0, 0, 0, 0, 0],
                          'majority') == (None, DROP_NO_MAJORITY)
    # just above half
    assert ferplus_target([6, 5, 0, 0, 0, 0, 0, 0, 0, 0],
                          'majority')[0].argmax() == 0
    # unknown / NF winners
    assert ferplus_target([2, 0, 0, 0, 0, 0, 0, 0, 6, 2],
                          'majority') == (None, DROP_UNKNOWN_NF)
    assert ferplus_target([0, 3, 0, 0, 0, 0, 0, 0, 0, 7],
                          'majority') == (None, DROP_UNKNOWN_NF)
    # nothing left for the emotions: dropped in every mode
    for mode in ('majority', 'probability', 'crossentropy', 'multi_target'):
        assert ferplus_target([0] * 8 + [5, 5],
                              mode) == (None, DROP_NO_EMOTION)
        assert ferplus_target([1] * 10, mode) == (None, DROP_NO_EMOTION)
        assert ferplus_target([0] * 10, mode) == (None, DROP_NO_EMOTION)


@pytest.mark.parametrize('mode', ['probability', 'crossentropy'])
def test_distribution_rule(mode):
    t, _ = ferplus_target([6, 3, 1, 0, 0, 0, 0, 0, 0, 0], mode)
    np.testing.assert_allclose(t, [2 / 3, 1 / 3, 0, 0, 0, 0, 0, 0],
                               rtol=1e-6)
    assert t.dtype == np.float32 and t.shape == (8, )
    # stops once >= 75% is covered: 4 + 3 of 9, disgust's 2 left out
    t, _ = ferplus_target([4, 0, 0, 1, 3, 2, 0, 0, 0, 0], mode)
    np.testing.assert_allclose(t, [4 / 7, 0, 0, 0, 3 / 7, 0, 0, 0],
                               rtol=1e-6)
    # at most 3: ties pushing the count past 3 drop the row
    assert ferplus_target([3, 3, 2, 2, 0, 0, 0, 0, 0, 0],
                          mode) == (None, DROP_TOO_FEW)
    assert ferplus_target([2, 2, 2, 2, 2, 0, 0, 0, 0, 0],
                          mode) == (None, DROP_TOO_FEW)
    # three emotions, unknown afterwards is not included
    t, _ = ferplus_target([4, 3, 2, 0, 0, 0, 0, 0, 2, 0], mode)
    np.testing.assert_allclose(t, [4 / 9, 3 / 9, 2 / 9, 0, 0, 0, 0, 0],
                               rtol=1e-6)
    # unknown on top
    assert ferplus_target([2, 0, 0, 0, 0, 0, 0, 0, 8, 0],
                          mode) == (None, DROP_UNKNOWN_NF)


def test_multi_target_rule():
    # 30% of 10 = 3: neutral and happiness are targets, surprise is not
    t, _ = ferplus_target([5, 3, 2, 0, 0, 0, 0, 0, 0, 0], 'multi_target')
    np.testing.assert_allclose(t, [5 / 8, 3 / 8, 0, 0, 0, 0, 0, 0],
                               rtol=1e-6)
    # just below 30%: 2 of 7 (28.6%) is not a target
    t, _ = ferplus_target([5, 2, 0, 0, 0, 0, 0, 0, 0, 0], 'multi_target')
    np.testing.assert_allclose(t, np.eye(8)[0])
    # targets hold only 4 of 10 votes -> dropped
    assert ferplus_target([4, 2, 2, 2, 0, 0, 0, 0, 0, 0],
                          'multi_target') == (None, DROP_TOO_FEW)


def test_bad_mode():
    with pytest.raises(ValueError, match='label_mode'):
        ferplus_target([5] + [0] * 9, 'soft')


# --------------------------------------------------------------- dataset
def test_majority_dataset(root):
    ds = FERPlus(root, split='train')
    expected = [label for _, label in TRAIN_ROWS if label is not None]
    assert ds.get_gt_labels().tolist() == expected
    assert len(ds.CLASSES) == 8 and ds.CLASSES[0] == 'Neutral'
    assert ds.CLASSES[7] == 'Contempt'
    info = ds.get_data_info(0)
    assert info['img_path'] == osp.join(root, 'FER2013Train',
                                        'fer0000000.png')
    assert info['ann_source'].endswith(
        osp.join('FER2013Train', 'label.csv') + ':1')
    assert 'gt_score' not in info
    assert info['votes'].tolist() == TRAIN_ROWS[0][0]
    assert FERPlus(root, split='val').get_gt_labels().tolist() == [2, 6]
    assert FERPlus(root, split='test').get_gt_labels().tolist() == [3, 5]


def test_drops_are_logged(root, monkeypatch):
    messages = []

    class _Logger:

        def info(self, msg):
            messages.append(msg)

        warning = info

    monkeypatch.setattr(ferplus_mod.MMLogger, 'get_current_instance',
                        classmethod(lambda cls: _Logger()))
    FERPlus(root, split='train')
    msg = messages[-1]
    assert 'FERPlus train (majority labels): 6 rows' in msg
    assert 'kept 4, dropped 2' in msg
    assert f'1 ({DROP_NO_EMOTION})' in msg
    assert f'1 ({DROP_NO_MAJORITY})' in msg


def test_crossentropy_dataset(root):
    ds = FERPlus(root, split='train', label_mode='crossentropy')
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        assert info['gt_score'].dtype == np.float32
        assert info['gt_score'].shape == (8, )
        assert info['gt_score'].sum() == pytest.approx(1.0)
        assert info['gt_label'] == int(np.argmax(info['gt_score']))
    # the 4/3/2 row that majority drops is kept with a soft target
    scores = [ds.get_data_info(i)['gt_score'] for i in range(len(ds))]
    assert any(
        np.allclose(s, [4 / 7, 0, 0, 0, 3 / 7, 0, 0, 0]) for s in scores)
    assert len(ds) == 5


def test_multi_target_dataset(tmp_path):
    root = write_ferplus(
        tmp_path, rows={'train': [[5, 3, 2, 0, 0, 0, 0, 0, 0, 0],
                                  [3, 6, 0, 0, 0, 0, 0, 0, 0, 1]]})
    ds = FERPlus(root, split='train', label_mode='multi_target')
    np.testing.assert_allclose(ds.get_data_info(0)['gt_score'],
                               [0.5, 0.5, 0, 0, 0, 0, 0, 0])
    assert ds.get_data_info(0)['gt_label'] == 0
    # the target with most votes is the label, not the first target
    np.testing.assert_allclose(ds.get_data_info(1)['gt_score'],
                               [0.5, 0.5, 0, 0, 0, 0, 0, 0])
    assert ds.get_data_info(1)['gt_label'] == 1


def test_probability_sampling(tmp_path):
    root = write_ferplus(
        tmp_path, rows={'train': [[6, 0, 3, 1, 0, 0, 0, 0, 0, 0]]})
    ds = FERPlus(root, split='train', label_mode='probability', pipeline=[])
    assert ds.get_gt_labels().tolist() == [0]  # stored label = argmax
    assert 'gt_score' not in ds.get_data_info(0)
    np.random.seed(0)
    draws = np.array([ds[0]['gt_label'] for _ in range(3000)])
    assert set(draws.tolist()) <= {0, 2}  # only nonzero probabilities
    assert abs((draws == 0).mean() - 2 / 3) < 0.04
    assert abs((draws == 2).mean() - 1 / 3) < 0.04
    # the stored label is not changed by sampling
    assert ds.get_gt_labels().tolist() == [0]
    # reproducible under numpy seeding (dataloader worker seeding)
    np.random.seed(1)
    a = [ds[0]['gt_label'] for _ in range(50)]
    np.random.seed(1)
    assert a == [ds[0]['gt_label'] for _ in range(50)]


@pytest.mark.parametrize('mode',
                         ['probability', 'crossentropy', 'multi_target'])
def test_test_mode_forces_majority(root, mode):
    ds = FERPlus(root, split='test', label_mode=mode, test_mode=True,
                 pipeline=[])
    assert ds.effective_label_mode == 'majority'
    assert ds.get_gt_labels().tolist() == [3, 5]
    assert 'gt_score' not in ds.get_data_info(0)
    assert all(ds[0]['gt_label'] == 3 for _ in range(20))
    assert 'test_mode' in repr(ds)
    # without test_mode the same split gets the mode's labels
    train_like = FERPlus(root, split='test', label_mode='crossentropy')
    assert 'gt_score' in train_like.get_data_info(0)


def test_build_and_pack(root):
    ds = DATASETS.build(
        dict(type='FERPlus', data_root=root, split='train',
             label_mode='crossentropy', pipeline=PIPELINE))
    out = ds[0]
    assert out['inputs'].shape == (3, 48, 48)
    assert out['inputs'].dtype == torch.uint8
    sample = out['data_samples']
    assert sample.gt_score.shape == (8, )
    assert float(sample.gt_score.sum()) == pytest.approx(1.0)
    assert int(sample.gt_label) == 0
    # majority evaluation set: labels only
    test = DATASETS.build(
        dict(type='FERPlus', data_root=root, split='test', test_mode=True,
             label_mode='crossentropy', pipeline=PIPELINE))
    assert 'gt_score' not in test[0]['data_samples']
    assert int(test[0]['data_samples'].gt_label) == 3


def test_soft_label_loss_backward(root):
    from mmpretrain.registry import MODELS
    ds = DATASETS.build(
        dict(type='FERPlus', data_root=root, split='train',
             label_mode='crossentropy', pipeline=PIPELINE))
    samples = [ds[i]['data_samples'] for i in range(len(ds))]
    target = torch.stack([s.gt_score for s in samples])
    loss_fn = MODELS.build(dict(type='CrossEntropyLoss', use_soft=True))
    logits = torch.zeros(len(samples), 8, requires_grad=True)
    loss = loss_fn(logits, target)
    loss.backward()
    # uniform logits: CE = log(8) for any target distribution
    assert loss.item() == pytest.approx(np.log(8), rel=1e-5)
    # gradient = softmax - target
    np.testing.assert_allclose(logits.grad.numpy(),
                               (1 / 8 - target.numpy()) / len(samples),
                               atol=1e-6)


# ---------------------------------------------------------------- errors
def _bad(tmp_path, line, split='train'):
    return write_ferplus(tmp_path, rows={split: [[9] + [0] * 9]},
                         extra_lines={split: [line]})


@pytest.mark.parametrize('line,match', [
    ('fer9.png,"(0, 0, 48, 48)",1,2,3', 'expected 12 columns'),
    ('fer9.png,"(0, 0, 48, 48)",1,2,3,4,5,6,7,8,9,10,11',
     'expected 12 columns'),
    ('fer9.png,(0, 0, 48, 48),1,2,3,4,5,6,7,8,9,10', 'expected 12 columns'),
    (',"(0, 0, 48, 48)",1,0,0,0,0,0,0,0,0,0', 'empty image name'),
    ('fer9.png,"(0, 0, 48, 48)",1,x,0,0,0,0,0,0,0,0',
     "happiness vote 'x' of fer9.png is not an integer"),
    ('fer9.png,"(0, 0, 48, 48)",1,0,0,0,0,0,0,0,2.5,0',
     "unknown vote '2.5'"),
    ('fer9.png,"(0, 0, 48, 48)",1,0,0,0,0,0,0,-3,0,0',
     'contempt vote -3 of fer9.png is negative'),
])
def test_malformed_rows(tmp_path, line, match):
    root = _bad(tmp_path, line)
    with pytest.raises(FERAnnotationError, match=match) as e:
        FERPlus(root, split='train')
    assert osp.join('FER2013Train', 'label.csv') + ':2:' in str(e.value)


def test_blank_lines_ignored(tmp_path):
    root = _bad(tmp_path, '')
    assert len(FERPlus(root, split='train')) == 1


def test_missing_image(tmp_path):
    root = write_ferplus(tmp_path, skip_images=('fer0000003.png', ))
    with pytest.raises(FileNotFoundError) as e:
        FERPlus(root, split='train')
    msg = str(e.value)
    assert '1 of 4 listed images not found' in msg
    assert osp.join('FER2013Train', 'fer0000003.png') in msg
    assert osp.join('FER2013Train', 'label.csv') + ':4' in msg
    # rows dropped by the label rule need no image
    root2 = write_ferplus(tmp_path / 'b', skip_images=('fer0000002.png', ))
    assert len(FERPlus(root2, split='train')) == 4
    # labels can be inspected without images
    assert len(FERPlus(root, split='train', check_images=False)) == 4


def test_missing_label_file_and_folders(tmp_path):
    root = write_ferplus(tmp_path / 'FERPlus')
    # data_root one level too high: the fix is suggested
    with pytest.raises(FileNotFoundError, match='did you mean') as e:
        FERPlus(str(tmp_path), split='train')
    assert osp.join('FER2013Train', 'label.csv') in str(e.value)
    os.remove(osp.join(root, 'FER2013Valid', 'label.csv'))
    with pytest.raises(FileNotFoundError,
                       match='FERPlus label file not found'):
        FERPlus(root, split='val')


def test_missing_image_folder(tmp_path, monkeypatch):
    root = write_ferplus(tmp_path)
    calls = []
    real = base_fer.require_dir

    def spy(path, *args, **kwargs):
        calls.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(ferplus_mod, 'require_dir', spy)
    FERPlus(root, split='test')
    assert calls == [osp.join(root, 'FER2013Test')]
    with pytest.raises(FileNotFoundError, match='FERPlus image folder'):
        FERPlus(root, split='test', data_prefix='nowhere')


def test_empty_split(tmp_path):
    root = write_ferplus(tmp_path,
                         rows={'val': [[0] * 8 + [5, 5], [4, 4] + [0] * 8]})
    with pytest.raises(ValueError, match='2 rows, none kept'):
        FERPlus(root, split='val')


def test_bad_arguments(root):
    with pytest.raises(ValueError, match='split must be one of'):
        FERPlus(root, split='valid')
    with pytest.raises(ValueError, match='label_mode must be one of'):
        FERPlus(root, label_mode='soft')


def test_sample_error_names_csv_line(tmp_path):
    root = write_ferplus(tmp_path)
    with open(osp.join(root, 'FER2013Train', 'fer0000001.png'), 'wb') as f:
        f.write(b'not a png')
    for mode in ('majority', 'probability'):
        ds = FERPlus(root, split='train', label_mode=mode,
                     pipeline=PIPELINE)
        with pytest.raises(base_fer.FERSampleError) as e:
            ds[1]
        assert osp.join('FER2013Train', 'label.csv') + ':2' in str(e.value)


@pytest.mark.parametrize('split', ['train', 'val'])
def test_label_file_with_bom_reads_the_same(root, split,
                                            assert_bom_reads_the_same):
    # label.csv has no header: a BOM would be glued to the first image name.
    infos = assert_bom_reads_the_same(
        lambda: FERPlus(root, split=split),
        osp.join(root, FOLDERS[split], 'label.csv'))
    assert osp.basename(infos[0]['img_path']) == (
        'fer0000000.png' if split == 'train' else 'fer0000006.png')
