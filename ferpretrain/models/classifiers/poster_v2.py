"""POSTER V2 / POSTER++ (Mao et al., "POSTER++: A simpler and stronger
facial expression recognition network", arXiv 2301.12149;
Talented-Q/POSTER_V2, ``models/PosterV2_7cls.py``).

Data flow for a 224x224 input (shapes C x H x W):

.. code:: text

    x (3x224x224) -- nearest resize --> 3x112x112, fed to both branches
    landmark branch: frozen MobileFaceNet, out_indices (1, 2, 4)
        64x28x28, 128x14x14, 512x7x7 -(last_face_conv 3x3)-> 256x7x7
        = queries q1, q2, q3 (not projected)
    image branch: IR-50 stages 1-3, each through a stride-2 3x3 conv
        64x56x56 -> 64x28x28, 128x28x28 -> 128x14x14, 256x14x14 -> 256x7x7
    window cross-attention per scale (dims 64/128/256, heads 2/4/8,
        windows 28/14/7, drop-path 0/0.125/0.25, layer-scale 1e-5)
    token embedding to 768 x 7 x 7 per scale:
        scale 1: two stride-2 3x3 convs (64->768->768)   = POSTER V2 embed_q
        scale 2: one stride-2 3x3 conv (128->768)        = embed_k
        scale 3: a 1x1 conv (256->768)                   = embed_v
    147 tokens + CLS, + pos_embed (1, 148, 768)
    ViT: 2 layers, 8 heads, MLP ratio 4, qkv bias, LN eps 1e-6, final LN
    CLS -> SEBlock(768) -> Linear(num_classes)   (LinearClsHead)

**The window cross-attention.** POSTER V2 replaces POSTER's two-way
cross-fusion by a one-way *window-based cross-attention*: the landmark
features are the queries, the image features give keys and values. The
attention is GC-ViT's global-query window attention (Hatamizadeh et al.,
arXiv 2206.09959, ``WindowAttentionGlobal``), where a query map of one
window's size is shared by every window of the key/value map:

- the queries are taken as they are (**no projection**), scaled by
  ``head_dim ** -0.5``; heads split the channels into contiguous chunks;
- keys and values come from one ``Linear(C, 2C, bias=True)``;
- a learnable relative position bias over the window
  (``(2w - 1) ** 2`` entries per head, truncated-normal init, std 0.02, as
  in Swin / GC-ViT) is added to the logits before the softmax;
- the output goes through a ``Linear(C, C)``.

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

Design (ferpretrain's choices, the computation is the official one):

- :class:`PosterV2` is a :class:`LandmarkImageClassifier` (an mmpretrain
  ``ImageClassifier`` with a second backbone, ``landmark_backbone``): it
  runs both backbones in ``extract_feat`` and hands both feature tuples to
  the neck. The resize to 112 lives there too (the official IR-50 and the
  official forward each resize; the result is the same).
- :class:`PosterV2Neck` holds everything between the backbones and the
  linear classifier, SE block included, so ``LinearClsHead`` is the head and
  the neck's output is the recalibrated CLS feature.
- Modules the official model builds but never runs are not built: the
  IR-50 output layer (12.85 M), the ViT's ``IRLinear1/2``, ``CON1``,
  ``patch_embed``, per-block ``Conv1d`` and ``eca_block``, and the
  MobileFaceNet landmark head (0.10 M). 43.72 M parameters (thop's count
  of the official model, frozen MobileFaceNet included) ~ 43.75 M here:
  ferpretrain counts the bare ``nn.Parameter`` s thop misses (pos_embed,
  CLS, bias tables, layer scales: 0.12 M) and drops the unused landmark
  head.
- Initialisation as the official code: ViT linears truncated-normal std
  0.01 (zero bias), CLS and position embedding truncated-normal std 0.02,
  the bias tables std 0.02; the convolutions and the cross-attention
  linears keep PyTorch's default. Backbone weights come through the
  backbones' own ``init_cfg`` (both remap the official key layouts).
- Each scale's token embedding is derived from the ratio of its window to
  the smallest one (``log2`` stride-2 convs, or a 1x1 conv when equal),
  which gives exactly POSTER V2's three embeddings at its sizes.
"""
import math
import re
from collections import OrderedDict
from functools import partial
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule, constant_init, trunc_normal_init
from mmengine.model.weight_init import trunc_normal_
from mmengine.utils import deprecated_api_warning

from ferpretrain.registry import MODELS
from ..utils import SEBlock
from ..utils.helpers import apply_rename_rules, head_dims
from .landmark_image import LandmarkImageClassifier


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
        embed_dims (int): Channels ``C`` of queries, keys and values.
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

    @deprecated_api_warning(dict(dim='embed_dims'), 'WindowCrossAttention')
    def __init__(self, embed_dims: int, num_heads: int, window_size: int,
                 qkv_bias: bool = True, attn_drop: float = 0.,
                 proj_drop: float = 0.):
        super().__init__()
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.window_size = window_size
        self.scale = head_dims(embed_dims, num_heads,
                               'WindowCrossAttention')**-0.5
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
        self.qkv = nn.Linear(embed_dims, 2 * embed_dims, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(embed_dims, embed_dims)
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
        embed_dims (int): Channels ``C`` of the image map and of the query
            map.
        num_heads (int): Attention heads.
        window_size (int): Window side; the image map's sides must be
            multiples of it and the query map must be one window.
        mlp_ratio (float): MLP hidden width over ``embed_dims``. Defaults
            to 4.
        qkv_bias (bool): Bias of the key/value projection. Defaults to True.
        drop_rate (float): Dropout in the MLP and after the attention
            projection. Defaults to 0 (POSTER V2).
        attn_drop_rate (float): Attention dropout. Defaults to 0.
        drop_path_rate (float): Stochastic depth of both residual branches.
            POSTER V2 uses 0 / 0.125 / 0.25 for its three scales.
        layer_scale (float, optional): Initial value of the per-channel
            scales ``g1``, ``g2``; None disables them. Defaults to 1e-5
            (POSTER V2).

    Shapes:
        x: image map ``(B, C, H, W)``; query: landmark map
        ``(B, C, w, w)``. Output ``(B, C, H, W)``.
    """

    @deprecated_api_warning(
        dict(dim='embed_dims', drop='drop_rate', attn_drop='attn_drop_rate',
             drop_path='drop_path_rate'), 'WindowCrossAttentionBlock')
    def __init__(self, embed_dims: int, num_heads: int, window_size: int,
                 mlp_ratio: float = 4., qkv_bias: bool = True,
                 drop_rate: float = 0., attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 layer_scale: Optional[float] = 1e-5):
        from timm.layers import DropPath, Mlp  # see models/utils/helpers.py
        super().__init__()
        self.window_size = window_size
        self.norm1 = nn.LayerNorm(embed_dims)
        self.attn = WindowCrossAttention(
            embed_dims,
            num_heads,
            window_size,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop_rate,
            proj_drop=drop_rate)
        self.norm2 = nn.LayerNorm(embed_dims)
        self.mlp = Mlp(
            embed_dims, int(embed_dims * mlp_ratio), drop=drop_rate)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 \
            else nn.Identity()
        if layer_scale is None:
            self.gamma1 = self.gamma2 = None
        else:
            self.gamma1 = nn.Parameter(
                torch.full((embed_dims, ), layer_scale))
            self.gamma2 = nn.Parameter(
                torch.full((embed_dims, ), layer_scale))

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


def token_embedding(in_channels: int, embed_dims: int,
                    num_downsamples: int) -> nn.Module:
    """Conv stack that turns one scale's map into 7x7 tokens of width 768.

    ``num_downsamples`` stride-2 3x3 convs (the first changes the width), or
    a 1x1 conv when the map is already at token resolution. No norm or
    activation in between, as in POSTER V2.
    """
    if num_downsamples == 0:
        return nn.Conv2d(in_channels, embed_dims, 1)
    return nn.Sequential(*[
        nn.Conv2d(
            in_channels if i == 0 else embed_dims,
            embed_dims,
            3,
            stride=2,
            padding=1) for i in range(num_downsamples)
    ])


@MODELS.register_module()
class PosterV2Neck(BaseModule):
    """POSTER V2 between its backbones and its linear classifier.

    Args:
        in_channels (Sequence[int]): Channels of the image feature maps
            (IR-50 stages 1-3), which are also the widths (``embed_dims``)
            of the window cross-attention at each scale. Defaults to
            ``(64, 128, 256)``.
        landmark_channels (Sequence[int]): Channels of the landmark maps
            (MobileFaceNet ``conv_3``, ``conv_4``, ``conv_6_sep``). A scale
            whose width differs from ``in_channels`` gets a 3x3 conv
            (POSTER V2's ``last_face_conv``, 512 -> 256). Defaults to
            ``(64, 128, 512)``.
        num_heads (Sequence[int]): Cross-attention heads. Defaults to
            ``(2, 4, 8)``.
        window_sizes (Sequence[int]): Cross-attention windows, equal to the
            map sides after the stride-2 convs. Defaults to ``(28, 14, 7)``.
        drop_path_rates (Sequence[float]): Stochastic depth per scale.
            Defaults to ``(0., 0.125, 0.25)`` (POSTER V2's
            ``linspace(0, 0.5, 5)[:3]``).
        layer_scale (float): Initial layer-scale of the cross-attention
            blocks. Defaults to 1e-5.
        embed_dims (int): Token width. Defaults to 768.
        num_layers (int): ViT depth. Defaults to 2.
        vit_num_heads (int): ViT heads. Defaults to 8.
        mlp_ratio (float): MLP ratio of both the cross-attention blocks and
            the ViT. Defaults to 4.
        qkv_bias (bool): Bias of the ViT qkv projection. Defaults to True.
        norm_eps (float): LayerNorm epsilon of the ViT. Defaults to 1e-6.
        drop_rate (float): Dropout of the ViT. Defaults to 0.
        init_cfg (dict, optional): Initialisation config.

    Shapes:
        image_feats: ``(B, 64, 56, 56), (B, 128, 28, 28), (B, 256, 14, 14)``;
        landmark_feats: ``(B, 64, 28, 28), (B, 128, 14, 14),
        (B, 512, 7, 7)``. Output: a 1-tuple ``((B, 768), )``, the CLS
        feature after the SE block.
    """

    @deprecated_api_warning(dict(dims='in_channels'), 'PosterV2Neck')
    def __init__(self,
                 in_channels: Sequence[int] = (64, 128, 256),
                 landmark_channels: Sequence[int] = (64, 128, 512),
                 num_heads: Sequence[int] = (2, 4, 8),
                 window_sizes: Sequence[int] = (28, 14, 7),
                 drop_path_rates: Sequence[float] = (0., 0.125, 0.25),
                 layer_scale: float = 1e-5,
                 embed_dims: int = 768,
                 num_layers: int = 2,
                 vit_num_heads: int = 8,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 norm_eps: float = 1e-6,
                 drop_rate: float = 0.,
                 init_cfg: Optional[dict] = None):
        from timm.models.vision_transformer import Block  # see helpers.py
        super().__init__(init_cfg=init_cfg)
        num_scales = len(in_channels)
        if not (len(landmark_channels) == len(num_heads) == len(window_sizes)
                == len(drop_path_rates) == num_scales):
            raise ValueError('PosterV2Neck: in_channels, landmark_channels, '
                             'num_heads, window_sizes and drop_path_rates '
                             'need one entry per scale.')
        token_side = min(window_sizes)
        num_downsamples = []
        for win in window_sizes:
            ratio = win // token_side
            if win % token_side or ratio & (ratio - 1):
                raise ValueError(
                    f'PosterV2Neck: window {win} must be a power-of-two '
                    f'multiple of the token grid side {token_side}.')
            num_downsamples.append(int(math.log2(ratio)))

        # Stride-2 convs on the IR-50 maps (official conv1/2/3): 56/28/14
        # -> 28/14/7, the sizes of the landmark maps.
        self.image_downsamples = nn.ModuleList(
            nn.Conv2d(c, c, 3, stride=2, padding=1) for c in in_channels)
        # Only where widths differ: at POSTER V2's sizes, scale 3's
        # last_face_conv (512 -> 256, 3x3, stride 1).
        self.landmark_projs = nn.ModuleList(
            nn.Conv2d(lc, c, 3, padding=1) if lc != c else nn.Identity()
            for lc, c in zip(landmark_channels, in_channels))
        self.cross_attns = nn.ModuleList(
            WindowCrossAttentionBlock(
                c,
                h,
                w,
                mlp_ratio=mlp_ratio,
                drop_path_rate=dp,
                layer_scale=layer_scale) for c, h, w, dp in zip(
                    in_channels, num_heads, window_sizes, drop_path_rates))
        self.token_embeds = nn.ModuleList(
            token_embedding(c, embed_dims, n)
            for c, n in zip(in_channels, num_downsamples))

        num_tokens = num_scales * token_side**2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.pos_embed = nn.Parameter(
            torch.zeros(1, num_tokens + 1, embed_dims))
        self.drop_after_pos = nn.Dropout(drop_rate)
        # timm's pre-norm block, as the official ViT (a copy of timm's):
        # plain nn.Linear layers, hence also the same thop count (thop 0.1.1
        # matches module types exactly and skips mmcv's Linear subclass).
        self.layers = nn.ModuleList(
            Block(
                embed_dims,
                vit_num_heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                proj_drop=drop_rate,
                norm_layer=partial(nn.LayerNorm, eps=norm_eps))
            for _ in range(num_layers))
        self.norm = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.se = SEBlock(embed_dims)

    def init_weights(self):
        super().init_weights()
        if self.init_cfg is not None:
            return
        # The official ViT's `_init_vit_weights` (ViT layers, final norm
        # and SE block); the rest keeps PyTorch's default, as there.
        vit_modules = [
            m for part in (*self.layers, self.norm, self.se)
            for m in part.modules()
        ]
        for m in vit_modules:
            if isinstance(m, nn.Linear):
                trunc_normal_init(m, std=.01, bias=0)
            elif isinstance(m, nn.LayerNorm):
                constant_init(m, 1, bias=0)
        trunc_normal_(self.pos_embed, std=.02)
        trunc_normal_(self.cls_token, std=.02)

    def forward_tokens(
            self, image_feats: Sequence[torch.Tensor],
            landmark_feats: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """Cross-attention per scale, then ``(B, 49, 768)`` tokens each."""
        tokens = []
        for i, (img, lm) in enumerate(zip(image_feats, landmark_feats)):
            query = self.landmark_projs[i](lm)
            fused = self.cross_attns[i](self.image_downsamples[i](img), query)
            tokens.append(self.token_embeds[i](fused).flatten(2).transpose(
                1, 2))
        return tokens

    def forward(self, image_feats: Sequence[torch.Tensor],
                landmark_feats: Sequence[torch.Tensor]) -> Tuple[torch.Tensor]:
        x = torch.cat(self.forward_tokens(image_feats, landmark_feats), dim=1)
        cls_token = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat([cls_token, x], dim=1)
        x = self.drop_after_pos(x + self.pos_embed)
        for layer in self.layers:
            x = layer(x)
        return (self.se(self.norm(x)[:, 0]), )


@MODELS.register_module()
class PosterV2(LandmarkImageClassifier):
    """POSTER V2 as an mmpretrain classifier (see the module docstring).

    Args:
        backbone (dict): The image branch, ``IResNet(depth=50,
            num_stages=3, out_indices=(0, 1, 2))``.
        landmark_backbone (dict): The landmark branch,
            ``MobileFaceNet(out_indices=(1, 2, 4), frozen=True)``.
        neck (dict): :class:`PosterV2Neck`.
        head (dict): ``LinearClsHead(in_channels=768)``.
        input_size (int): Side both branches see; the input is
            nearest-resized to it (POSTER V2 feeds 224 and resizes to 112).
            Defaults to 112.
        train_cfg, data_preprocessor, init_cfg: as ``ImageClassifier``.
    """


# ---------------------------------------------------------------------------
# Official releases: key rules
# ---------------------------------------------------------------------------
# The official ``main.py`` saves ``{'epoch', 'state_dict', 'best_acc',
# 'optimizer', 'recorder', ...}`` of a DataParallel model; it is read with
# ``ferpretrain.utils.foreign_checkpoint.read_torch_release`` (its
# ``RecorderMeter`` comes from the authors' ``__main__``).
#
# Key mapping (official name after stripping DataParallel's ``module.``;
# ``i`` = 1, 2, 3 is the scale, ``i-1`` its ferpretrain index):
#
#     official                              ferpretrain
#     ir_back.input_layer.*                 backbone.input_layer.*
#     ir_back.body{i}.<u>.*                 backbone.body.{i-1}.<u>.*
#  face_landback.conv_{3,4,5}.model.<n>.* landmark_backbone.conv_{3,4,5}.<n>.*
#     face_landback.<layer>.*               landmark_backbone.<layer>.*
#         (layer: conv1, conv2_dw, conv_23, conv_34, conv_45, conv_6_sep)
#     conv{i}.*                             neck.image_downsamples.{i-1}.*
#     last_face_conv.*                      neck.landmark_projs.2.*
#     window{i}.norm.*                      neck.cross_attns.{i-1}.norm1.*
#     attn{i}.relative_position_bias_table  neck.cross_attns.{i-1}.attn.<same>
#     attn{i}.qkv.* / attn{i}.proj.*        neck.cross_attns.{i-1}.attn.<same>
#  ffn{i}.gamma1 / ffn{i}.gamma2         neck.cross_attns.{i-1}.gamma1/gamma2
#     ffn{i}.norm.*                         neck.cross_attns.{i-1}.norm2.*
#  ffn{i}.mlp.fc1/fc2.*                  neck.cross_attns.{i-1}.mlp.fc1/fc2.*
#     embed_q.{0,1}.*                       neck.token_embeds.0.{0,1}.*
#     embed_k.0.*                           neck.token_embeds.1.0.*
#     embed_v.proj.*   (1x1 conv)           neck.token_embeds.2.*
#     VIT.cls_token / VIT.pos_embed         neck.cls_token / neck.pos_embed
#     VIT.blocks.<n>.norm1/norm2.*          neck.layers.<n>.norm1/norm2.*
#     VIT.blocks.<n>.attn.qkv/proj.*        neck.layers.<n>.attn.qkv/proj.*
#     VIT.blocks.<n>.mlp.fc1/fc2.*          neck.layers.<n>.mlp.fc1/fc2.*
#     VIT.norm.*                            neck.norm.*
#     VIT.se_block.linear1/linear2.*        neck.se.linear1/linear2.*
#     VIT.head.linear.*                     head.fc.*
#
# Dropped keys (returned, grouped, never silently lost), all of modules the
# official forward never runs or of buffers ferpretrain recomputes:
#
# - ``ir_back.output_layer.*``: IR-50's face-recognition output layer;
# - ``face_landback.output_layer.*``: the MobileFaceNet landmark regressor
#   (its output is discarded by the official forward, ferpretrain does not
#   build it);
# - ``attn{i}.relative_position_index``: derived from the window size, a
#   non-persistent buffer in ferpretrain;
# - ``VIT.patch_embed.*``, ``VIT.CON1.*``, ``VIT.IRLinear1.*``,
#   ``VIT.IRLinear2.*``, ``VIT.eca_block.*``, ``VIT.blocks.<n>.conv.*``
#   (per-block ``Conv1d``): built by the official ViT, never run.
#
# Any other key is unknown. Nothing is permuted: the head order is the
# sorted class-folder names of the training data (``ImageFolder``), which
# the converter names from ``--dataset``.
_MLP = r'mlp\.(?:fc1|fc2)\.(?:weight|bias)'
_WB = r'(?:weight|bias)'
_LANDMARK_LAYERS = r'(?:conv1|conv2_dw|conv_23|conv_34|conv_45|conv_6_sep)'


def _scale(match: 're.Match') -> str:
    return str(int(match.group('i')) - 1)


# (pattern, replacement) on the official name without ``module.``. A
# replacement is a format string over the named groups, ``{s}`` being the
# 0-based scale of group ``i``.
_RENAMES = [
    (r'ir_back\.input_layer\.(?P<r>.+)', 'backbone.input_layer.{r}'),
    (r'ir_back\.body(?P<i>[1-3])\.(?P<r>\d+\..+)', 'backbone.body.{s}.{r}'),
    (r'face_landback\.(?P<l>conv_[345])\.model\.(?P<r>\d+\..+)',
     'landmark_backbone.{l}.{r}'),
    (rf'face_landback\.(?P<l>{_LANDMARK_LAYERS})\.(?P<r>.+)',
     'landmark_backbone.{l}.{r}'),
    (rf'conv(?P<i>[1-3])\.(?P<r>{_WB})', 'neck.image_downsamples.{s}.{r}'),
    (rf'last_face_conv\.(?P<r>{_WB})', 'neck.landmark_projs.2.{r}'),
    (rf'window(?P<i>[1-3])\.norm\.(?P<r>{_WB})',
     'neck.cross_attns.{s}.norm1.{r}'),
    (rf'attn(?P<i>[1-3])\.(?P<r>relative_position_bias_table|'
     rf'(?:qkv|proj)\.{_WB})', 'neck.cross_attns.{s}.attn.{r}'),
    (r'ffn(?P<i>[1-3])\.(?P<r>gamma[12])', 'neck.cross_attns.{s}.{r}'),
    (rf'ffn(?P<i>[1-3])\.norm\.(?P<r>{_WB})',
     'neck.cross_attns.{s}.norm2.{r}'),
    (rf'ffn(?P<i>[1-3])\.(?P<r>{_MLP})', 'neck.cross_attns.{s}.{r}'),
    (rf'embed_q\.(?P<r>[01]\.{_WB})', 'neck.token_embeds.0.{r}'),
    (rf'embed_k\.0\.(?P<r>{_WB})', 'neck.token_embeds.1.0.{r}'),
    (rf'embed_v\.proj\.(?P<r>{_WB})', 'neck.token_embeds.2.{r}'),
    (r'VIT\.(?P<r>cls_token|pos_embed)', 'neck.{r}'),
    (rf'VIT\.blocks\.(?P<n>\d+)\.(?P<r>(?:norm1|norm2)\.{_WB}|'
     rf'attn\.(?:qkv|proj)\.{_WB}|{_MLP})', 'neck.layers.{n}.{r}'),
    (rf'VIT\.norm\.(?P<r>{_WB})', 'neck.norm.{r}'),
    (rf'VIT\.se_block\.(?P<r>linear[12]\.{_WB})', 'neck.se.{r}'),
    (rf'VIT\.head\.linear\.(?P<r>{_WB})', 'head.fc.{r}'),
]
_RENAMES = [(re.compile(p), r) for p, r in _RENAMES]

# (pattern, group label) of keys that are dropped on purpose.
_DROPS = [
    (r'ir_back\.output_layer\..+',
     'ir_back.output_layer (IR-50 face-recognition head, never run)'),
    (r'face_landback\.output_layer\..+',
     'face_landback.output_layer (landmark regressor, output unused)'),
    (r'attn[1-3]\.relative_position_index',
     'attn{1,2,3}.relative_position_index (derived buffer, recomputed)'),
    (r'VIT\.patch_embed\..+', 'VIT.patch_embed (never run)'),
    (r'VIT\.CON1\..+', 'VIT.CON1 (never run)'),
    (r'VIT\.IRLinear[12]\..+', 'VIT.IRLinear1/2 (never run)'),
    (r'VIT\.eca_block\..+', 'VIT.eca_block (never run)'),
    (r'VIT\.blocks\.\d+\.conv\..+',
     'VIT.blocks.<n>.conv (per-block Conv1d, never run)'),
]
_DROPS = [(re.compile(p), label) for p, label in _DROPS]


def _with_scale(match: 're.Match') -> Dict[str, Any]:
    groups = match.groupdict()
    if groups.get('i') is not None:
        groups['s'] = _scale(match)
    return groups


def _rename(name: str) -> Optional[str]:
    return apply_rename_rules(_RENAMES, name, fill=_with_scale)


def _drop_group(name: str) -> Optional[str]:
    for pattern, label in _DROPS:
        if pattern.fullmatch(name):
            return label
    return None


def convert_posterv2_checkpoint(
    state_dict: Dict[str, Any]
) -> Tuple['OrderedDict[str, Any]', Dict[str, List[str]], List[str]]:
    """Rename an official POSTER V2 state dict to :class:`PosterV2` names.

    The table is in the comment above the rules. ``module.`` (DataParallel)
    is stripped from every key that has it. Values are passed through as
    they are: nothing is reshaped or permuted.

    Args:
        state_dict (dict): ``checkpoint['state_dict']`` of a release file.

    Returns:
        tuple: ``(new_state_dict, dropped_keys, unknown_keys)``:
        the converted state dict (official order kept); the dropped keys
        (original names) grouped by reason, ``{label: [keys]}``; the keys
        no rule knows (original names), left out of the result.

    Raises:
        CheckpointError: Two official keys map to the same name (e.g. the
            file holds both ``module.x`` and ``x``).
    """
    from ferpretrain.utils.foreign_checkpoint import rename_state_dict
    return rename_state_dict(state_dict, _rename, _drop_group, 'POSTER V2')
