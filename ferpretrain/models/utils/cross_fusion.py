"""POSTER's two-way cross-fusion and its pyramid along the embedding axis.

POSTER (Zheng, Mendieta, Chen, "POSTER: A Pyramid Cross-Fusion Transformer
Network for Facial Expression Recognition", arXiv 2204.04083, ICCVW 2023;
official code zczcwh/POSTER, ``models/hyp_crossvit.py``) fuses two token
streams of equal length ``N`` (image tokens and landmark tokens, each with
its own CLS token in front), held side by side in one ``(B, 2N, C)``
tensor, image stream first.

:class:`CrossAttention` is the attention of both directions: the queries
are the *other* stream's (normalised) tokens **taken as they are** (no
query projection), keys and values come from one ``Linear(C, 2C)`` of the
stream being updated, and a ``Linear(C, C)`` projects the output. Query
``i`` of the other stream produces the update of token ``i`` of this
stream, which is why the two streams must have the same length.

:class:`CrossFusionBlock` (official ``Block``), for ``x = [img | lm]``:

.. code:: text

    n = LN_a(x)                                   # both streams, one LN
    img = img + DropPath(attn_img(query=n_lm, context=n_img))
    img = img + DropPath(MLP_img(LN_b(img)))
    n = LN_c(x)                                   # a second LN
    lm  = lm  + DropPath(attn_lm(query=n_img, context=n_lm))
    lm  = lm  + DropPath(MLP_lm(LN_d(lm)))
    x = Conv1d(2N, 2N, 1)([img | lm])             # token mixing

The landmark update reads the *input* image tokens, not the updated ones
(both updates start from ``x``), as in the official forward.

POSTER was released as **two networks** that differ only in that last
line: the RAF-DB code (``hyp_crossvit.py``) mixes the tokens with the
``Conv1d``; the AffectNet code (``hyp_crossvit_affect.py``, built by
``train_affect.py`` for AffectNet-7 and -8) has no such conv and returns
``[img | lm]`` as it is (242,400 parameters fewer in the large model).
``token_mixing=False`` builds the AffectNet network.

:class:`PyramidCrossFusion` (official ``PyramidBlock``) runs one block per
scale of the **embedding-axis pyramid** (widths ``C``, ``C/2``, ``C/4``)
and fuses the scales top-down: ``x_m += up(x_s)``, then
``x_l += up(x_m)`` (the *updated* ``x_m``), with ``ConvTranspose1d`` over
the embedding axis (tokens are the channels). The smaller scales are made
once, before the first layer, by :func:`embedding_downsample` convs
(``Conv1d(2N, 2N, k=r, stride=r)``, ``r = C / C_scale``); note that these
convs, like the up-sampling and the token mixing, also mix tokens across the
two streams.

Attention runs through ``F.scaled_dot_product_attention`` (the default
scale ``head_dim ** -0.5`` is POSTER's), so it can use fused kernels.
"""
from functools import partial
from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import DropPath, Mlp

from ferpretrain.registry import MODELS


@MODELS.register_module()
class CrossAttention(nn.Module):
    """Multi-head attention with unprojected queries from another stream.

    Args:
        dims (int): Token width ``C``; heads split it into contiguous
            chunks.
        num_heads (int): Heads. Defaults to 8.
        qkv_bias (bool): Bias of the key/value projection. Defaults to True
            (POSTER's ``qkv_bias``; its output projection always has one).
        attn_drop (float): Dropout on the attention weights. Defaults to 0.
        proj_drop (float): Dropout after the output projection. Defaults to
            0.

    Shapes:
        query ``(B, Nq, C)``, context ``(B, Nk, C)`` -> ``(B, Nq, C)``.
    """

    def __init__(self,
                 dims: int,
                 num_heads: int = 8,
                 qkv_bias: bool = True,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.):
        super().__init__()
        if dims % num_heads:
            raise ValueError(f'CrossAttention: dims {dims} is not divisible '
                             f'by num_heads {num_heads}.')
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.kv = nn.Linear(dims, 2 * dims, bias=qkv_bias)
        self.proj = nn.Linear(dims, dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, query: torch.Tensor,
                context: torch.Tensor) -> torch.Tensor:
        b, n_q, c = query.shape
        n_k = context.shape[1]
        head_dims = c // self.num_heads
        k, v = self.kv(context).reshape(b, n_k, 2, self.num_heads,
                                        head_dims).permute(2, 0, 3, 1,
                                                           4).unbind(0)
        q = query.reshape(b, n_q, self.num_heads, head_dims).transpose(1, 2)
        x = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0.)
        x = x.transpose(1, 2).reshape(b, n_q, c)
        return self.proj_drop(self.proj(x))


@MODELS.register_module()
class CrossFusionBlock(nn.Module):
    """POSTER's two-way cross-fusion block (see the module docstring).

    Args:
        dims (int): Token width of this pyramid scale.
        num_tokens (int): Tokens per stream, CLS included (POSTER: 50).
        num_heads (int): Heads of both attentions. Defaults to 8.
        mlp_ratio (float): Hidden width of the two MLPs over ``dims``.
            Defaults to 2 (POSTER).
        qkv_bias (bool): Key/value bias. Defaults to True.
        drop (float): Dropout after the projections and in the MLPs.
        attn_drop (float): Attention dropout.
        drop_path (float): Stochastic depth of the four residual branches.
        norm_eps (float): LayerNorm epsilon. Defaults to 1e-6 (POSTER).
        token_mixing (bool): End with the token-mixing ``Conv1d`` (POSTER's
            RAF-DB network). False builds the official AffectNet network,
            which has none. Defaults to True.

    Shapes:
        ``(B, 2 * num_tokens, dims)`` -> the same.
    """

    def __init__(self,
                 dims: int,
                 num_tokens: int,
                 num_heads: int = 8,
                 mlp_ratio: float = 2.,
                 qkv_bias: bool = True,
                 drop: float = 0.,
                 attn_drop: float = 0.,
                 drop_path: float = 0.,
                 norm_eps: float = 1e-6,
                 token_mixing: bool = True):
        super().__init__()
        self.num_tokens = num_tokens
        norm = partial(nn.LayerNorm, dims, eps=norm_eps)
        attention = partial(
            CrossAttention,
            dims,
            num_heads,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop,
            proj_drop=drop)
        mlp = partial(
            Mlp, dims, hidden_features=int(dims * mlp_ratio), drop=drop)
        # Image update: landmark queries over image keys/values.
        self.image_attn_norm = norm()
        self.image_attn = attention()
        self.image_mlp_norm = norm()
        self.image_mlp = mlp()
        # Landmark update: image queries over landmark keys/values.
        self.landmark_attn_norm = norm()
        self.landmark_attn = attention()
        self.landmark_mlp_norm = norm()
        self.landmark_mlp = mlp()
        self.drop_path = DropPath(drop_path) if drop_path > 0 else \
            nn.Identity()
        # Kernel-1 conv with the tokens as channels: a learned mix of all
        # 2N tokens (with bias), the same for every embedding position.
        # Not built at all without token mixing, so that the AffectNet
        # release loads strictly and DDP sees no unused parameters.
        self.token_mix = nn.Conv1d(2 * num_tokens, 2 * num_tokens,
                                   1) if token_mixing else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.num_tokens
        if x.shape[1] != 2 * n:
            raise ValueError(
                f'CrossFusionBlock: expects 2 x {n} tokens (image stream '
                f'then landmark stream), got {x.shape[1]}.')
        img, lm = x[:, :n], x[:, n:]
        normed = self.image_attn_norm(x)
        img = img + self.drop_path(
            self.image_attn(normed[:, n:], normed[:, :n]))
        img = img + self.drop_path(self.image_mlp(self.image_mlp_norm(img)))
        normed = self.landmark_attn_norm(x)
        lm = lm + self.drop_path(
            self.landmark_attn(normed[:, :n], normed[:, n:]))
        lm = lm + self.drop_path(
            self.landmark_mlp(self.landmark_mlp_norm(lm)))
        return self.token_mix(torch.cat([img, lm], dim=1))


def embedding_downsample(num_tokens: int, ratio: int) -> nn.Conv1d:
    """Conv1d shrinking the embedding axis by ``ratio`` (tokens = channels).

    POSTER's ``downsample_m`` (ratio 2) and ``downsample_s`` (ratio 4).
    """
    return nn.Conv1d(num_tokens, num_tokens, ratio, stride=ratio)


@MODELS.register_module()
class PyramidCrossFusion(nn.Module):
    """One layer of POSTER's pyramid: a block per scale, fused top-down.

    Args:
        dims (Sequence[int]): Widths of the scales, largest first, each
            dividing the previous one (POSTER: ``(512, 256, 128)``).
        num_tokens (int): Tokens per stream, CLS included.
        drop_path (float): Stochastic depth of every block of this layer.
        **block_kwargs: :class:`CrossFusionBlock` arguments shared by the
            scales (``num_heads``, ``mlp_ratio``, ``qkv_bias``, ``drop``,
            ``attn_drop``, ``norm_eps``, ``token_mixing``).

    Shapes:
        a list of ``(B, 2 * num_tokens, dims[i])`` -> the same.
    """

    def __init__(self,
                 dims: Sequence[int],
                 num_tokens: int,
                 drop_path: float = 0.,
                 **block_kwargs):
        super().__init__()
        self.blocks = nn.ModuleList(
            CrossFusionBlock(
                d, num_tokens, drop_path=drop_path, **block_kwargs)
            for d in dims)
        # upsamples[i] takes scale i + 1 to scale i (POSTER names the
        # small -> medium one ``upsample_s`` and medium -> large
        # ``upsample_m``).
        self.upsamples = nn.ModuleList(
            nn.ConvTranspose1d(
                2 * num_tokens,
                2 * num_tokens,
                kernel_size=dims[i] // dims[i + 1],
                stride=dims[i] // dims[i + 1]) for i in range(len(dims) - 1))

    def forward(self, xs: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        xs = [block(x) for block, x in zip(self.blocks, xs)]
        # Smallest first, so each scale receives the already fused one below.
        for i in reversed(range(len(xs) - 1)):
            xs[i] = xs[i] + self.upsamples[i](xs[i + 1])
        return xs
