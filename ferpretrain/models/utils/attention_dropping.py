"""TransFER's attention modules: local CNNs (LANet), Multi-Attention
Dropping (MAD) and Multi-head Self-Attention Dropping (MSAD).

Xue, Wang, Guo. "TransFER: Learning Relation-aware Facial Expression
Representations with Transformers". ICCV 2021 (arXiv 2108.11116).

TransFER makes its model look at several parts of the face, not one:

- several **LANets** (local attention networks) each predict one spatial
  attention map over the stem CNN's feature map;
- **MAD** (training only) randomly removes one of those maps for a sample,
  so that no single map can carry the decision, then the maps are merged
  by an element-wise max and multiply the features;
- **MSAD** (training only) randomly removes one self-attention head's
  output in each transformer block for a sample, for the same reason in
  the transformer.

Both droppings are identity in ``eval()`` mode. The draws use torch's
global generator (``torch.manual_seed`` makes them reproducible).
"""
from typing import List

import torch
import torch.nn as nn

from ferpretrain.registry import MODELS


@MODELS.register_module()
class LANet(nn.Module):
    """A local attention network: one spatial attention map in (0, 1).

    ``Conv1x1(C -> C/r) - BN - ReLU - Conv1x1(C/r -> 1) - BN - Sigmoid``,
    as in TransFER (``r = 16``: 256 -> 16 -> 1 channels on IR-50 stage 3).

    Args:
        in_channels (int): Channels of the feature map.
        reduction (int): The channel reduction ``r``. Defaults to 16.

    Shapes:
        x (B, C, H, W) -> (B, 1, H, W).
    """

    def __init__(self, in_channels: int, reduction: int = 16):
        super().__init__()
        if in_channels % reduction:
            raise ValueError(f'LANet: in_channels {in_channels} is not '
                             f'divisible by reduction {reduction}.')
        hidden = in_channels // reduction
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 1), nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True), nn.Conv2d(hidden, 1, 1),
            nn.BatchNorm2d(1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def random_drop_mask(batch: int, num: int, drop_prob: float,
                     max_dropped: int, device) -> torch.Tensor:
    """A (batch, num) 0/1 mask that zeroes, for each row with probability
    ``drop_prob``, between 1 and ``max_dropped`` of its ``num`` entries
    chosen uniformly (at least one entry always survives)."""
    max_dropped = min(max_dropped, num - 1)
    mask = torch.ones(batch, num, device=device)
    if max_dropped < 1 or drop_prob <= 0:
        return mask
    chosen = torch.rand(batch, device=device) < drop_prob
    counts = torch.randint(1, max_dropped + 1, (batch, ), device=device)
    # A random permutation of the entries per row; the first `count`
    # positions of it are dropped.
    order = torch.rand(batch, num, device=device).argsort(dim=1)
    rank = order.argsort(dim=1)
    dropped = (rank < counts[:, None]) & chosen[:, None]
    return mask.masked_fill(dropped, 0.)


@MODELS.register_module()
class MultiAttentionDropping(nn.Module):
    """TransFER's LANets with Multi-Attention Dropping (MAD).

    ``num_lanets`` LANets each give an attention map ``A_i`` (B, 1, H, W).
    In training, for each sample with probability ``drop_prob``, 1 to
    ``max_dropped`` of the maps (uniformly chosen; never all) are set to 0.
    The maps are merged by an element-wise max and the features are
    re-weighted: ``out = x * max_i A_i``. In eval mode nothing is dropped.

    The paper's values (and the official port's): 2 LANets, ``drop_prob``
    0.6, one map dropped. The projection to tokens comes after the
    re-weighting (the paper and the Paddle port; the PyTorch port of the
    APViT repository projects first, which differs by the conv bias).

    Args:
        in_channels (int): Channels of the feature map.
        num_lanets (int): Number of LANets. Defaults to 2.
        reduction (int): LANet channel reduction. Defaults to 16.
        drop_prob (float): Probability that a sample has maps dropped.
            Defaults to 0.6.
        max_dropped (int): Most maps dropped for one sample. Defaults to 1.

    Shapes:
        x (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self,
                 in_channels: int,
                 num_lanets: int = 2,
                 reduction: int = 16,
                 drop_prob: float = 0.6,
                 max_dropped: int = 1):
        super().__init__()
        if not 0 <= drop_prob <= 1:
            raise ValueError(f'MultiAttentionDropping: drop_prob must be in '
                             f'[0, 1], got {drop_prob}.')
        self.lanets = nn.ModuleList(
            LANet(in_channels, reduction) for _ in range(num_lanets))
        self.drop_prob = drop_prob
        self.max_dropped = max_dropped

    def attention_maps(self, x: torch.Tensor) -> List[torch.Tensor]:
        """The LANet maps, each (B, 1, H, W), before any dropping."""
        return [lanet(x) for lanet in self.lanets]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = torch.cat(self.attention_maps(x), dim=1)  # (B, M, H, W)
        if self.training and self.drop_prob > 0:
            mask = random_drop_mask(x.shape[0], maps.shape[1],
                                    self.drop_prob, self.max_dropped,
                                    x.device)
            maps = maps * mask[:, :, None, None]
        return x * maps.amax(dim=1, keepdim=True)


@MODELS.register_module()
class MultiHeadSelfAttentionDropping(nn.Module):
    """Multi-head Self-Attention Dropping (MSAD) of TransFER.

    Applied to the per-head outputs of a self-attention layer (before the
    heads are concatenated and projected): in training, for each sample
    with probability ``drop_prob``, 1 to ``max_dropped`` whole heads
    (uniformly chosen; never all) are set to 0. No rescaling, as in the
    paper. Identity in eval mode.

    This is what the paper describes. The official Paddle/PyTorch ports
    index the wrong axis of the ``(B, N, 3, heads, head_dim)`` qkv tensor
    and zero the q, k and v of *token positions* 0..heads-1 (the CLS token
    and the first patches) instead of a head; ferpretrain drops heads.

    Args:
        drop_prob (float): Probability that a sample has heads dropped.
            Defaults to 0.3 (the paper).
        max_dropped (int): Most heads dropped for one sample. Defaults to 1.

    Shapes:
        heads (B, num_heads, N, head_dim) -> the same.
    """

    def __init__(self, drop_prob: float = 0.3, max_dropped: int = 1):
        super().__init__()
        if not 0 <= drop_prob <= 1:
            raise ValueError('MultiHeadSelfAttentionDropping: drop_prob '
                             f'must be in [0, 1], got {drop_prob}.')
        self.drop_prob = drop_prob
        self.max_dropped = max_dropped

    def forward(self, heads: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_prob <= 0:
            return heads
        mask = random_drop_mask(heads.shape[0], heads.shape[1],
                                self.drop_prob, self.max_dropped,
                                heads.device)
        return heads * mask[:, :, None, None].to(heads.dtype)

    def extra_repr(self) -> str:
        return f'drop_prob={self.drop_prob}, max_dropped={self.max_dropped}'
