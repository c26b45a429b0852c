"""ViT-SE (Aouayeb, Hamidouche, Soladie, Kpalma, Seguier, "Learning Vision
Transformer with Squeeze and Excitation for Facial Expression Recognition",
arXiv 2107.03107, 2021).

A ViT-B/16 pre-trained on ImageNet-21k, fine-tuned on faces, with a
squeeze-and-excitation block on the final class token before the linear
classifier. The authors observe that the ViT's attention turns from global
to local with depth; the SE block recalibrates the class token's channels
before they are classified.

Data flow of ``configs/vit_se/raf.py`` (shapes):

.. code:: text

    face 3x224x224, normalised with mean = std = 127.5 (the statistics the
        ImageNet-21k ViT was trained with, not ImageNet's)
    -> 16x16 patches -> 196 tokens (768-d) + CLS + position embedding
    -> 12 pre-norm layers (12 heads, MLP 3072, GELU), final LayerNorm
    -> CLS token                                          (B, 768)
    -> SENeck: x * sigmoid(W2 relu(W1 x)), 768 -> 192 -> 768  (B, 768)
    -> LinearClsHead                                      (B, classes)

The backbone is mmpretrain's ``VisionTransformer`` (``arch='b'``), not a
copy: :class:`LayoutAwareViT` only adds reading the checkpoints people have
(timm's and Hugging Face's ViT files) through ``init_cfg``.

**What the paper leaves open** (only its abstract and the public
re-implementation could be read here):

- *The gate*: a sigmoid, as in SE (Hu et al., CVPR 2018), with reduction 4
  (768 -> 192 -> 768, 0.30 M parameters). The public re-implementation
  ends its SE block with a ReLU, which is not a gate (unbounded, and zero
  for every channel whose logit is negative); ``SENeck(gate='relu')``
  reproduces it, as a documented deviation.
- *What the SE block reads*: the final-norm class token. The
  re-implementation reads Hugging Face's ``pooler_output`` (an extra
  768x768 tanh layer kept from ImageNet-21k pre-training); ViT itself
  (Dosovitskiy et al.: a head with one hidden layer in pre-training, a
  single linear layer in fine-tuning) and Hugging Face's
  ``ViTForImageClassification`` both discard that layer, and so does this
  model: the loader reports it as not used.
- *Training recipe*: not found; the configs say what they choose.

Sizes at 224 (``python tools/analysis_tools/get_flops.py
configs/vit_se/raf.py``): ViT-B/16 85.80 M + SE 0.30 M + head = 86.10 M
parameters, 17.58 GMAC (fvcore-style, whole model).
"""
import re
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from mmengine.logging import MMLogger
from mmpretrain.models.backbones import VisionTransformer

from ferpretrain.registry import MODELS
from ..utils.helpers import (apply_rename_rules, replace_state_dict,
                             summarise_keys)
from ..utils.se_block import SEBlock

__all__ = ['LayoutAwareViT', 'SENeck', 'convert_vit_keys', 'vit_key_layout']

# timm's ViT names -> mmpretrain's VisionTransformer names.
_TIMM_RULES = [(re.compile(p), r) for p, r in [
    (r'(?P<n>cls_token|pos_embed)', '{n}'),
    (r'patch_embed\.proj\.(?P<p>weight|bias)',
     'patch_embed.projection.{p}'),
    (r'blocks\.(?P<i>\d+)\.norm1\.(?P<p>\w+)', 'layers.{i}.ln1.{p}'),
    (r'blocks\.(?P<i>\d+)\.norm2\.(?P<p>\w+)', 'layers.{i}.ln2.{p}'),
    (r'blocks\.(?P<i>\d+)\.attn\.(?P<m>qkv|proj)\.(?P<p>\w+)',
     'layers.{i}.attn.{m}.{p}'),
    (r'blocks\.(?P<i>\d+)\.mlp\.fc1\.(?P<p>\w+)',
     'layers.{i}.ffn.layers.0.0.{p}'),
    (r'blocks\.(?P<i>\d+)\.mlp\.fc2\.(?P<p>\w+)',
     'layers.{i}.ffn.layers.1.{p}'),
    (r'norm\.(?P<p>\w+)', 'ln1.{p}'),
]]
# Hugging Face's ViTModel names -> mmpretrain's (query/key/value are
# concatenated into qkv separately).
_HF_RULES = [(re.compile(p), r) for p, r in [
    (r'embeddings\.cls_token', 'cls_token'),
    (r'embeddings\.position_embeddings', 'pos_embed'),
    (r'embeddings\.patch_embeddings\.projection\.(?P<p>weight|bias)',
     'patch_embed.projection.{p}'),
    (r'encoder\.layer\.(?P<i>\d+)\.layernorm_before\.(?P<p>\w+)',
     'layers.{i}.ln1.{p}'),
    (r'encoder\.layer\.(?P<i>\d+)\.layernorm_after\.(?P<p>\w+)',
     'layers.{i}.ln2.{p}'),
    (r'encoder\.layer\.(?P<i>\d+)\.attention\.output\.dense\.(?P<p>\w+)',
     'layers.{i}.attn.proj.{p}'),
    (r'encoder\.layer\.(?P<i>\d+)\.intermediate\.dense\.(?P<p>\w+)',
     'layers.{i}.ffn.layers.0.0.{p}'),
    (r'encoder\.layer\.(?P<i>\d+)\.output\.dense\.(?P<p>\w+)',
     'layers.{i}.ffn.layers.1.{p}'),
    (r'layernorm\.(?P<p>\w+)', 'ln1.{p}'),
]]
_HF_QKV = re.compile(r'encoder\.layer\.(?P<i>\d+)\.attention\.attention\.'
                     r'(?P<m>query|key|value)\.(?P<p>weight|bias)')
# Parts of a pre-training file that a fine-tuned ViT does not build: the
# pre-training classifier and the ImageNet-21k "representation" (pre-logits)
# layer, which ViT's fine-tuning recipe discards.
_NOT_BUILT = {
    'timm': re.compile(r'(head|pre_logits|fc_norm)\..*'),
    'Hugging Face': re.compile(r'(pooler|classifier)\..*'),
}


def vit_key_layout(keys) -> Optional[str]:
    """'timm', 'Hugging Face' or None (mmpretrain's own names or not a
    ViT), from a state dict's keys (without the model prefix)."""
    keys = set(keys)
    if 'blocks.0.attn.qkv.weight' in keys:
        return 'timm'
    if any(_HF_QKV.fullmatch(k) for k in keys):
        return 'Hugging Face'
    return None


def convert_vit_keys(
        state_dict: Mapping[str, torch.Tensor]
) -> Tuple[Dict[str, torch.Tensor], List[str], Optional[str]]:
    """A timm or Hugging Face ViT state dict in mmpretrain's
    ``VisionTransformer`` names.

    Hugging Face's per-layer ``query``, ``key`` and ``value`` become one
    ``qkv`` (rows q, k, v: timm's and mmpretrain's order); a ``vit.``
    prefix (``ViTForImageClassification``) is removed. Keys of parts a
    fine-tuned ViT does not build (the pre-training classifier, the
    pre-logits / pooler layer) are returned, not converted.

    Returns:
        tuple: ``(converted, not_built, layout)``; a state dict in neither
        layout comes back unchanged with ``layout`` None.

    Raises:
        KeyError: A key of a timm or Hugging Face file that no rule knows
            (another architecture): nothing is dropped silently.
        ValueError: A Hugging Face layer lacks one of query, key, value.
    """
    if any(k.startswith('vit.') for k in state_dict):
        state_dict = {(k[4:] if k.startswith('vit.') else k): v
                      for k, v in state_dict.items()}
    layout = vit_key_layout(state_dict)
    if layout is None:
        return dict(state_dict), [], None
    rules = _TIMM_RULES if layout == 'timm' else _HF_RULES
    converted: Dict[str, torch.Tensor] = {}
    not_built: List[str] = []
    qkv: Dict[Tuple[str, str], Dict[str, torch.Tensor]] = {}
    for key, value in state_dict.items():
        if _NOT_BUILT[layout].fullmatch(key):
            not_built.append(key)
            continue
        match = _HF_QKV.fullmatch(key) if layout == 'Hugging Face' else None
        if match:
            qkv.setdefault((match['i'], match['p']), {})[match['m']] = value
            continue
        name = apply_rename_rules(rules, key)
        if name is None:
            raise KeyError(
                f'{key}: not a key of a {layout} ViT that ferpretrain '
                'knows; the file holds another architecture (expected '
                'the layout of timm\'s VisionTransformer or Hugging Face\'s '
                'ViTModel).')
        converted[name] = value
    for (index, param), parts in qkv.items():
        lacking = [m for m in ('query', 'key', 'value') if m not in parts]
        if lacking:
            raise ValueError(
                f'encoder.layer.{index}.attention.attention: the file has no '
                f'{"/".join(lacking)} {param}; the checkpoint is incomplete.')
        converted[f'layers.{index}.attn.qkv.{param}'] = torch.cat(
            [parts['query'], parts['key'], parts['value']])
    return converted, not_built, layout


@MODELS.register_module()
class LayoutAwareViT(VisionTransformer):
    """mmpretrain's ``VisionTransformer`` that also loads timm's and Hugging
    Face's ViT checkpoints.

    A load pre-hook converts a state dict in timm's ``VisionTransformer``
    layout (``blocks.N.attn.qkv``) or Hugging Face's ``ViTModel`` layout
    (``encoder.layer.N.attention.attention.query``; ``.bin`` or
    ``.safetensors``) to mmpretrain's names, so ``init_cfg=dict(
    type='Pretrained', checkpoint=...)`` reads either file, e.g. timm's
    ``vit_base_patch16_224.augreg_in21k`` or Hugging Face's
    ``google/vit-base-patch16-224-in21k``. The pre-training classifier and
    pre-logits (``pooler``) layer are logged as not used; a position
    embedding for another grid is resized by ``VisionTransformer``.
    mmpretrain's own checkpoints load unchanged.

    Hugging Face's ViT uses LayerNorm eps 1e-12, timm's and this model's
    1e-6: added to per-token variances of order one, the difference is
    negligible (the tests compare a converted file with its source model
    at 1e-5).

    Args:
        **kwargs: ``VisionTransformer`` arguments.
    """

    def _prepare_pos_embed(self, state_dict, prefix, *args, **kwargs):
        # VisionTransformer registers this method as its load pre-hook
        # (it resizes pos_embed); the names must be mmpretrain's first.
        self._convert_layout(state_dict, prefix)
        super()._prepare_pos_embed(state_dict, prefix, *args, **kwargs)

    def _convert_layout(self, state_dict, prefix: str) -> None:
        own = {k[len(prefix):]: v for k, v in state_dict.items()
               if k.startswith(prefix)}
        converted, not_built, layout = convert_vit_keys(own)
        if layout is None:
            return
        MMLogger.get_current_instance().info(
            f'LayoutAwareViT: converted a {layout} ViT checkpoint '
            f'({len(converted)} tensors); not used: '
            f'{summarise_keys(not_built) or "nothing"} (the pre-training '
            'classifier and pre-logits layer, which fine-tuning discards).')
        others = {k: v for k, v in state_dict.items()
                  if not k.startswith(prefix)}
        others.update({prefix + k: v for k, v in converted.items()})
        replace_state_dict(state_dict, others)


@MODELS.register_module()
class SENeck(SEBlock):
    """A squeeze-and-excitation block on each feature vector a backbone
    returns (ViT-SE's SE block on the class token), as a neck.

    Args:
        channels (int): Feature width ``C``.
        ratio (int): Reduction: the bottleneck has ``C // ratio`` channels.
            Defaults to 4 (ViT-SE's 768 -> 192).
        gate (str): ``'sigmoid'`` (SE) or ``'relu'`` (the public ViT-SE
            re-implementation's deviation). Defaults to ``'sigmoid'``.

    Shapes:
        inputs: a tuple of (B, C) tensors -> the tuple of their gated
        versions.
    """

    def __init__(self, channels: int, ratio: int = 4,
                 gate: str = 'sigmoid'):
        if channels % ratio:
            raise ValueError(f'SENeck: channels {channels} is not divisible '
                             f'by ratio {ratio}.')
        super().__init__(channels, channels // ratio, gate=gate)

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor]:
        if isinstance(inputs, torch.Tensor):
            return super().forward(inputs)
        return tuple(SEBlock.forward(self, x) for x in inputs)
