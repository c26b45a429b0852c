"""FER-VT (Huang et al., "Facial expression recognition with grid-wise
attention and visual transformer", Information Sciences 580, 2021,
doi 10.1016/j.ins.2021.08.043).

FER-VT adds two attention mechanisms to a CNN: **grid-wise attention** (GWA)
on the low-level features, where the face is cut into a grid and every cell
looks at every other cell, so that distant parts of the face (a brow and
the mouth) inform each other before the convolutions only see locally; and
a **visual transformer** over *visual semantic tokens* taken from the
pyramid of the CNN's high-level stages, which forms the global
representation that is classified.

Data flow of ``configs/fervt/raf.py`` (shapes C x H x W):

.. code:: text

    face 3x224x224
    -> ResNet-34 stem: 7x7 conv s2, BN, ReLU, 3x3 max-pool s2     64x56x56
    -> GridWiseAttention: 7x7 grid of 8x8 cells                   64x56x56
         cell mean -> 49 cell tokens (64-d) + position embedding
         -> LN -> 4-head self-attention across the cells (+ shortcut)
         -> per cell and channel a gate 2*sigmoid(Linear(.)) in (0, 2)
         -> the map times its cell's gate
    -> ResNet-34 stages 1-4; stages 2, 3, 4 are the pyramid
         128x28x28, 256x14x14, 512x7x7
    -> SemanticTokenizer per level: softmax over the positions of a 1x1
       conv's map, the attention-weighted mean feature -> Linear to 256
                                                            3 tokens, 256-d
    -> [CLS] + 3 tokens + position embedding (1, 4, 256)
    -> 4 pre-norm transformer layers (8 heads, MLP 1024, GELU, qkv bias)
    -> LayerNorm, CLS token                                        256
    -> LinearClsHead                                               classes

**What the paper leaves open.** No official code exists, and only the
abstract could be read here; the public re-implementation was not trusted
(its own results are 10-15 points under the paper's and its log shows a
collapsed run). Each open point, the choice made and why:

- *Backbone*: ImageNet ResNet-34 (mmpretrain's ``ResNet``, so mmpretrain
  and torchvision ImageNet checkpoints load by name). The deepest ResNet
  with BasicBlocks, whose stage widths 128/256/512 keep the tokenizers
  small; it is also what the public re-implementation used, so results
  compare. ``depth`` is a config key (18 or 50 work unchanged).
- *Where GWA acts*: on the stem's 64-channel feature map, not on the
  image. The abstract places GWA "in the low-level feature learning", where
  it "regularises the parameter update of convolutional filters": a gate on
  the stem output scales, region by region, both the stem's gradients and
  the input of every stage-1 filter. Gating a 3-channel image could only
  dim colour channels; 64 channels let a region keep its edges and lose its
  texture.
- *Grid size*: 7x7 (8x8 cells of the 56x56 map, 32x32 image pixels at
  224): a cell is about one facial part (an eye, a mouth corner); the
  re-implementation's 4x4 grid puts a whole eye *and* brow in one cell.
- *Cell descriptor*: the mean of the cell (a regional squeeze, as in SE),
  which has no parameters and works at any input size.
- *Softmax axis*: over the cells, inside the self-attention (each cell
  distributes its attention over all cells); the gate itself is a sigmoid.
  A softmax across cells *as the gate* (the re-implementation's) makes the
  cells share one budget: the weights sum to one, so the map shrinks 49
  times and lighting up the mouth must dim the eyes, whereas an
  expression moves several facial parts at once.
- *The gate's scale*: ``2 * sigmoid(z)`` with ``z``'s layer initialised to
  zero, so GWA starts as the identity and a pretrained ResNet starts
  exactly as pretrained (a plain sigmoid would halve every feature at the
  first step); it can dim a region to 0 or double it.
- *Tokens*: one per high-level stage (2, 3, 4: the pyramid levels C3-C5),
  by spatial attention pooling, the filter-based tokenizer of Visual
  Transformers (Wu et al., arXiv 2006.03677), whose "visual semantic
  tokens" the abstract names. ``tokens_per_level`` gives more. Levels are
  tokenised separately (no FPN top-down fusion): mixing the levels is the
  transformer's job.
- *Transformer width, depth, heads*: 256, 4, 8 (MLP ratio 4, pre-norm,
  drop-path 0.1 in the full config). Four tokens hold few relations, so
  depth adds parameters rather than context; 256 lies between the widths
  of the levels it reads.

Sizes at 224 (``python tools/analysis_tools/get_flops.py
configs/fervt/raf.py``): 24.70 M parameters, 3.69 GMAC (fvcore-style,
whole model), of which ResNet-34 holds 21.28 M, grid-wise attention
0.024 M and the tokenizers and transformer 3.39 M.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones import ResNet
from mmpretrain.models.backbones.vision_transformer import \
    TransformerEncoderLayer
from mmpretrain.models.utils import MultiheadAttention

from ferpretrain.registry import MODELS
from ..utils.helpers import head_dims
from ..utils.scope import builds_in_mmpretrain_scope

__all__ = [
    'GridWiseAttention', 'GridAttentionResNet', 'SemanticTokenizer',
    'SemanticTokenTransformer'
]


@MODELS.register_module()
class GridWiseAttention(BaseModule):
    """FER-VT's grid-wise attention: grid cells attend to each other and
    gate their own features.

    Args:
        in_channels (int): Channels ``C`` of the feature map.
        grid_size (int): Cells per side ``g``. Defaults to 7.
        num_heads (int): Heads of the attention across cells. Defaults to 4.
        attn_drop (float): Dropout on the attention weights. Defaults to 0.
        proj_drop (float): Dropout after the attention's output projection.
            Defaults to 0.
        init_cfg (dict, optional): Initialisation config. The module
            initialises itself when built (the gate layer to zero), so that
            it is the identity even under a backbone's ``Pretrained``
            init_cfg, which skips the children's ``init_weights``.

    Shapes:
        input (B, C, H, W) -> output (B, C, H, W). When ``H`` or ``W`` is not
        a multiple of ``g``, cells are adaptive-pooling cells and each pixel
        takes the gate nearest-neighbour resizing assigns it.
    """

    def __init__(self,
                 in_channels: int,
                 grid_size: int = 7,
                 num_heads: int = 4,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        head_dims(in_channels, num_heads, 'GridWiseAttention')
        self.in_channels = in_channels
        self.grid_size = grid_size
        self.pos_embed = nn.Parameter(
            torch.zeros(1, grid_size * grid_size, in_channels))
        trunc_normal_(self.pos_embed, std=.02)
        self.norm = nn.LayerNorm(in_channels)
        self.attn = MultiheadAttention(
            embed_dims=in_channels,
            num_heads=num_heads,
            attn_drop=attn_drop,
            proj_drop=proj_drop)
        self.gate = nn.Linear(in_channels, in_channels)
        # Zero: every gate is 2 * sigmoid(0) = 1 until training moves it.
        nn.init.zeros_(self.gate.weight)
        nn.init.zeros_(self.gate.bias)

    def cell_weights(self, x: torch.Tensor) -> torch.Tensor:
        """The gates, one per cell and channel: (B, C, g, g) in (0, 2)."""
        batch, channels = x.shape[:2]
        cells = F.adaptive_avg_pool2d(x, self.grid_size)
        tokens = cells.flatten(2).transpose(1, 2) + self.pos_embed
        tokens = tokens + self.attn(self.norm(tokens))
        gates = 2 * torch.sigmoid(self.gate(tokens))
        return gates.transpose(1, 2).reshape(batch, channels, self.grid_size,
                                             self.grid_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gates = self.cell_weights(x)
        return x * F.interpolate(gates, size=x.shape[-2:], mode='nearest')


@MODELS.register_module()
@builds_in_mmpretrain_scope
class GridAttentionResNet(ResNet):
    """mmpretrain's ResNet with grid-wise attention after the stem
    (FER-VT's backbone).

    Parameter names are ResNet's (``conv1``, ``layer1.0.conv1``, ...) plus
    ``grid_attention.*``, so mmpretrain and torchvision ImageNet checkpoints
    load through ``init_cfg`` (torchvision's ``fc.*`` is reported unused;
    ``grid_attention.*`` keeps its identity start).

    Args:
        depth (int): ResNet depth (18, 34, 50, 101, 152).
        grid_attention (dict, optional): Config of the attention applied to
            the stem's output; ``in_channels`` is filled in. None gives a
            plain ResNet (the ablation without GWA). Defaults to
            ``dict(type='GridWiseAttention', grid_size=7)``.
        small_input (bool): A 3x3 stride-1 stem without max-pool (the stem
            of mmpretrain's ``ResNet_CIFAR``), for 48x48 faces: the ImageNet
            stem would shrink them to 12x12 before the first stage.
            Defaults to False.
        **kwargs: mmpretrain ``ResNet`` arguments (``out_indices=(1, 2, 3)``
            for FER-VT's three pyramid levels).

    Shapes:
        input (B, 3, H, W) -> a tuple of the stages in ``out_indices``.
    """

    def __init__(self,
                 depth: int,
                 grid_attention: Optional[dict] = dict(
                     type='GridWiseAttention', grid_size=7),
                 small_input: bool = False,
                 **kwargs):
        # Read by _make_stem_layer, which ResNet.__init__ calls.
        self.small_input = small_input
        super().__init__(depth, **kwargs)
        if self.small_input and self.deep_stem:
            raise ValueError('GridAttentionResNet: small_input=True replaces '
                             'the stem; it cannot be combined with '
                             'deep_stem=True.')
        self.grid_attention = MODELS.build(
            dict(grid_attention, in_channels=self.stem_channels)
        ) if grid_attention else nn.Identity()

    def _make_stem_layer(self, in_channels: int, stem_channels: int):
        super()._make_stem_layer(in_channels, stem_channels)
        if self.small_input:
            self.conv1 = nn.Conv2d(
                in_channels, stem_channels, 3, stride=1, padding=1,
                bias=False)
            self.maxpool = nn.Identity()

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        x = self.grid_attention(self.maxpool(x))
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


@MODELS.register_module()
class SemanticTokenizer(nn.Module):
    """Visual semantic tokens of one feature map by spatial attention.

    Each token is the mean feature weighted by its own attention map over
    the positions (a 1x1 conv, softmax over the ``H*W`` positions), then
    projected to the token width: the filter-based tokenizer of Visual
    Transformers (Wu et al., arXiv 2006.03677).

    Args:
        in_channels (int): Channels ``C`` of the map.
        embed_dims (int): Token width ``D``.
        num_tokens (int): Tokens ``L`` drawn from the map. Defaults to 1.

    Shapes:
        input (B, C, H, W) -> output (B, L, D).
    """

    def __init__(self, in_channels: int, embed_dims: int,
                 num_tokens: int = 1):
        super().__init__()
        self.num_tokens = num_tokens
        self.attend = nn.Conv2d(in_channels, num_tokens, 1)
        self.proj = nn.Linear(in_channels, embed_dims)

    def spatial_attention(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, H*W): where each token looks; rows sum to one."""
        return self.attend(x).flatten(2).softmax(dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.spatial_attention(x) @ x.flatten(2).transpose(1, 2)
        return self.proj(pooled)


@MODELS.register_module()
class SemanticTokenTransformer(BaseModule):
    """FER-VT's visual transformer over multi-level semantic tokens, as a
    neck.

    Args:
        in_channels (Sequence[int]): Channels of each backbone output (the
            pyramid levels), e.g. ``(128, 256, 512)`` for ResNet-34 stages
            2-4.
        embed_dims (int): Token width. Defaults to 256.
        num_layers (int): Transformer layers. Defaults to 4.
        num_heads (int): Attention heads. Defaults to 8.
        mlp_ratio (float): Feed-forward width / ``embed_dims``. Defaults to 4.
        tokens_per_level (int): Tokens drawn from each level. Defaults to 1.
        qkv_bias (bool): Defaults to True.
        drop_rate (float): Dropout after the position embedding and in the
            feed-forward layers. Defaults to 0.
        attn_drop_rate (float): Dropout on the attention weights.
            Defaults to 0.
        drop_path_rate (float): Stochastic depth, increasing linearly over
            the layers to this value. Defaults to 0.
        norm_cfg (dict): Norm of the layers and the final norm. Defaults to
            ``dict(type='LN', eps=1e-6)``.
        init_cfg (dict, optional): Initialisation config.

    Shapes:
        inputs: a tuple of ``len(in_channels)`` maps (B, C_i, H_i, W_i)
        -> a tuple ((B, embed_dims),) holding the final-norm CLS token.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 embed_dims: int = 256,
                 num_layers: int = 4,
                 num_heads: int = 8,
                 mlp_ratio: float = 4.,
                 tokens_per_level: int = 1,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        head_dims(embed_dims, num_heads, 'SemanticTokenTransformer')
        self.in_channels = tuple(in_channels)
        self.embed_dims = embed_dims
        self.tokenizers = ModuleList([
            SemanticTokenizer(c, embed_dims, tokens_per_level)
            for c in self.in_channels
        ])
        num_tokens = 1 + len(self.in_channels) * tokens_per_level
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_tokens, embed_dims))
        self.drop_after_pos = nn.Dropout(drop_rate)
        rates = torch.linspace(0, drop_path_rate, num_layers).tolist()
        self.layers = ModuleList([
            TransformerEncoderLayer(
                embed_dims=embed_dims,
                num_heads=num_heads,
                feedforward_channels=int(embed_dims * mlp_ratio),
                drop_rate=drop_rate,
                attn_drop_rate=attn_drop_rate,
                drop_path_rate=rate,
                qkv_bias=qkv_bias,
                norm_cfg=norm_cfg) for rate in rates
        ])
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1]

    def init_weights(self):
        super().init_weights()
        trunc_normal_(self.cls_token, std=.02)
        trunc_normal_(self.pos_embed, std=.02)
        for tokenizer in self.tokenizers:
            trunc_normal_(tokenizer.proj.weight, std=.02)
            nn.init.zeros_(tokenizer.proj.bias)

    def tokens(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """(B, 1 + levels * tokens_per_level, D): CLS, then each level's
        tokens, with the position embedding added."""
        if len(inputs) != len(self.tokenizers):
            raise ValueError(
                f'SemanticTokenTransformer: got {len(inputs)} feature maps '
                f'for in_channels {list(self.in_channels)}; give the '
                'backbone one out_index per level (out_indices=(1, 2, 3) '
                'for ResNet stages 2-4).')
        levels = [tok(x) for tok, x in zip(self.tokenizers, inputs)]
        cls = self.cls_token.expand(levels[0].shape[0], -1, -1)
        return self.drop_after_pos(
            torch.cat([cls] + levels, dim=1) + self.pos_embed)

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor]:
        x = self.tokens(inputs)
        for layer in self.layers:
            x = layer(x)
        return (self.norm(x)[:, 0], )
