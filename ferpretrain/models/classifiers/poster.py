"""POSTER (Zheng, Mendieta, Chen, "POSTER: A Pyramid Cross-Fusion
Transformer Network for Facial Expression Recognition", arXiv 2204.04083,
ICCV Workshops 2023; official code zczcwh/POSTER, ``models/emotion_hyp.py``
and ``models/hyp_crossvit.py``).

Data flow for a 224x224 input (shapes without the batch axis):

.. code:: text

    x (3x224x224) -- nearest resize --> 3x112x112, fed to both branches
    image branch: IR-50 stages 1-3 -> 256x14x14
        raw reshape to 49 x 1024 (NOT patches: token i is the i-th run of
        1024 values of the channel-major map) -> Linear 1024->512
    landmark branch: frozen MobileFaceNet conv_6_sep 512x7x7 -> 49 x 512
    each stream: CLS = mean of its tokens, prepended -> 50 x 512;
        pos_embed (1, 50, 512) on the image stream only
    x = [image | landmark]: 100 x 512
    embedding-axis pyramid: x_l = x (100x512), x_m = Conv1d k2 s2 (100x256),
        x_s = Conv1d k4 s4 (100x128)
    depth x PyramidCrossFusion (a CrossFusionBlock per scale, 8 heads,
        MLP ratio 2, qkv bias, fused top-down by ConvTranspose1d)
    LayerNorm(x_l) -> image CLS (token 0) -> SEBlock(512) -> Linear

**The cross-fusion** (official ``models/hyp_crossvit.py``) fuses two
token streams of equal length ``N`` (image tokens and landmark tokens, each
with its own CLS token in front), held side by side in one ``(B, 2N, C)``
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

The AffectNet network (``token_mixing=False``, below) ends without the
last line and returns ``[img | lm]`` as it is.

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

Sizes: ``arch`` ``'large'`` (depth 8, the paper's reported model),
``'base'`` (6) and ``'small'`` (4), as the official ``type`` argument.

**Two released networks.** The RAF-DB code (``emotion_hyp.py`` /
``hyp_crossvit.py``) ends every cross-fusion block with a token-mixing
``Conv1d(100, 100, 1)``; the AffectNet code that trained the AffectNet-7 and
-8 releases (``train_affect.py`` -> ``emotion_hyp_affect.py`` /
``hyp_crossvit_affect.py``) has no such conv, and nothing else differs.
``PosterNeck(token_mixing=False)`` builds the AffectNet network
(``configs/poster/affectnet7.py`` / ``affectnet8.py``): 242,400 parameters
fewer in the large model (24 blocks x (100 x 100 + 100)), 58.66 M in all.

**Parameters against the paper's 71.8 M.** ``sum(p.numel())`` over the
official large model gives 71.85 M, but 12.85 M of that is the IR-50's
face-recognition ``output_layer`` (``Linear(512*7*7, 512)`` + norms), which
the forward never runs and ferpretrain does not build. A few more are
official parameters that are never used: the ViT's learnable ``cls_token``
(the CLS tokens are token means) and the MobileFaceNet landmark regressor
(its output is thrown away; 0.10 M). What runs, and what ferpretrain
builds, is 58.91 M at 7 classes, with 0.91 M of it the frozen MobileFaceNet
(trainable: 58.00 M). thop, which counts every module that runs but skips
bare ``nn.Parameter`` s, reports 58.98 M for the official model (landmark
head included, ``pos_embed`` excluded).

**MACs**: 7.89 GMAC at 224 (fvcore 7.885, thop 7.895 on the official
model, ``docs/reference/paper-facts.md``); asserted in the tests. The
"15.7 G" sometimes quoted is about 2 x 7.89, i.e. FLOPs = 2 x MACs.

Choices (ferpretrain's; the computation is the official one):

- :class:`Poster` is a :class:`LandmarkImageClassifier`: both backbones run
  in ``extract_feat`` and :class:`PosterNeck` receives both feature tuples.
  The SE block sits at the end of the neck, so the head is mmpretrain's
  ``LinearClsHead`` and ``POSTERLoss`` (CE + 2 x LSCE(0.2)) its loss.
- Not built: the IR-50 output layer, the ViT ``cls_token``, the
  MobileFaceNet landmark head (see above).
- Initialisation as the official code, which initialises nothing itself:
  PyTorch defaults for every layer, the position embedding zero.
- The official code fixes 49 tokens per stream and 1024 values per image
  token. Here the token count follows the landmark map (``h * w``) and the
  image map is reshaped into as many tokens, so reduced models (other input
  sizes, narrower IR-ResNets) use the same code; ``image_token_dims`` must
  equal ``C * H * W / num_tokens`` and a mismatch is an error that says
  what to set. A landmark width other than ``embed_dims`` gets a linear
  projection (never at POSTER's sizes, where the landmark tokens enter
  unprojected).
"""
import re
from collections import OrderedDict
from functools import partial
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmengine.utils import deprecated_api_warning

from ferpretrain.registry import MODELS
from ..backbones.iresnet import rename_flat_body_key
from ..utils import SEBlock
from ..utils.helpers import apply_rename_rules, head_dims
from .landmark_image import LandmarkImageClassifier

@MODELS.register_module()
class CrossAttention(nn.Module):
    """Multi-head attention with unprojected queries from another stream.

    Args:
        embed_dims (int): Token width ``C``; heads split it into
            contiguous chunks.
        num_heads (int): Heads. Defaults to 8.
        qkv_bias (bool): Bias of the key/value projection. Defaults to True
            (POSTER's ``qkv_bias``; its output projection always has one).
        attn_drop (float): Dropout on the attention weights. Defaults to 0.
        proj_drop (float): Dropout after the output projection. Defaults to
            0.

    Shapes:
        query ``(B, Nq, C)``, context ``(B, Nk, C)`` -> ``(B, Nq, C)``.
    """

    @deprecated_api_warning(dict(dims='embed_dims'), 'CrossAttention')
    def __init__(self, embed_dims: int, num_heads: int = 8,
                 qkv_bias: bool = True, attn_drop: float = 0.,
                 proj_drop: float = 0.):
        super().__init__()
        head_dims(embed_dims, num_heads, 'CrossAttention')
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.kv = nn.Linear(embed_dims, 2 * embed_dims, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
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
        embed_dims (int): Token width of this pyramid scale.
        num_tokens (int): Tokens per stream, CLS included (POSTER: 50).
        num_heads (int): Heads of both attentions. Defaults to 8.
        mlp_ratio (float): Hidden width of the two MLPs over
            ``embed_dims``. Defaults to 2 (POSTER).
        qkv_bias (bool): Key/value bias. Defaults to True.
        drop_rate (float): Dropout after the projections and in the MLPs.
        attn_drop_rate (float): Attention dropout.
        drop_path_rate (float): Stochastic depth of the four residual
            branches.
        norm_eps (float): LayerNorm epsilon. Defaults to 1e-6 (POSTER).
        token_mixing (bool): End with the token-mixing ``Conv1d`` (POSTER's
            RAF-DB network). False builds the official AffectNet network,
            which has none. Defaults to True.

    Shapes:
        ``(B, 2 * num_tokens, embed_dims)`` -> the same.
    """

    @deprecated_api_warning(
        dict(dims='embed_dims', drop='drop_rate', attn_drop='attn_drop_rate',
             drop_path='drop_path_rate'), 'CrossFusionBlock')
    def __init__(self, embed_dims: int, num_tokens: int, num_heads: int = 8,
                 mlp_ratio: float = 2., qkv_bias: bool = True,
                 drop_rate: float = 0., attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0., norm_eps: float = 1e-6,
                 token_mixing: bool = True):
        from timm.layers import DropPath, Mlp  # see models/utils/helpers.py
        super().__init__()
        self.num_tokens = num_tokens
        norm = partial(nn.LayerNorm, embed_dims, eps=norm_eps)
        attention = partial(
            CrossAttention,
            embed_dims,
            num_heads,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop_rate,
            proj_drop=drop_rate)
        mlp = partial(
            Mlp,
            embed_dims,
            hidden_features=int(embed_dims * mlp_ratio),
            drop=drop_rate)
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
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 \
            else nn.Identity()
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
        embed_dims (Sequence[int]): Widths of the scales, largest first,
            each dividing the previous one (POSTER: ``(512, 256, 128)``).
        num_tokens (int): Tokens per stream, CLS included.
        drop_path_rate (float): Stochastic depth of every block of this
            layer.
        **block_kwargs: :class:`CrossFusionBlock` arguments shared by the
            scales (``num_heads``, ``mlp_ratio``, ``qkv_bias``,
            ``drop_rate``, ``attn_drop_rate``, ``norm_eps``,
            ``token_mixing``).

    Shapes:
        a list of ``(B, 2 * num_tokens, embed_dims[i])`` -> the same.
    """

    @deprecated_api_warning(
        dict(dims='embed_dims', drop_path='drop_path_rate'),
        'PyramidCrossFusion')
    def __init__(self,
                 embed_dims: Sequence[int],
                 num_tokens: int,
                 drop_path_rate: float = 0.,
                 **block_kwargs):
        super().__init__()
        self.blocks = nn.ModuleList(
            CrossFusionBlock(
                d, num_tokens, drop_path_rate=drop_path_rate, **block_kwargs)
            for d in embed_dims)
        # upsamples[i] takes scale i + 1 to scale i (POSTER names the
        # small -> medium one ``upsample_s`` and medium -> large
        # ``upsample_m``).
        self.upsamples = nn.ModuleList(
            nn.ConvTranspose1d(
                2 * num_tokens,
                2 * num_tokens,
                kernel_size=embed_dims[i] // embed_dims[i + 1],
                stride=embed_dims[i] // embed_dims[i + 1])
            for i in range(len(embed_dims) - 1))

    def forward(self, xs: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        xs = [block(x) for block, x in zip(self.blocks, xs)]
        # Smallest first, so each scale receives the already fused one below.
        for i in reversed(range(len(xs) - 1)):
            xs[i] = xs[i] + self.upsamples[i](xs[i + 1])
        return xs


#: POSTER's ``type`` argument: the number of pyramid layers.
POSTER_ARCH_DEPTHS = {'small': 4, 'base': 6, 'large': 8}


@MODELS.register_module()
class PosterNeck(BaseModule):
    """POSTER between its backbones and its linear classifier.

    Args:
        arch (str): ``'small'``, ``'base'`` or ``'large'`` (depth 4, 6, 8).
            Defaults to ``'large'``.
        depth (int, optional): Overrides the depth of ``arch``.
        num_tokens (int): Tokens per stream before the CLS token; must equal
            the landmark map's ``h * w``. Defaults to 49.
        image_token_dims (int): Values per image token after the raw
            reshape, ``C * H * W / num_tokens``. Defaults to 1024
            (256x14x14 into 49 tokens).
        landmark_channels (int): Channels of the landmark map. Defaults to
            512 (MobileFaceNet ``conv_6_sep``).
        embed_dims (int): Token width of the largest scale. Defaults to 512.
        num_scales (int): Scales of the embedding-axis pyramid; scale ``i``
            has width ``embed_dims / 2**i``. Defaults to 3 (512/256/128).
        num_heads (int): Heads of every cross-attention. Defaults to 8.
        mlp_ratio (float): MLP ratio. Defaults to 2.
        qkv_bias (bool): Key/value bias. Defaults to True.
        drop_rate (float): Dropout (projections, MLPs, after the position
            embedding). Defaults to 0.
        attn_drop_rate (float): Attention dropout. Defaults to 0.
        drop_path_rate (float): Stochastic depth, linear from 0 at the first
            layer to this at the last. Defaults to 0.1.
        norm_eps (float): LayerNorm epsilon. Defaults to 1e-6.
        token_mixing (bool): The token-mixing ``Conv1d`` at the end of every
            cross-fusion block: True builds the RAF-DB network, False the
            official AffectNet network (see the module docstring). Defaults
            to True.
        init_cfg (dict, optional): Initialisation config.

    Shapes:
        image_feats: a tuple whose last item is ``(B, C, H, W)`` (IR-50
        stage 3, ``(B, 256, 14, 14)``); landmark_feats: a tuple whose last
        item is ``(B, landmark_channels, h, w)`` (``(B, 512, 7, 7)``).
        Output: ``((B, embed_dims), )``, the image CLS after the SE block.
    """

    def __init__(self,
                 arch: str = 'large',
                 depth: Optional[int] = None,
                 num_tokens: int = 49,
                 image_token_dims: int = 1024,
                 landmark_channels: int = 512,
                 embed_dims: int = 512,
                 num_scales: int = 3,
                 num_heads: int = 8,
                 mlp_ratio: float = 2.,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 norm_eps: float = 1e-6,
                 token_mixing: bool = True,
                 init_cfg: Optional[Union[dict, Sequence[dict]]] = None):
        super().__init__(init_cfg=init_cfg)
        if depth is None:
            if arch not in POSTER_ARCH_DEPTHS:
                raise ValueError(
                    f'PosterNeck: arch {arch!r} is not one of '
                    f'{sorted(POSTER_ARCH_DEPTHS)}; or pass depth=.')
            depth = POSTER_ARCH_DEPTHS[arch]
        dims = [embed_dims // 2**i for i in range(num_scales)]
        if any(embed_dims % 2**i or d % num_heads
               for i, d in enumerate(dims)):
            raise ValueError(
                f'PosterNeck: every pyramid width {dims} (embed_dims '
                f'{embed_dims} halved per scale) must be a whole number '
                f'divisible by num_heads {num_heads}.')
        self.num_tokens = num_tokens
        self.image_token_dims = image_token_dims
        self.landmark_channels = landmark_channels
        stream_tokens = num_tokens + 1  # the mean CLS token in front

        # POSTER's ``ir_layer``.
        self.image_proj = nn.Linear(image_token_dims, embed_dims)
        self.landmark_proj = (
            nn.Linear(landmark_channels, embed_dims)
            if landmark_channels != embed_dims else nn.Identity())
        self.pos_embed = nn.Parameter(
            torch.zeros(1, stream_tokens, embed_dims))
        self.drop_after_pos = nn.Dropout(drop_rate)
        self.downsamples = nn.ModuleList(
            embedding_downsample(2 * stream_tokens, 2**i)
            for i in range(1, num_scales))
        drop_paths = torch.linspace(0, drop_path_rate, depth).tolist()
        self.layers = nn.ModuleList(
            PyramidCrossFusion(
                dims,
                stream_tokens,
                drop_path_rate=dp,
                num_heads=num_heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                drop_rate=drop_rate,
                attn_drop_rate=attn_drop_rate,
                norm_eps=norm_eps,
                token_mixing=token_mixing) for dp in drop_paths)
        self.norm = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.se = SEBlock(embed_dims)

    def tokens(self, image_map: torch.Tensor,
               landmark_map: torch.Tensor) -> torch.Tensor:
        """The two streams with their CLS tokens: ``(B, 2 * (N + 1), C)``."""
        b = image_map.shape[0]
        if landmark_map.shape[1] != self.landmark_channels:
            raise ValueError(
                f'PosterNeck: the landmark map has {landmark_map.shape[1]} '
                f'channels, landmark_channels is {self.landmark_channels}.')
        lm = landmark_map.flatten(2).transpose(1, 2)
        n = lm.shape[1]
        per_token = image_map[0].numel() / n
        if n != self.num_tokens or per_token != self.image_token_dims:
            raise ValueError(
                'PosterNeck: the landmark map '
                f'{tuple(landmark_map.shape[1:])} gives {n} tokens and the '
                f'image map {tuple(image_map.shape[1:])} {per_token:g} values '
                f'per token; the neck was built for num_tokens='
                f'{self.num_tokens}, image_token_dims='
                f'{self.image_token_dims}. Set those two (for a C x H x W '
                'image map: image_token_dims = C*H*W / num_tokens) or change '
                'the input size.')
        # POSTER's ``view(-1, 49, 1024)``: a raw reshape of the
        # channel-major map, kept as is because trained weights depend on it.
        img = self.image_proj(image_map.reshape(b, n, -1))
        lm = self.landmark_proj(lm)
        img = torch.cat([img.mean(1, keepdim=True), img], dim=1)
        img = self.drop_after_pos(img + self.pos_embed)
        lm = torch.cat([lm.mean(1, keepdim=True), lm], dim=1)
        return torch.cat([img, lm], dim=1)

    def forward(self, image_feats: Sequence[torch.Tensor],
                landmark_feats: Sequence[torch.Tensor]) -> Tuple[torch.Tensor]:
        x = self.tokens(image_feats[-1], landmark_feats[-1])
        xs = [x] + [down(x) for down in self.downsamples]
        for layer in self.layers:
            xs = layer(xs)
        return (self.se(self.norm(xs[0])[:, 0]), )


@MODELS.register_module()
class Poster(LandmarkImageClassifier):
    """POSTER as an mmpretrain classifier (see the module docstring).

    Args:
        backbone (dict): The image branch, ``IResNet(depth=50,
            num_stages=3)`` (stage 3, 256x14x14 at 112).
        landmark_backbone (dict): The landmark branch,
            ``MobileFaceNet(out_indices=(4, ), frozen=True)``.
        neck (dict): :class:`PosterNeck`.
        head (dict): ``LinearClsHead(in_channels=512,
            loss=dict(type='POSTERLoss'))``.
        input_size (int): Side both branches see; the input is
            nearest-resized to it (POSTER feeds 224 and resizes to 112).
            Defaults to 112.
        train_cfg, data_preprocessor, init_cfg: as ``ImageClassifier``.
    """


# ---------------------------------------------------------------------------
# Official checkpoints: key rules
# ---------------------------------------------------------------------------
# The official ``train.py`` / ``train_affect.py`` save ``{'iter',
# 'model_state_dict', 'optimizer_state_dict'}`` of a ``DataParallel`` model
# (keys start with ``module.``). Official name (without ``module.``) ->
# ferpretrain name; ``<b>`` is the pyramid layer, ``<s>`` the scale (``l``
# 0, ``m`` 1, ``s`` 2):
#
#   ir_back.input_layer.*                    backbone.input_layer.*
#   ir_back.body.<n>.*   (flat, n = 0..20)   backbone.body.<stage>.<unit>.*
#       (units 0-2 stage 0, 3-6 stage 1, 7-20 stage 2)
#   face_landback.conv_{3,4,5}.model.<n>.*   landmark_backbone.conv_*.<n>.*
#   face_landback.<layer>.*                  landmark_backbone.<layer>.*
#   ir_layer.*                               neck.image_proj.*
#   pyramid_fuse.pos_embed                   neck.pos_embed
#   pyramid_fuse.downsample_m / _s.*         neck.downsamples.0 / 1.*
#   pyramid_fuse.blocks.<b>.block_<s>.X      neck.layers.<b>.blocks.<s>.Y
#       norm1 -> image_attn_norm       norm3 -> landmark_attn_norm
#       norm2 -> image_mlp_norm        norm4 -> landmark_mlp_norm
#       attn_img -> image_attn         attn_lm -> landmark_attn
#       mlp1 -> image_mlp              mlp2 -> landmark_mlp
#       conv -> token_mix              (RAF-DB network only)
#   pyramid_fuse.blocks.<b>.upsample_m.*     neck.layers.<b>.upsamples.0.*
#   pyramid_fuse.blocks.<b>.upsample_s.*     neck.layers.<b>.upsamples.1.*
#   pyramid_fuse.norm.*                      neck.norm.*
#   se_block.linear{1,2}.*                   neck.se.linear{1,2}.*
#   head.linear.*                            head.fc.*
#
# Dropped on purpose: ``ir_back.output_layer.*`` (IR-50 face-recognition
# layer, never run), ``face_landback.output_layer.*`` (the landmark
# regressor, output discarded) and ``pyramid_fuse.cls_token`` (never used:
# the CLS tokens are token means). No row of the head is permuted.
_WB = r'(?:weight|bias)'
_LANDMARK_LAYERS = r'(?:conv1|conv2_dw|conv_23|conv_34|conv_45|conv_6_sep)'
_SCALES = {'l': 0, 'm': 1, 's': 2}
_BLOCK_PARTS = {
    'norm1': 'image_attn_norm',
    'norm2': 'image_mlp_norm',
    'norm3': 'landmark_attn_norm',
    'norm4': 'landmark_mlp_norm',
    'attn_img': 'image_attn',
    'attn_lm': 'landmark_attn',
    'mlp1': 'image_mlp',
    'mlp2': 'landmark_mlp',
    'conv': 'token_mix',
}
_BLOCK = re.compile(
    r'pyramid_fuse\.blocks\.(?P<b>\d+)\.block_(?P<s>[lms])\.'
    r'(?P<part>norm[1-4]|attn_img|attn_lm|mlp[12]|conv)\.(?P<r>.+)')
_UPSAMPLE = re.compile(
    rf'pyramid_fuse\.blocks\.(?P<b>\d+)\.upsample_(?P<s>[ms])\.(?P<r>{_WB})')
_IR_BODY = re.compile(r'ir_back\.body\.(?P<n>\d+)\.(?P<r>.+)')
_SIMPLE = [(re.compile(p), r) for p, r in [
    (r'ir_back\.input_layer\.(?P<r>.+)', 'backbone.input_layer.{r}'),
    (r'face_landback\.(?P<l>conv_[345])\.model\.(?P<r>\d+\..+)',
     'landmark_backbone.{l}.{r}'),
    (rf'face_landback\.(?P<l>{_LANDMARK_LAYERS})\.(?P<r>.+)',
     'landmark_backbone.{l}.{r}'),
    (rf'ir_layer\.(?P<r>{_WB})', 'neck.image_proj.{r}'),
    (r'pyramid_fuse\.pos_embed', 'neck.pos_embed'),
    (rf'pyramid_fuse\.downsample_m\.(?P<r>{_WB})', 'neck.downsamples.0.{r}'),
    (rf'pyramid_fuse\.downsample_s\.(?P<r>{_WB})', 'neck.downsamples.1.{r}'),
    (rf'pyramid_fuse\.norm\.(?P<r>{_WB})', 'neck.norm.{r}'),
    (rf'se_block\.(?P<r>linear[12]\.{_WB})', 'neck.se.{r}'),
    (rf'head\.linear\.(?P<r>{_WB})', 'head.fc.{r}'),
]]
_DROPS = [(re.compile(p), label) for p, label in [
    (r'ir_back\.output_layer\..+',
     'ir_back.output_layer (IR-50 face-recognition head, never run)'),
    (r'face_landback\.output_layer\..+',
     'face_landback.output_layer (landmark regressor, output unused)'),
    (r'pyramid_fuse\.cls_token',
     'pyramid_fuse.cls_token (never used: CLS tokens are token means)'),
]]

#: Units per stage of the IR-50 stages POSTER builds.
POSTER_IR50_UNITS = (3, 4, 14)


def _rename_poster_key(name: str,
                       stage_units: Sequence[int]) -> Optional[str]:
    match = _BLOCK.fullmatch(name)
    if match:
        return (f'neck.layers.{match["b"]}.blocks.{_SCALES[match["s"]]}.'
                f'{_BLOCK_PARTS[match["part"]]}.{match["r"]}')
    match = _UPSAMPLE.fullmatch(name)
    if match:
        return (f'neck.layers.{match["b"]}.upsamples.'
                f'{"ms".index(match["s"])}.{match["r"]}')
    # A body unit beyond the stages POSTER builds stays unknown.
    return (rename_flat_body_key(_IR_BODY, name, stage_units)
            or apply_rename_rules(_SIMPLE, name))


def convert_poster_checkpoint(
    state_dict: Dict[str, Any],
    stage_units: Sequence[int] = POSTER_IR50_UNITS,
) -> Tuple['OrderedDict[str, Any]', Dict[str, List[str]], List[str]]:
    """Rename an official POSTER state dict to :class:`Poster` names.

    The table is in the comment above this function; ``module.`` is
    stripped and values pass through unchanged. Both official networks
    convert (see :func:`poster_network_from_keys`).

    Args:
        state_dict (dict): ``checkpoint['model_state_dict']``.
        stage_units (Sequence[int]): IR units per stage, to split the flat
            ``ir_back.body.<n>``. Defaults to IR-50's ``(3, 4, 14)``.

    Returns:
        tuple: ``(new_state_dict, dropped_keys, unknown_keys)`` as
        :func:`ferpretrain.utils.foreign_checkpoint.rename_state_dict`.
    """
    from ferpretrain.utils.foreign_checkpoint import rename_state_dict

    def drop_group(name: str) -> Optional[str]:
        for pattern, label in _DROPS:
            if pattern.fullmatch(name):
                return label
        return None

    return rename_state_dict(state_dict,
                             lambda name: _rename_poster_key(
                                 name, stage_units), drop_group, 'POSTER')


def poster_network_from_keys(state_dict: Dict[str, Any]) -> Dict[str, Any]:
    """Which POSTER network a converted state dict holds.

    Returns:
        dict: ``depth`` (pyramid layers; 8 large, 6 base, 4 small) and
        ``token_mixing`` (True for the RAF-DB network, whose blocks end with
        the token-mixing ``Conv1d``; False for the AffectNet network) as
        :class:`PosterNeck` arguments. The two are told apart by the
        ``token_mix`` keys alone: nothing else differs.
    """
    layers = {int(k.split('.')[2]) for k in state_dict
              if k.startswith('neck.layers.')}
    return dict(
        depth=len(layers),
        token_mixing=any('.token_mix.' in k for k in state_dict))
