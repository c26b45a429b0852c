"""Samplers for imbalanced FER training sets."""
import math
from typing import Iterator, Optional, Sized

import numpy as np
import torch
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from ferpretrain.registry import DATA_SAMPLERS


def _dataset_labels(dataset) -> np.ndarray:
    """One integer label per sample, via ``get_gt_labels()`` or
    ``get_cat_ids(idx)``."""
    if hasattr(dataset, 'get_gt_labels'):
        labels = np.asarray(dataset.get_gt_labels())
    elif hasattr(dataset, 'get_cat_ids'):
        labels = []
        for idx in range(len(dataset)):
            cat_ids = list(dataset.get_cat_ids(idx))
            if len(cat_ids) != 1:
                raise ValueError(
                    f'ClassBalancedSampler: sample {idx} has categories '
                    f'{cat_ids}; one label per sample is needed')
            labels.append(int(cat_ids[0]))
        labels = np.asarray(labels)
    else:
        raise TypeError(
            f'ClassBalancedSampler: {type(dataset).__name__} has neither '
            'get_gt_labels() nor get_cat_ids(idx) to read the labels from')
    if labels.ndim != 1 or len(labels) != len(dataset):
        raise ValueError(
            'ClassBalancedSampler: expected one label per sample '
            f'({len(dataset)}), got labels of shape {labels.shape}')
    return labels.astype(np.int64)


@DATA_SAMPLERS.register_module()
class ClassBalancedSampler(Sampler):
    """Draw samples with probability inversely proportional to the
    frequency of their class.

    The ``ImbalancedDatasetSampler`` idea that POSTER V2 and DAN train
    AffectNet with: every class is drawn about equally often, whatever its
    size (rare classes repeat, frequent ones are subsampled). An epoch draws
    ``num_samples`` indices in all, ``ceil(num_samples / world_size)`` per
    rank.

    Deterministic and distributed-aware like mmengine's ``DefaultSampler``:
    every rank draws the same global sequence from a generator seeded with
    ``seed + epoch`` (``seed`` is synchronised across ranks when None) and
    keeps its own share, ``sequence[rank::world_size]``; call
    :meth:`set_epoch` (the runner does) for a new draw each epoch.

    Labels are read once, at construction, through the dataset's
    ``get_gt_labels()`` or, failing that, ``get_cat_ids(idx)``.

    Args:
        dataset (Sized): The dataset.
        num_samples (int, optional): Indices drawn per epoch over all ranks.
            Defaults to None: ``len(dataset)``.
        replacement (bool): Draw with replacement. Without it,
            ``num_samples`` may not exceed ``len(dataset)`` and the balance
            is weaker. Defaults to True.
        seed (int, optional): Random seed. Defaults to None (a random seed
            shared by all ranks).
        rank (int, optional): This process's rank. Defaults to None (from
            ``mmengine.dist.get_dist_info()``).
        world_size (int, optional): Number of processes. Defaults to None
            (from ``mmengine.dist.get_dist_info()``).

    Examples:
        >>> train_dataloader = dict(
        ...     batch_size=64,
        ...     sampler=dict(type='ClassBalancedSampler'),
        ...     dataset=dict(type='AffectNet', data_root='data/AffectNet',
        ...                  split='train', pipeline=[...]))
    """

    def __init__(self,
                 dataset: Sized,
                 num_samples: Optional[int] = None,
                 replacement: bool = True,
                 seed: Optional[int] = None,
                 rank: Optional[int] = None,
                 world_size: Optional[int] = None) -> None:
        dist_rank, dist_world_size = get_dist_info()
        self.rank = dist_rank if rank is None else int(rank)
        self.world_size = dist_world_size if world_size is None \
            else int(world_size)
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f'ClassBalancedSampler: rank {self.rank} is not '
                             f'in 0..{self.world_size - 1}')
        self.dataset = dataset
        if len(dataset) == 0:
            raise ValueError('ClassBalancedSampler: the dataset is empty')
        self.total_size = len(dataset) if num_samples is None \
            else int(num_samples)
        if self.total_size <= 0:
            raise ValueError('ClassBalancedSampler: num_samples must be > 0, '
                             f'got {num_samples}')
        if not replacement and self.total_size > len(dataset):
            raise ValueError(
                f'ClassBalancedSampler: num_samples={self.total_size} > '
                f'len(dataset)={len(dataset)} needs replacement=True')
        self.replacement = replacement
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.epoch = 0

        labels = _dataset_labels(dataset)
        if labels.min() < 0:
            raise ValueError('ClassBalancedSampler: negative label '
                             f'{labels.min()}')
        counts = np.bincount(labels)
        #: Samples of each label in the dataset.
        self.class_counts = counts
        self.weights = torch.as_tensor(
            1.0 / counts[labels], dtype=torch.double)
        self.num_samples = math.ceil(self.total_size / self.world_size)

    def __iter__(self) -> Iterator[int]:
        """Draw this rank's share of the epoch's indices."""
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        # all ranks draw the same global sequence, padded to a multiple of
        # world_size, and keep disjoint positions of it
        n = self.num_samples * self.world_size
        if self.replacement:
            indices = torch.multinomial(
                self.weights, n, replacement=True, generator=g).tolist()
        else:
            indices = torch.multinomial(
                self.weights, self.total_size, replacement=False,
                generator=g).tolist()
            indices = (indices * math.ceil(n / len(indices)))[:n]
        return iter(indices[self.rank:n:self.world_size])

    def __len__(self) -> int:
        """Indices drawn by this rank per epoch."""
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch: each epoch draws a different sequence."""
        self.epoch = epoch
