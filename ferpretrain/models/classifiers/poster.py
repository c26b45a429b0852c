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

Sizes: ``arch`` ``'large'`` (depth 8, the paper's reported model),
``'base'`` (6) and ``'small'`` (4), as the official ``type`` argument.

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
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from ferpretrain.registry import MODELS
from ..utils import SEBlock
from ..utils.cross_fusion import PyramidCrossFusion, embedding_downsample
from .landmark_image import LandmarkImageClassifier

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
                drop_path=dp,
                num_heads=num_heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                drop=drop_rate,
                attn_drop=attn_drop_rate,
                norm_eps=norm_eps) for dp in drop_paths)
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
