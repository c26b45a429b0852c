import numpy as np
import pytest

import ferpretrain.datasets.samplers as samplers_mod
from ferpretrain.datasets.samplers import ClassBalancedSampler
from ferpretrain.registry import DATA_SAMPLERS


class ToyDataset:
    """Imbalanced labels: class 0 x 800, class 1 x 150, class 2 x 50."""

    def __init__(self, counts=(800, 150, 50)):
        self.labels = np.concatenate(
            [np.full(n, c) for c, n in enumerate(counts)])

    def __len__(self):
        return len(self.labels)

    def get_gt_labels(self):
        return self.labels


class CatIdsDataset(ToyDataset):
    get_gt_labels = None  # only get_cat_ids

    def __getattribute__(self, name):
        if name == 'get_gt_labels':
            raise AttributeError(name)
        return super().__getattribute__(name)

    def get_cat_ids(self, idx):
        return [int(self.labels[idx])]


def _freq(ds, indices, n_classes=3):
    counts = np.bincount(ds.labels[list(indices)], minlength=n_classes)
    return counts / counts.sum()


def test_balanced_frequencies():
    ds = ToyDataset()
    sampler = ClassBalancedSampler(ds, seed=0, rank=0, world_size=1)
    indices = list(sampler)
    assert len(indices) == len(sampler) == len(ds)
    freq = _freq(ds, indices)
    np.testing.assert_allclose(freq, [1 / 3] * 3, atol=0.06)
    # the rare class repeats
    rare = [i for i in indices if ds.labels[i] == 2]
    assert len(set(rare)) < len(rare)
    np.testing.assert_array_equal(sampler.class_counts, [800, 150, 50])


def test_get_cat_ids_fallback_and_num_samples():
    ds = CatIdsDataset()
    sampler = ClassBalancedSampler(ds, num_samples=3000, seed=1, rank=0,
                                   world_size=1)
    indices = list(sampler)
    assert len(indices) == 3000
    np.testing.assert_allclose(_freq(ds, indices), [1 / 3] * 3, atol=0.05)


def test_determinism_per_seed_and_epoch():
    ds = ToyDataset()
    a = ClassBalancedSampler(ds, seed=3, rank=0, world_size=1)
    b = ClassBalancedSampler(ds, seed=3, rank=0, world_size=1)
    assert list(a) == list(b)
    assert list(a) == list(a)  # re-iterating the same epoch
    epoch0 = list(a)
    a.set_epoch(1)
    epoch1 = list(a)
    assert epoch1 != epoch0
    b.set_epoch(1)
    assert list(b) == epoch1
    c = ClassBalancedSampler(ds, seed=4, rank=0, world_size=1)
    assert list(c) != epoch0


def test_two_ranks_draw_their_own_share():
    ds = ToyDataset()
    full = list(ClassBalancedSampler(ds, seed=7, rank=0, world_size=1))
    r0 = ClassBalancedSampler(ds, seed=7, rank=0, world_size=2)
    r1 = ClassBalancedSampler(ds, seed=7, rank=1, world_size=2)
    i0, i1 = list(r0), list(r1)
    assert len(i0) == len(i1) == len(r0) == 500
    assert i0 != i1
    # disjoint positions of one global draw
    assert i0 == full[0::2] and i1 == full[1::2]
    for share in (i0, i1):
        np.testing.assert_allclose(_freq(ds, share), [1 / 3] * 3, atol=0.08)
    # odd totals are padded so all ranks yield as many
    r0 = ClassBalancedSampler(ds, num_samples=7, seed=7, rank=0,
                              world_size=2)
    r1 = ClassBalancedSampler(ds, num_samples=7, seed=7, rank=1,
                              world_size=2)
    assert len(list(r0)) == len(list(r1)) == len(r0) == 4


def test_dist_info_from_mmengine(monkeypatch):
    ds = ToyDataset()
    monkeypatch.setattr(samplers_mod, 'get_dist_info', lambda: (1, 2))
    monkeypatch.setattr(samplers_mod, 'sync_random_seed', lambda: 11)
    s = ClassBalancedSampler(ds)
    assert (s.rank, s.world_size, s.seed) == (1, 2, 11)
    ref = ClassBalancedSampler(ds, seed=11, rank=1, world_size=2)
    assert list(s) == list(ref)


def test_without_replacement_and_errors():
    ds = ToyDataset()
    s = ClassBalancedSampler(ds, num_samples=200, replacement=False, seed=0,
                             rank=0, world_size=1)
    idx = list(s)
    assert len(idx) == len(set(idx)) == 200
    with pytest.raises(ValueError, match='replacement=True'):
        ClassBalancedSampler(ds, num_samples=2000, replacement=False,
                             seed=0, rank=0, world_size=1)
    with pytest.raises(ValueError, match='rank 2'):
        ClassBalancedSampler(ds, seed=0, rank=2, world_size=2)
    with pytest.raises(TypeError, match='get_gt_labels'):
        ClassBalancedSampler([1, 2, 3], seed=0, rank=0, world_size=1)


def test_registry_build():
    assert DATA_SAMPLERS.get('ClassBalancedSampler') is ClassBalancedSampler
    s = DATA_SAMPLERS.build(
        dict(type='ClassBalancedSampler', seed=0),
        default_args=dict(dataset=ToyDataset()))
    assert isinstance(s, ClassBalancedSampler)
    assert len(list(s)) == 1000
