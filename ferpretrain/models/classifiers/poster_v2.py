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
from mmengine.model import BaseModule, constant_init, trunc_normal_init
from timm.layers import trunc_normal_
from timm.models.vision_transformer import Block

from ferpretrain.registry import MODELS
from ..utils import SEBlock, WindowCrossAttentionBlock
from .landmark_image import LandmarkImageClassifier


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
        dims (Sequence[int]): Channels of the image feature maps (IR-50
            stages 1-3) and of the attention at each scale. Defaults to
            ``(64, 128, 256)``.
        landmark_channels (Sequence[int]): Channels of the landmark maps
            (MobileFaceNet ``conv_3``, ``conv_4``, ``conv_6_sep``). A scale
            whose width differs from ``dims`` gets a 3x3 conv (POSTER V2's
            ``last_face_conv``, 512 -> 256). Defaults to ``(64, 128, 512)``.
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

    def __init__(self,
                 dims: Sequence[int] = (64, 128, 256),
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
        super().__init__(init_cfg=init_cfg)
        num_scales = len(dims)
        if not (len(landmark_channels) == len(num_heads) == len(window_sizes)
                == len(drop_path_rates) == num_scales):
            raise ValueError('PosterV2Neck: dims, landmark_channels, '
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
            nn.Conv2d(d, d, 3, stride=2, padding=1) for d in dims)
        # Only where widths differ: at POSTER V2's sizes, scale 3's
        # last_face_conv (512 -> 256, 3x3, stride 1).
        self.landmark_projs = nn.ModuleList(
            nn.Conv2d(c, d, 3, padding=1) if c != d else nn.Identity()
            for c, d in zip(landmark_channels, dims))
        self.cross_attns = nn.ModuleList(
            WindowCrossAttentionBlock(
                d,
                h,
                w,
                mlp_ratio=mlp_ratio,
                drop_path=dp,
                layer_scale=layer_scale) for d, h, w, dp in zip(
                    dims, num_heads, window_sizes, drop_path_rates))
        self.token_embeds = nn.ModuleList(
            token_embedding(d, embed_dims, n)
            for d, n in zip(dims, num_downsamples))

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


def _rename(name: str) -> Optional[str]:
    for pattern, replacement in _RENAMES:
        match = pattern.fullmatch(name)
        if match:
            groups = match.groupdict()
            if groups.get('i') is not None:
                groups['s'] = _scale(match)
            return replacement.format(**groups)
    return None


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
