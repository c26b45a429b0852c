"""APViT's and TransFER's vision transformer: the home of both families.

APViT: Xue, Wang, Tan, Ma, Guo. "Vision Transformer with Attentive Pooling
for Robust Facial Expression Recognition". IEEE Transactions on Affective
Computing, 2022 (arXiv 2212.05463). TransFER: Xue, Wang, Guo. "TransFER:
Learning Relation-aware Facial Expression Representations with
Transformers", ICCV 2021. Both are an IR-50 stem, this neck and a linear
head; the shared blocks they plug in (attentive pooling, LANets + MAD,
MSAD) live in ``models/utils/``.

APViT feeds the 256x14x14 stage-3 map of a face IR-50 to a ViT:

1. a 1x1 conv projects it to 768 channels, giving 196 patch tokens;
2. the patch position embedding is added;
3. Attentive Patch Pooling (APP) keeps the 160 patches with the largest L1
   feature norm (scored before the position embedding is added);
4. a learnable CLS token (with its own position embedding) is prepended:
   161 tokens;
5. 8 transformer blocks; blocks 5-8 apply Attentive Token Pooling (ATP)
   with keep rate 0.9 after their attention residual: 161 -> 145 -> 130 ->
   117 -> 105 tokens;
6. the final LayerNorm's CLS token is the output.

The transformer is the *old* timm "ViT-Small" (``vit_small_p16_224``): 768
dims, 8 layers, 8 heads, MLP ratio 3, no qkv bias, LayerNorm eps 1e-6, no
dropout, attention scale head_dim^-0.5. It is not today's timm
``vit_small_patch16_224`` (384 dims, 12 layers, = DeiT-S). Parameter names
follow timm (``blocks.<i>.attn.qkv``, ``mlp.fc1`` ...) so that the old timm
file and APViT's release load directly; the timm ``pos_embed`` (197 tokens)
is split into ``cls_pos_embed`` and ``patch_pos_embed`` on load (resized
bicubically when the patch grid differs), and ``patch_embed.*`` / ``head.*``
are dropped because APViT takes its tokens from the CNN.

TransFER is the same neck without the pooling and with two droppings
(``configs/_base_/models/transfer_ir50_vit-s.py``), shapes for a 112x112
face:

.. code:: text

    IR-50 stages 1-3 -> 256x14x14
    feature_attention: 2 LANets, MAD drops one map for 60 % of the samples
        (MultiAttentionDropping) -> 256x14x14
    1x1 conv -> 768x14x14 -> 196 tokens + position embedding + CLS: 197x768
    8 blocks (8 heads, MLP ratio 3); in each, MSAD drops one whole head of
        the attention output for 30 % of the samples
        (MultiHeadSelfAttentionDropping)
    final LayerNorm -> CLS (768) -> Linear (LinearClsHead)

Placed as a neck, it sits on any backbone that returns feature maps.
Checkpoint key rules for both releases (APViT's PyTorch file, TransFER's
PaddlePaddle port) are at the end of this module.
"""
import math
import re
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from mmengine.utils import deprecated_api_warning
from mmpretrain.models.utils import resize_pos_embed

from ferpretrain.registry import MODELS
from ..backbones.iresnet import rename_flat_body_key
from ..utils.helpers import (apply_rename_rules, head_dims, is_pretrained,
                             replace_state_dict)
from ..utils.scope import builds_in_mmpretrain_scope


class PoolingAttention(nn.Module):
    """Multi-head self-attention that also returns the CLS attention logits.

    The attention itself runs through ``F.scaled_dot_product_attention``
    (fused kernels, no ``N x N`` matrix kept for the backward pass).
    Attentive token pooling (and the attention visualisation) needs only the
    pre-softmax logits of the CLS query, ``q_cls . k / sqrt(d)``: that one
    row, ``(B, heads, N)``, is computed on its own (``N`` dot products per
    head instead of ``N ** 2``). MSAD drops heads of the attention output,
    which the fused kernel returns as well. Outputs equal the explicit
    ``softmax(q k^T / sqrt(d)) v`` (tested); ferpretrain's fvcore-style
    counter counts the fused call as its two matrix products.

    Shapes:
        x (B, N, C) -> out (B, N, C), cls_logits (B, heads, N).
    """

    @deprecated_api_warning(dict(dim='embed_dims'), 'PoolingAttention')
    def __init__(self, embed_dims: int, num_heads: int,
                 qkv_bias: bool = False, qk_scale: Optional[float] = None,
                 attn_drop: float = 0., proj_drop: float = 0.,
                 head_dropping: Optional[nn.Module] = None):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = head_dims(embed_dims, num_heads, 'PoolingViT')
        self.scale = qk_scale or self.head_dim**-0.5
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)
        # TransFER's MSAD: drops whole heads of (attn @ v) in training.
        self.head_dropping = head_dropping

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        cls_logits = (q[:, :, :1] @ k.transpose(-2, -1))[:, :, 0] * self.scale
        heads = F.scaled_dot_product_attention(  # (B, h, N, head_dim)
            q, k, v,
            dropout_p=self.attn_drop.p if self.training else 0.,
            scale=self.scale)
        if self.head_dropping is not None:
            heads = self.head_dropping(heads)
        out = heads.transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(out)), cls_logits


class PoolingTransformerBlock(nn.Module):
    """Pre-norm transformer block with optional attentive token pooling.

    Pooling (when ``token_pooling`` is given) happens after the attention
    residual and before the MLP, as in APViT.
    """

    def __init__(self, embed_dims: int, num_heads: int, mlp_ratio: float,
                 qkv_bias: bool, qk_scale: Optional[float], drop_rate: float,
                 attn_drop_rate: float, drop_path_rate: float,
                 norm_eps: float, token_pooling: Optional[nn.Module] = None,
                 head_dropping: Optional[nn.Module] = None):
        from timm.layers import DropPath, Mlp  # see models/utils/helpers.py
        super().__init__()
        self.norm1 = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.attn = PoolingAttention(embed_dims, num_heads, qkv_bias,
                                     qk_scale, attn_drop_rate, drop_rate,
                                     head_dropping)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 \
            else nn.Identity()
        self.norm2 = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.mlp = Mlp(embed_dims, int(embed_dims * mlp_ratio),
                       act_layer=nn.GELU, drop=drop_rate)
        self.token_pooling = token_pooling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, cls_logits = self.attn(self.norm1(x))
        x = x + self.drop_path(out)
        if self.token_pooling is not None:
            x = self.token_pooling(x, cls_logits)
        return x + self.drop_path(self.mlp(self.norm2(x)))


def convert_timm_vit_keys(
    state_dict: Dict[str, torch.Tensor],
    patch_grid: Tuple[int, int],
    prefix: str = '',
) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Map an (old) timm ViT state dict onto :class:`PoolingViT` names.

    ``pos_embed`` (1, 1 + h*w, C) becomes ``cls_pos_embed`` (1, 1, C) and
    ``patch_pos_embed`` (1, H*W, C), resized bicubically from the source
    grid to ``patch_grid`` when they differ. ``patch_embed.*``, ``head.*``
    and ``pre_logits.*`` are dropped (APViT's tokens come from the CNN, and
    the classifier is the ferpretrain head) and returned in a list. A state
    dict without ``pos_embed`` under ``prefix`` is returned unchanged.
    """
    if prefix + 'pos_embed' not in state_dict:
        return state_dict, []
    converted: Dict[str, torch.Tensor] = {}
    dropped: List[str] = []
    for key, value in state_dict.items():
        name = key[len(prefix):] if key.startswith(prefix) else None
        if name is None:
            converted[key] = value
        elif name.split('.')[0] in ('patch_embed', 'head', 'pre_logits'):
            dropped.append(key)
        elif name == 'pos_embed':
            num_src = value.shape[1] - 1
            side = int(math.isqrt(num_src))
            if side * side != num_src:
                raise ValueError(
                    f'{key}: {num_src} patch positions do not form a square '
                    'grid; cannot resize it.')
            patch = resize_pos_embed(value, (side, side), patch_grid,
                                     mode='bicubic', num_extra_tokens=1)
            converted[prefix + 'cls_pos_embed'] = value[:, :1]
            converted[prefix + 'patch_pos_embed'] = patch[:, 1:]
        else:
            converted[key] = value
    return converted, dropped


@MODELS.register_module()
@builds_in_mmpretrain_scope
class PoolingViT(BaseModule):
    """APViT's transformer on CNN feature maps, as a neck.

    Args:
        in_channels (int): Channels of the input feature map (256 for IR-50
            stage 3).
        num_patches (int): H*W of the input map (196 for 14x14); the patch
            position embedding has this many entries.
        embed_dims (int): Token width. Defaults to 768.
        num_layers (int): Transformer blocks. Defaults to 8.
        num_heads (int): Attention heads. Defaults to 8.
        mlp_ratio (float): MLP hidden width / embed_dims. Defaults to 3.
        qkv_bias (bool): Defaults to False.
        qk_scale (float, optional): Attention scale; None = head_dim^-0.5
            (what APViT uses). Defaults to None.
        drop_rate, attn_drop_rate, drop_path_rate (float): Dropout, attention
            dropout and stochastic depth (linearly increasing over blocks).
            APViT uses 0 for all three.
        norm_eps (float): LayerNorm epsilon. Defaults to 1e-6.
        patch_pooling (dict, optional): Config of the patch pooling applied
            to the patch tokens, e.g. ``dict(type='AttentivePatchPooling',
            num_keep=160)``; None keeps every patch.
        token_keep_rates (Sequence[float], optional): Keep rate of the
            attentive token pooling in each block (1 = no pooling); APViT
            uses ``[1.] * 4 + [0.9] * 4``. None disables token pooling.
        token_pooling (dict): Config template of the token pooling module;
            each block with a rate below 1 builds one with its ``keep_rate``.
            Defaults to ``dict(type='AttentiveTokenPooling')``.
        feature_attention (dict, optional): A module applied to the input
            map before the projection, e.g. TransFER's
            ``dict(type='MultiAttentionDropping', in_channels=256)``
            (LANets + MAD). Defaults to None.
        head_dropping (dict, optional): A module every block applies to its
            per-head attention outputs, e.g. TransFER's
            ``dict(type='MultiHeadSelfAttentionDropping', drop_prob=0.3)``
            (MSAD). Defaults to None.
        in_index (int): Which backbone output to use. Defaults to -1.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained',
            checkpoint='vit_small_p16_224-15ec54c9.pth')``.

    With ``patch_pooling=None``, no token pooling, ``feature_attention``
    (MAD) and ``head_dropping`` (MSAD) this is TransFER's ViT-FER, the model
    APViT grew from.

    Shapes:
        inputs: tuple of (B, in_channels, H, W) -> tuple ((B, embed_dims),)
        holding the final-norm CLS token.
    """

    def __init__(self,
                 in_channels: int,
                 num_patches: int,
                 embed_dims: int = 768,
                 num_layers: int = 8,
                 num_heads: int = 8,
                 mlp_ratio: float = 3.,
                 qkv_bias: bool = False,
                 qk_scale: Optional[float] = None,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 norm_eps: float = 1e-6,
                 patch_pooling: Optional[dict] = None,
                 token_keep_rates: Optional[Sequence[float]] = None,
                 token_pooling: dict = dict(type='AttentiveTokenPooling'),
                 feature_attention: Optional[dict] = None,
                 head_dropping: Optional[dict] = None,
                 in_index: int = -1,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        side = int(math.isqrt(num_patches))
        self.patch_grid = (side, side) if side * side == num_patches else (
            1, num_patches)
        if token_keep_rates is None:
            token_keep_rates = [1.] * num_layers
        if len(token_keep_rates) != num_layers:
            raise ValueError(
                f'PoolingViT: token_keep_rates has {len(token_keep_rates)} '
                f'entries for {num_layers} layers; give one per layer.')
        self.in_channels = in_channels
        self.num_patches = num_patches
        self.embed_dims = embed_dims
        self.in_index = in_index
        self.token_keep_rates = tuple(token_keep_rates)

        self.feature_attention = MODELS.build(
            feature_attention) if feature_attention else None
        self.proj = nn.Conv2d(in_channels, embed_dims, 1)
        self.patch_pos_embed = nn.Parameter(
            torch.zeros(1, num_patches, embed_dims))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.cls_pos_embed = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.pos_drop = nn.Dropout(drop_rate)
        self.patch_pooling = MODELS.build(
            patch_pooling) if patch_pooling else None

        dpr = torch.linspace(0, drop_path_rate, num_layers).tolist()
        blocks = []
        for i, rate in enumerate(token_keep_rates):
            pooling = None
            if rate < 1:
                pooling = MODELS.build(dict(token_pooling, keep_rate=rate))
            dropping = MODELS.build(head_dropping) if head_dropping \
                else None
            blocks.append(
                PoolingTransformerBlock(embed_dims, num_heads, mlp_ratio,
                                        qkv_bias, qk_scale, drop_rate,
                                        attn_drop_rate, dpr[i], norm_eps,
                                        pooling, dropping))
        self.blocks = nn.ModuleList(blocks)
        self.norm = nn.LayerNorm(embed_dims, eps=norm_eps)
        self._register_load_state_dict_pre_hook(self._remap_timm_keys)

    def _remap_timm_keys(self, state_dict, prefix, local_metadata, strict,
                         missing_keys, unexpected_keys, error_msgs):
        converted, dropped = convert_timm_vit_keys(state_dict,
                                                   self.patch_grid, prefix)
        if converted is not state_dict:
            MMLogger.get_current_instance().info(
                'PoolingViT: converted a timm ViT checkpoint (pos_embed '
                'split into cls/patch position embeddings); dropped '
                f'{len(dropped)} keys APViT does not use: '
                f'{sorted({k[len(prefix):].split(".")[0] for k in dropped})}'
            )
            replace_state_dict(state_dict, converted)

    def init_weights(self):
        super().init_weights()
        if is_pretrained(self.init_cfg):
            return
        trunc_normal_(self.patch_pos_embed, std=.02)
        trunc_normal_(self.cls_pos_embed, std=.02)
        trunc_normal_(self.cls_token, std=.02)
        for m in self.blocks.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def num_tokens_per_block(self) -> List[int]:
        """Tokens (CLS included) leaving each block, from the config."""
        n = 1 + (self.patch_pooling.num_keep
                 if self.patch_pooling is not None else self.num_patches)
        counts = []
        for block in self.blocks:
            if block.token_pooling is not None:
                n = block.token_pooling.num_kept(n)
            counts.append(n)
        return counts

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor]:
        x = inputs[self.in_index]
        B, _, H, W = x.shape
        if H * W != self.num_patches:
            raise ValueError(
                f'PoolingViT: the input map is {H}x{W} = {H * W} patches but '
                f'num_patches={self.num_patches}; set num_patches to match '
                'the backbone output for your input size.')
        if self.feature_attention is not None:
            x = self.feature_attention(x)
        x = self.proj(x).flatten(2).transpose(1, 2)  # (B, HW, C)
        # APP scores the projected features before position information is
        # added, then pools the position-embedded tokens.
        scores_from = x
        x = x + self.patch_pos_embed
        if self.patch_pooling is not None:
            x = self.patch_pooling(x, scores_from)
        cls = (self.cls_token + self.cls_pos_embed).expand(B, -1, -1)
        x = self.pos_drop(torch.cat([cls, x], dim=1))
        for block in self.blocks:
            x = block(x)
        return (self.norm(x)[:, 0], )


# ---------------------------------------------------------------------------
# Official checkpoints of the two PoolingViT models: key rules
# ---------------------------------------------------------------------------
# APViT (youqingxiaozhua/APViT, a fork of mmcls 0.x) -> ferpretrain
# ImageClassifier names. Its IR-50 (``extractor``) is already nested
# ``body.<stage>.<unit>``.
_APVIT_PREFIXES: Sequence[Tuple[str, str]] = (
    ('extractor.', 'backbone.'),
    ('vit.projs.0.', 'neck.proj.'),
    ('vit.cls_token', 'neck.cls_token'),
    ('vit.cls_pos_embed', 'neck.cls_pos_embed'),
    ('vit.patch_pos_embed', 'neck.patch_pos_embed'),
    ('vit.blocks.', 'neck.blocks.'),
    ('vit.norm.', 'neck.norm.'),
    ('head.fc.', 'head.fc.'),
)
_HEAD_KEYS = ('head.fc.weight', 'head.fc.bias')


def _reorder_head(name: str, value: torch.Tensor,
                  head_order: Optional[Sequence[int]]) -> torch.Tensor:
    if head_order is None or name not in _HEAD_KEYS:
        return value
    if value.shape[0] != len(head_order):
        from ferpretrain.utils.errors import CheckpointError
        raise CheckpointError(
            f'{name}: the classifier has {value.shape[0]} rows, the class '
            f'order names {len(head_order)} classes.')
    return value[list(head_order)].clone()


def convert_apvit_checkpoint(
    state_dict: Dict[str, torch.Tensor],
    head_order: Optional[Sequence[int]] = None,
) -> Tuple[Dict[str, torch.Tensor], Dict[str, List[str]], List[str]]:
    """Convert APViT's released checkpoint (``APViT_RAF-3eeecf7d.pth``).

    The official code names the IR-50 ``extractor.*``, the ViT ``vit.*``
    with the projection in ``vit.projs.0`` and the classifier ``head.fc``
    (table: ``_APVIT_PREFIXES``). Its head rows follow APViT's own RAF-DB
    label order (Anger, Disgust, Fear, Sadness, Happiness, Surprise,
    Neutral); ``head_order`` re-orders them (new row ``i`` = old row
    ``head_order[i]``; ``ferpretrain.datasets.label_permutation`` computes
    it from two class lists).

    Args:
        state_dict (dict): The official ``state_dict`` (``module.``
            prefixes from DataParallel are stripped).
        head_order (Sequence[int], optional): Row permutation of the head.

    Returns:
        tuple: ``(converted, dropped, unknown)`` (nothing is dropped).
    """
    from ferpretrain.utils.foreign_checkpoint import rename_state_dict

    def rename(name: str) -> Optional[str]:
        for src, dst in _APVIT_PREFIXES:
            if name.startswith(src):
                return dst + name[len(src):]
        return None

    converted, dropped, unknown = rename_state_dict(state_dict, rename,
                                                    lambda name: None,
                                                    'APViT')
    for name in _HEAD_KEYS:
        if name in converted:
            converted[name] = _reorder_head(name, converted[name],
                                            head_order)
    return converted, dropped, unknown


# TransFER's official weights are a PaddlePaddle port (TransFER-RAF_param.
# pdparams, read by ferpretrain.utils.foreign_checkpoint.read_paddle_params).
# Structured name -> ferpretrain name:
#
#   extractor.input_layer.*              backbone.input_layer.*
#   extractor.body.<n>.*  (flat)         backbone.body.<stage>.<unit>.*
#       (units 0-2 stage 0, 3-6 stage 1, 7-20 stage 2)
#   attention.las.<i>.LA_conv1 / bn1     neck.feature_attention.lanets.<i>
#   attention.las.<i>.LA_conv2 / bn2         .layers.0 / 1 / 3 / 4
#   convert.proj.*                       neck.proj.*
#   vit.cls_token                        neck.cls_token
#   vit.pos_embed (1, 197, C)            neck.cls_pos_embed (1, 1, C) and
#                                        neck.patch_pos_embed (1, 196, C)
#   vit.blocks.<n>.* / vit.norm.*        neck.blocks.<n>.* / neck.norm.*
#   head.fc.*                            head.fc.*
#
# and in every name: BatchNorm ``_mean`` / ``_variance`` -> ``running_mean``
# / ``running_var``, PReLU ``_weight`` -> ``weight``. Paddle's ``Linear``
# stores its weight [in, out]: every 2-D ``weight`` is transposed. Paddle's
# BatchNorm has no ``num_batches_tracked``; the converter adds it as 0
# (it is only read by BatchNorm with ``momentum=None``, which no model
# here uses).
_TRANSFER_RULES = [(re.compile(p), r) for p, r in [
    (r'extractor\.input_layer\.(?P<r>.+)', 'backbone.input_layer.{r}'),
    (r'attention\.las\.(?P<i>\d+)\.LA_conv1\.(?P<r>.+)',
     'neck.feature_attention.lanets.{i}.layers.0.{r}'),
    (r'attention\.las\.(?P<i>\d+)\.bn1\.(?P<r>.+)',
     'neck.feature_attention.lanets.{i}.layers.1.{r}'),
    (r'attention\.las\.(?P<i>\d+)\.LA_conv2\.(?P<r>.+)',
     'neck.feature_attention.lanets.{i}.layers.3.{r}'),
    (r'attention\.las\.(?P<i>\d+)\.bn2\.(?P<r>.+)',
     'neck.feature_attention.lanets.{i}.layers.4.{r}'),
    (r'convert\.proj\.(?P<r>weight|bias)', 'neck.proj.{r}'),
    (r'vit\.(?P<r>cls_token|pos_embed)', 'neck.{r}'),
    (r'vit\.(?P<r>(?:blocks\.\d+|norm)\..+)', 'neck.{r}'),
    (r'head\.fc\.(?P<r>weight|bias)', 'head.fc.{r}'),
]]
_TRANSFER_BODY = re.compile(r'extractor\.body\.(?P<n>\d+)\.(?P<r>.+)')
_PADDLE_SUFFIXES = {'_mean': 'running_mean', '_variance': 'running_var',
                    '_weight': 'weight'}
#: Units per stage of the IR-50 stages TransFER and APViT build.
IR50_STAGE_UNITS = (3, 4, 14)


def _rename_transfer_key(name: str,
                         stage_units: Sequence[int]) -> Optional[str]:
    head, _, last = name.rpartition('.')
    name = f'{head}.{_PADDLE_SUFFIXES.get(last, last)}' if head else name
    return (rename_flat_body_key(_TRANSFER_BODY, name, stage_units)
            or apply_rename_rules(_TRANSFER_RULES, name))


def convert_transfer_paddle_checkpoint(
    params: Dict[str, object],
    stage_units: Sequence[int] = IR50_STAGE_UNITS,
) -> Tuple[Dict[str, torch.Tensor], Dict[str, List[str]], List[str],
           Dict[str, List[str]]]:
    """Convert TransFER's PaddlePaddle weights to ferpretrain names.

    The rules are in the comment above this function. With the same
    random weights, the official Paddle forward and ``configs/transfer/
    raf.py`` agree to 1e-12 in float64 (measured with the official code,
    ``docs/models.md``), and the golden test checks the converted release
    against the official logits: renaming, transposing the ``Linear``
    weights and splitting ``pos_embed`` is all a conversion needs.

    Args:
        params (dict): ``{structured name: numpy array}`` as
            ``read_paddle_params`` returns it.
        stage_units (Sequence[int]): IR units per stage, to split the flat
            ``extractor.body.<n>``. Defaults to IR-50's ``(3, 4, 14)``.

    Returns:
        tuple: ``(converted, dropped, unknown, added)``: torch tensors by
        ferpretrain name; nothing dropped; the names no rule knows (or
        that hold no array); ``{reason: [keys]}`` of the BatchNorm counters
        created.
    """
    import numpy as np

    from ferpretrain.utils.foreign_checkpoint import rename_state_dict
    renamed, dropped, unknown = rename_state_dict(
        params, lambda name: _rename_transfer_key(name, stage_units),
        lambda name: None, 'TransFER')
    converted: Dict[str, torch.Tensor] = {}
    for name, value in renamed.items():
        if not isinstance(value, np.ndarray):
            unknown.append(name)  # not a weight (a table, an object)
            continue
        tensor = torch.from_numpy(np.ascontiguousarray(value))
        if name.endswith('.weight') and tensor.ndim == 2:
            tensor = tensor.t().contiguous()  # Paddle Linear: [in, out]
        if name == 'neck.pos_embed':
            converted['neck.cls_pos_embed'] = tensor[:, :1].clone()
            converted['neck.patch_pos_embed'] = tensor[:, 1:].clone()
        else:
            converted[name] = tensor
    counters = [
        name[:-len('running_mean')] + 'num_batches_tracked'
        for name in converted if name.endswith('.running_mean')
    ]
    for name in counters:
        converted[name] = torch.tensor(0, dtype=torch.long)
    added = {
        'BatchNorm num_batches_tracked (Paddle keeps none; 0, unused in '
        'eval and with momentum set)': counters
    } if counters else {}
    return converted, dropped, unknown, added
