"""Subject-independent splits: no subject's images on both sides.

Expression datasets recorded in a lab (CK+, JAFFE) hold many images of each
subject; splitting them by sample puts the same face in training and test
data and inflates accuracy. These helpers split by subject instead.

Fold rule of :func:`subject_kfold` (deterministic for a given ``seed``):

1. the distinct subjects are sorted (so the input order of samples does not
   matter);
2. they are shuffled with ``numpy.random.RandomState(seed).permutation``;
3. the ``i``-th subject of the shuffled list goes to fold
   ``i % num_folds``.

Folds are balanced by number of subjects (their sizes differ by at most
one subject), not by number of images.
"""
from typing import Hashable, List, Sequence, Tuple

import numpy as np


def _check_subjects(subjects: Sequence[Hashable]) -> List[Hashable]:
    if isinstance(subjects, (str, bytes)):
        raise TypeError('subjects must be a sequence with one subject id a '
                        f'sample, got the string {subjects!r}.')
    subjects = list(subjects)
    if not subjects:
        raise ValueError('subjects is empty: there is nothing to split.')
    return subjects


def subject_folds(subjects: Sequence[Hashable],
                  num_folds: int,
                  seed: int = 0) -> dict:
    """Map each distinct subject to its fold (see the module docstring).

    Args:
        subjects (Sequence[Hashable]): One subject id a sample.
        num_folds (int): Number of folds, 2 <= ``num_folds`` <= number of
            distinct subjects.
        seed (int): Seed of the subject shuffle. Defaults to 0.

    Returns:
        dict: ``{subject: fold}``.
    """
    subjects = _check_subjects(subjects)
    if isinstance(num_folds, bool) or not isinstance(num_folds,
                                                     (int, np.integer)):
        raise TypeError(f'num_folds must be an int, got {num_folds!r}.')
    unique = sorted(set(subjects))
    if not 2 <= num_folds <= len(unique):
        raise ValueError(
            f'num_folds must lie in 2..{len(unique)} (the number of '
            f'distinct subjects), got {num_folds}.')
    order = np.random.RandomState(seed).permutation(len(unique))
    return {unique[j]: i % num_folds for i, j in enumerate(order)}


def subject_kfold(subjects: Sequence[Hashable],
                  num_folds: int,
                  fold: int,
                  seed: int = 0) -> Tuple[List[int], List[int]]:
    """Split sample indices into train/test by whole subjects.

    Args:
        subjects (Sequence[Hashable]): One subject id a sample (e.g.
            ``'S005'``).
        num_folds (int): Number of folds, 2 <= ``num_folds`` <= number of
            distinct subjects.
        fold (int): The test fold, ``0 <= fold < num_folds``.
        seed (int): Seed of the subject shuffle. Defaults to 0.

    Returns:
        tuple[list[int], list[int]]: ``(train_idx, test_idx)``, ascending
        sample indices. Over ``fold = 0..num_folds-1`` the test indices
        partition all samples.

    Raises:
        ValueError / TypeError: On empty ``subjects``, ``num_folds`` out of
            range, or ``fold`` outside ``0..num_folds-1``.

    Example:
        >>> subject_kfold(['a', 'a', 'b', 'c'], num_folds=3, fold=0)
        ([0, 1, 2], [3])
    """
    folds = subject_folds(subjects, num_folds, seed)
    if isinstance(fold, bool) or not isinstance(fold, (int, np.integer)) \
            or not 0 <= fold < num_folds:
        raise ValueError(
            f'fold must be an int in 0..{num_folds - 1}, got {fold!r}.')
    train_idx, test_idx = [], []
    for i, s in enumerate(subjects):
        (test_idx if folds[s] == fold else train_idx).append(i)
    return train_idx, test_idx


def leave_one_subject_out(
        subjects: Sequence[Hashable],
        subject: Hashable) -> Tuple[List[int], List[int]]:
    """Split sample indices: the samples of ``subject`` are the test set.

    Args:
        subjects (Sequence[Hashable]): One subject id a sample.
        subject (Hashable): The held-out subject.

    Returns:
        tuple[list[int], list[int]]: ``(train_idx, test_idx)``, ascending.

    Raises:
        ValueError: If ``subject`` has no sample (the message lists the
            known subjects), or it is the only subject.
    """
    subjects = _check_subjects(subjects)
    unique = sorted(set(subjects))
    if subject not in unique:
        raise ValueError(f'subject {subject!r} has no sample; known '
                         f'subjects: {unique}.')
    if len(unique) < 2:
        raise ValueError(f'subject {subject!r} is the only subject: '
                         'nothing is left to train on.')
    train_idx = [i for i, s in enumerate(subjects) if s != subject]
    test_idx = [i for i, s in enumerate(subjects) if s == subject]
    return train_idx, test_idx
