"""Window cross-attention with external queries (POSTER V2).

POSTER V2 / POSTER++ (Mao et al., arXiv 2301.12149, Talented-Q/POSTER_V2)
replaces POSTER's two-way cross-fusion by a one-way *window-based
cross-attention*: the landmark features are the queries, the image
features give keys and values. The attention is GC-ViT's global-query
window attention (Hatamizadeh et al., arXiv 2206.09959,
``WindowAttentionGlobal``), where a query map of one window's size is
shared by every window of the key/value map:

- the queries are taken as they are (**no projection**), scaled by
  ``head_dim ** -0.5``; heads split the channels into contiguous chunks;
- keys and values come from one ``Linear(dim, 2 * dim, bias=True)``;
- a learnable relative position bias over the window
  (``(2w - 1) ** 2`` entries per head, truncated-normal init, std 0.02, as
  in Swin / GC-ViT) is added to the logits before the softmax;
- the output goes through a ``Linear(dim, dim)``.

:class:`WindowCrossAttentionBlock` is the block around it as POSTER V2
writes it (its ``window`` + ``feedforward`` modules):

.. code:: text

    x = LN(x)                        # the shortcut is the *normalised* map
    x = x + DropPath(g1 * attn(window_partition(x), query))
    x = x + DropPath(g2 * MLP(LN(x)))          # MLP ratio 4, GELU

with layer-scale ``g1``, ``g2`` initialised to 1e-5. The pre-norm output
being the shortcut differs from Swin/GC-ViT (whose shortcut is the raw
input); it is kept because it is what the released model computes.

At POSTER V2's sizes (maps 28/14/7, windows 28/14/7) every map is exactly
one window; other multiples are supported (each window attends with the
same query, as in GC-ViT).
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import DropPath, Mlp, trunc_normal_

from ferpretrain.registry import MODELS


def relative_position_index(window_size: int) -> torch.Tensor:
    """Index into a ``(2w - 1) ** 2`` bias table for every (query, key) pair.

    Returns:
        Tensor: ``(w * w, w * w)`` long tensor; entry ``(i, j)`` encodes the
        offset of key ``j`` from query ``i`` (Swin's convention).
    """
    coords = torch.stack(
        torch.meshgrid(
            torch.arange(window_size),
            torch.arange(window_size),
            indexing='ij')).flatten(1)
    relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    relative = relative + (window_size - 1)
    return relative[..., 0] * (2 * window_size - 1) + relative[..., 1]


def window_partition(x: torch.Tensor, window_size: int) -> torch.Tensor:
    """``(B, H, W, C)`` -> ``(B * nH * nW, w * w, C)``, batch-major."""
    b, h, w, c = x.shape
    x = x.view(b, h // window_size, window_size, w // window_size, window_size,
               c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window_size**2, c)


def window_reverse(windows: torch.Tensor, window_size: int, h: int,
                   w: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: -> ``(B, H, W, C)``."""
    c = windows.shape[-1]
    x = windows.view(-1, h // window_size, w // window_size, window_size,
                     window_size, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, h, w, c)


@MODELS.register_module()
class WindowCrossAttention(nn.Module):
    """Window attention whose queries come, unprojected, from another stream.

    Args:
        dim (int): Channels ``C`` of queries, keys and values.
        num_heads (int): Attention heads; ``C`` must divide by it.
        window_size (int): Window side ``w``; ``N = w * w`` tokens.
        qkv_bias (bool): Bias of the key/value projection. Defaults to True
            (POSTER V2).
        attn_drop (float): Dropout on the attention weights. Defaults to 0.
        proj_drop (float): Dropout after the output projection. Defaults
            to 0.

    Shapes:
        x: ``(B * num_windows, N, C)`` windows of the key/value map, ordered
        batch-major (as :func:`window_partition` gives them);
        query: ``(B, N, C)``, shared by the ``num_windows`` windows of each
        sample. Output: ``(B * num_windows, N, C)``.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 window_size: int,
                 qkv_bias: bool = True,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'WindowCrossAttention: dim {dim} is not '
                             f'divisible by num_heads {num_heads}.')
        self.dim = dim
        self.num_heads = num_heads
        self.window_size = window_size
        self.scale = (dim // num_heads)**-0.5
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window_size - 1)**2, num_heads))
        # Derived from window_size, so not saved: a checkpoint cannot make
        # it disagree with the table.
        self.register_buffer(
            'relative_position_index',
            relative_position_index(window_size),
            persistent=False)
        # Only keys and values are projected ("qkv" keeps the official name
        # so that POSTER V2 weights map one to one).
        self.qkv = nn.Linear(dim, 2 * dim, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        trunc_normal_(self.relative_position_bias_table, std=.02)

    def relative_position_bias(self) -> torch.Tensor:
        """The bias added to the logits, ``(num_heads, N, N)``."""
        n = self.window_size**2
        bias = self.relative_position_bias_table[
            self.relative_position_index.view(-1)].view(n, n, -1)
        return bias.permute(2, 0, 1)

    def forward(self, x: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        b_, n, c = x.shape
        b = query.shape[0]
        if query.shape[1:] != (n, c) or b_ % b:
            raise ValueError(
                f'WindowCrossAttention: query {tuple(query.shape)} must be '
                f'(B, {n}, {c}) with B dividing the {b_} windows.')
        heads, head_dim = self.num_heads, c // self.num_heads
        kv = self.qkv(x).reshape(b_, n, 2, heads, head_dim)
        k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)
        q = query.reshape(b, n, heads, head_dim).transpose(1, 2)
        # GC-ViT's global query: the same query for every window of a
        # sample (one window per sample at POSTER V2's sizes).
        q = q.repeat_interleave(b_ // b, dim=0)
        # Fused attention; the bias table enters as an additive mask.
        out = F.scaled_dot_product_attention(
            q, k, v,
            attn_mask=self.relative_position_bias().to(q.dtype),
            dropout_p=self.attn_drop.p if self.training else 0.,
            scale=self.scale)
        out = out.transpose(1, 2).reshape(b_, n, c)
        return self.proj_drop(self.proj(out))


@MODELS.register_module()
class WindowCrossAttentionBlock(nn.Module):
    """POSTER V2's cross-attention block at one scale (see module doc).

    Args:
        dim (int): Channels ``C`` of the image map and of the query map.
        num_heads (int): Attention heads.
        window_size (int): Window side; the image map's sides must be
            multiples of it and the query map must be one window.
        mlp_ratio (float): MLP hidden width over ``dim``. Defaults to 4.
        qkv_bias (bool): Bias of the key/value projection. Defaults to True.
        drop (float): Dropout in the MLP and after the attention
            projection. Defaults to 0 (POSTER V2).
        attn_drop (float): Attention dropout. Defaults to 0.
        drop_path (float): Stochastic depth of both residual branches.
            POSTER V2 uses 0 / 0.125 / 0.25 for its three scales.
        layer_scale (float, optional): Initial value of the per-channel
            scales ``g1``, ``g2``; None disables them. Defaults to 1e-5
            (POSTER V2).

    Shapes:
        x: image map ``(B, C, H, W)``; query: landmark map
        ``(B, C, w, w)``. Output ``(B, C, H, W)``.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 window_size: int,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop: float = 0.,
                 attn_drop: float = 0.,
                 drop_path: float = 0.,
                 layer_scale: Optional[float] = 1e-5):
        super().__init__()
        self.window_size = window_size
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowCrossAttention(
            dim,
            num_heads,
            window_size,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop,
            proj_drop=drop)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else \
            nn.Identity()
        if layer_scale is None:
            self.gamma1 = self.gamma2 = None
        else:
            self.gamma1 = nn.Parameter(torch.full((dim, ), layer_scale))
            self.gamma2 = nn.Parameter(torch.full((dim, ), layer_scale))

    def _scale(self, x: torch.Tensor,
               gamma: Optional[torch.Tensor]) -> torch.Tensor:
        return x if gamma is None else gamma * x

    def forward(self, x: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        _, _, h, w = x.shape
        win = self.window_size
        if h % win or w % win:
            raise ValueError(
                f'WindowCrossAttentionBlock: the {h}x{w} map is not a whole '
                f'number of {win}x{win} windows.')
        if query.shape[-2:] != (win, win):
            raise ValueError(
                f'WindowCrossAttentionBlock: the query map must be one '
                f'{win}x{win} window, got {tuple(query.shape[-2:])}.')
        x = self.norm1(x.permute(0, 2, 3, 1))
        query = query.flatten(2).transpose(1, 2)
        attn = self.attn(window_partition(x, win), query)
        x = x + self.drop_path(
            self._scale(window_reverse(attn, win, h, w), self.gamma1))
        x = x + self.drop_path(
            self._scale(self.mlp(self.norm2(x)), self.gamma2))
        return x.permute(0, 3, 1, 2)
