"""Attention maps of TransFER and APViT, recorded by forward hooks.

:class:`AttentionRecorder` hooks into a model without changing its code
and keeps, for one forward pass:

- the **LANet maps**: TransFER's local attention networks each predict one
  spatial map in (0, 1) over the stem CNN's feature map;
- their **merge** (``lanet_max``): Multi-Attention Dropping (MAD) merges the
  maps by an element-wise max and multiplies the features by it; in eval
  mode MAD drops nothing, so this is exactly the map the model used;
- the **CLS attention** of one transformer block of the
  :class:`~ferpretrain.models.PoolingViT` neck: how much the CLS token
  attends to each patch token. It is the softmax of the CLS query's
  pre-softmax logits (what the block applies), averaged over the heads
  (MSAD drops no head in eval mode), with the CLS-to-CLS weight left out
  and the patch weights renormalised to sum to 1, laid on the patch grid.

APViT's attentive patch and token pooling remove tokens before later
blocks. The recorder follows which grid position each token came from, by
running each pooling module's own ``forward`` on the token positions with
the scores the module was given, so the map is laid on the grid with 0
where a patch had been removed (``cls_attention_kept`` marks the kept
ones).

:func:`overlay_heatmap` and :func:`draw_map_grid` draw the maps over the
face the model saw.
"""
from typing import Dict, Tuple

import cv2
import numpy as np
import torch
import torch.nn as nn

__all__ = [
    'AttentionRecorder', 'cls_attention_map', 'overlay_heatmap',
    'draw_map_grid'
]

# The smallest side of a panel of the grid: 48-pixel faces are too small to
# read, and the labels need room.
MIN_PANEL = 160
LABEL_HEIGHT = 34


class AttentionRecorder:
    """Forward hooks keeping the LANet maps and one block's CLS attention.

    Use as a context manager around the forward pass (the hooks exist only
    inside it); :meth:`reset` before each pass, :meth:`maps` after it.

    Args:
        model (nn.Module): A model with LANets, a PoolingViT neck, or both.
        block (int): The transformer block whose CLS attention is kept;
            negative counts from the end (-1, the default, is the last: the
            one whose CLS output the classifier reads).

    Attributes:
        lanets (list): The model's LANets, in module order.
        vit (PoolingViT or None): The model's PoolingViT.
        block (int or None): ``block`` counted from 0 (None without a ViT).
        lanet_maps (list): After a pass, each LANet's ``(B, 1, H, W)`` map.
        cls_logits (Tensor): ``(B, heads, N)`` pre-softmax CLS logits of the
            chosen block, CLS first.
        cls_positions (Tensor): ``(B, N - 1)`` grid index of each patch
            token of that block.
        grid_shape (tuple): ``(H, W)`` of the ViT's input map.

    Raises:
        ValueError: ``block`` is not a block of the ViT.
    """

    def __init__(self, model: nn.Module, block: int = -1):
        from ferpretrain.models import LANet, PoolingViT
        self.lanets = [m for m in model.modules() if isinstance(m, LANet)]
        vits = [m for m in model.modules() if isinstance(m, PoolingViT)]
        self.vit = vits[0] if vits else None
        self.block = None
        if self.vit is not None:
            num_blocks = len(self.vit.blocks)
            if not -num_blocks <= block < num_blocks:
                raise ValueError(
                    f'block {block}: the ViT has {num_blocks} blocks (give '
                    f'-{num_blocks}..{num_blocks - 1}).')
            self.block = block % num_blocks
        self._handles = []
        self.reset()

    def reset(self) -> None:
        """Forget what the last pass recorded."""
        self.lanet_maps = [None] * len(self.lanets)
        self.cls_logits = None
        self.cls_positions = None
        self.grid_shape = None
        # (B, n, 1): the grid position of each current patch token.
        self._positions = None

    def __enter__(self):
        for i, lanet in enumerate(self.lanets):
            self._hook(lanet, self._lanet_hook(i))
        if self.vit is not None:
            self._handles.append(
                self.vit.register_forward_pre_hook(self._vit_pre_hook))
            if self.vit.patch_pooling is not None:
                self._hook(self.vit.patch_pooling, self._patch_pooling_hook)
            for i, block in enumerate(self.vit.blocks):
                if i == self.block:
                    self._hook(block.attn, self._attn_hook)
                if block.token_pooling is not None:
                    self._hook(block.token_pooling,
                               self._token_pooling_hook)
        return self

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _hook(self, module, hook):
        self._handles.append(
            module.register_forward_hook(hook, with_kwargs=True))

    def _lanet_hook(self, index):

        def hook(module, args, kwargs, output):
            self.lanet_maps[index] = output.detach().float().cpu()

        return hook

    def _vit_pre_hook(self, module, args):
        x = args[0][module.in_index]
        self.grid_shape = tuple(x.shape[-2:])
        positions = torch.arange(module.num_patches, device=x.device)
        self._positions = positions.expand(x.shape[0], -1)[..., None]

    def _patch_pooling_hook(self, module, args, kwargs, output):
        # forward(tokens, score_source): the same scores select the same
        # positions (PoolingViT passes them positionally).
        scores = list(args[1:]) + list(kwargs.values())
        self._positions = module.forward(self._positions, *scores)

    def _token_pooling_hook(self, module, args, kwargs, output):
        # forward(tokens, cls_logits) keeps the CLS token first: give it a
        # placeholder position and drop it again.
        cls = torch.full_like(self._positions[:, :1], -1)
        with_cls = torch.cat([cls, self._positions], dim=1)
        scores = list(args[1:]) + list(kwargs.values())
        self._positions = module.forward(with_cls, *scores)[:, 1:]

    def _attn_hook(self, module, args, kwargs, output):
        # PoolingAttention returns (out, cls_logits).
        self.cls_logits = output[1].detach().float().cpu()
        self.cls_positions = self._positions[..., 0].cpu()

    def maps(self, index: int = 0) -> Tuple[Dict[str, np.ndarray], dict]:
        """The recorded maps of sample ``index`` of the last pass.

        Returns:
            tuple: ``{name: (H, W) array}`` (``lanet0``, ``lanet1``, ...,
            ``lanet_max``, ``cls_attention``, each present when recorded)
            and, with a CLS map, its extras: ``cls_attention_kept`` (the
            kept patches), ``cls_self_attention`` and ``block``.
        """
        maps = {}
        lanet = [m[index, 0].numpy() for m in self.lanet_maps]
        for i, m in enumerate(lanet):
            maps[f'lanet{i}'] = m
        if lanet:
            maps['lanet_max'] = np.max(np.stack(lanet), axis=0)
        extra = {}
        if self.cls_logits is not None:
            cls_map, kept, self_weight = cls_attention_map(
                self.cls_logits[index], self.cls_positions[index],
                self.grid_shape)
            maps['cls_attention'] = cls_map
            extra = dict(cls_attention_kept=kept,
                         cls_self_attention=np.float32(self_weight),
                         block=np.int64(self.block))
        return maps, extra


def cls_attention_map(cls_logits: torch.Tensor, positions: torch.Tensor,
                      grid_shape: Tuple[int, int]) -> tuple:
    """One sample's CLS attention on the patch grid.

    Args:
        cls_logits (Tensor): (heads, N) pre-softmax logits of the CLS row,
            CLS first.
        positions (Tensor): (N - 1, ) grid index of each patch token.
        grid_shape (tuple): (H, W) of the patch grid.

    Returns:
        tuple: the (H, W) map (patch weights summing to 1, 0 at removed
        patches), the (H, W) mask of kept patches and the CLS self-weight.
    """
    attn = cls_logits.softmax(dim=-1).mean(dim=0)  # (N, )
    patches = attn[1:]
    # The share of the patch attention each patch gets, so that maps of
    # different blocks and models compare.
    patches = patches / patches.sum().clamp_min(1e-12)
    flat = torch.zeros(grid_shape[0] * grid_shape[1])
    flat[positions] = patches
    kept = torch.zeros_like(flat, dtype=torch.bool)
    kept[positions] = True
    return (flat.reshape(grid_shape).numpy(),
            kept.reshape(grid_shape).numpy(), float(attn[0]))


def overlay_heatmap(face: np.ndarray,
                    grid_map: np.ndarray,
                    alpha: float = 0.5) -> np.ndarray:
    """``grid_map`` upsampled bilinearly to the BGR ``face`` and laid over
    it as a JET heat map (red = high), stretched to its own min..max (a
    constant map is drawn as its lowest colour)."""
    h, w = face.shape[:2]
    up = cv2.resize(grid_map.astype(np.float32), (w, h),
                    interpolation=cv2.INTER_LINEAR)
    # LANet maps often vary in a narrow band; bilinear values stay inside
    # the map's range.
    low, high = float(grid_map.min()), float(grid_map.max())
    up = (up - low) / (high - low) if high - low > 1e-12 else up * 0
    heat = cv2.applyColorMap(
        np.round(np.clip(up, 0, 1) * 255).astype(np.uint8),
        cv2.COLORMAP_JET)
    return cv2.addWeighted(face, 1 - alpha, heat, alpha, 0)


def _labelled(panel, lines):
    """``panel`` under a white strip with up to two lines of text."""
    strip = np.full((LABEL_HEIGHT, panel.shape[1], 3), 255, np.uint8)
    for row, text in enumerate(lines[:2]):
        cv2.putText(strip, text, (4, 14 + 15 * row),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return np.vstack([strip, panel])


def draw_map_grid(face: np.ndarray, maps: Dict[str, np.ndarray],
                  title: str) -> np.ndarray:
    """The face and each map over it, side by side, labelled with the map's
    name and raw range; small faces are enlarged to :data:`MIN_PANEL`
    pixels."""
    h, w = face.shape[:2]
    scale = max(1., MIN_PANEL / min(h, w))
    size = (int(round(w * scale)), int(round(h * scale)))
    big_face = cv2.resize(face, size, interpolation=cv2.INTER_CUBIC)
    panels = [_labelled(big_face, ['face', title])]
    for name, grid_map in maps.items():
        rng = f'[{grid_map.min():.3g}, {grid_map.max():.3g}]'
        panels.append(_labelled(overlay_heatmap(big_face, grid_map),
                                [name, rng]))
    gap = np.full((panels[0].shape[0], 4, 3), 255, np.uint8)
    row = [panels[0]]
    for panel in panels[1:]:
        row += [gap, panel]
    return np.hstack(row)
