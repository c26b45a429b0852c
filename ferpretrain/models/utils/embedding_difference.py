"""Difference of embeddings: an expression as the change from the same
person's neutral face.

Used by :class:`ferpretrain.models.classifiers.DifferenceOfEmbeddings`, and
by any model that embeds a (neutral, target) pair and wants the seed's
combination of the two embeddings.
"""
from typing import Sequence

import torch
import torch.nn as nn

from ferpretrain.registry import MODELS

__all__ = ['EmbeddingDifference']

_PARTS = ('difference', 'target', 'neutral')


@MODELS.register_module()
class EmbeddingDifference(nn.Module):
    """``concat(target - neutral, target)`` of a pair's embeddings.

    Shapes: ``(B, 2, D)`` (index 0 the neutral face's embedding, index 1 the
    target's) -> ``(B, len(parts) * D)``.

    The seed systems classify from the difference (what the expression
    changed in this person's face) *and* the target itself: the difference
    alone cannot tell an expression from the same change seen from another
    starting point, and a target against itself (no neutral face at hand,
    see ``configs/doe/README.md``) would leave nothing.

    Args:
        parts (Sequence[str]): What is concatenated, in order, from
            ``'difference'`` (target - neutral), ``'target'`` and
            ``'neutral'``. Defaults to ``('difference', 'target')``, the
            seed's; ``('difference', )`` is the ablation without the target.
    """

    def __init__(self, parts: Sequence[str] = ('difference', 'target')):
        super().__init__()
        parts = tuple(parts)
        if not parts or any(p not in _PARTS for p in parts) or \
                len(set(parts)) != len(parts):
            raise ValueError(f'EmbeddingDifference: parts must be distinct '
                             f'names from {_PARTS}, got {parts!r}.')
        self.parts = parts

    def out_channels(self, embed_dims: int) -> int:
        """The output width for ``embed_dims``-wide embeddings."""
        return len(self.parts) * embed_dims

    def forward(self, pair: torch.Tensor) -> torch.Tensor:
        if pair.dim() != 3 or pair.shape[1] != 2:
            raise ValueError(
                'EmbeddingDifference expects pair embeddings of shape '
                f'(B, 2, D) (neutral, target), got {tuple(pair.shape)}.')
        neutral, target = pair[:, 0], pair[:, 1]
        pieces = dict(
            difference=lambda: target - neutral,
            target=lambda: target,
            neutral=lambda: neutral)
        return torch.cat([pieces[p]() for p in self.parts], dim=1)

    def extra_repr(self) -> str:
        return f'parts={self.parts}'
