"""The VGGFace2 ResNet-50, the frozen identity encoder of Disentangled DoE.

"Disentangled Difference of Embeddings" takes its identity embedding from
the face-recognition ResNet-50 of VGGFace2 (Cao, Shen, Xie, Parkhi and
Zisserman, "VGGFace2: A dataset for recognising faces across pose and
age", FG 2018): ``resnet50_ft``, pre-trained on MS-Celeb-1M and fine-tuned
on VGGFace2 (8631 training identities). The weights in circulation are
``resnet50_ft_weight.pkl`` of cydonia999/VGGFace2-pytorch, converted from
the authors' Caffe model: a Python pickle of ``{name: float32 numpy
array}`` in torchvision-ResNet names (``conv1.weight``, ``bn1.*``,
``layer{1..4}.{i}.conv{1,2,3}.weight``, ``layer{k}.{i}.bn{1,2,3}.*``,
``layer{k}.0.downsample.{0,1}.*``, ``fc.weight`` 8631x2048, ``fc.bias``),
with no ``num_batches_tracked``.

Architecture (that of the Caffe model, which differs from torchvision's
ResNet-50 in two places):

- stem: Conv7x7(3->64, stride 2, pad 3, no bias), BN, ReLU, then
  ``MaxPool2d(3, stride=2, padding=0, ceil_mode=True)``, Caffe's pooling
  (torchvision pads by 1 instead; both give 56x56 for a 224 input, but at
  other positions, so the torchvision pool gives other features);
- four stages of [3, 4, 6, 3] bottlenecks of widths 64/128/256/512
  (x4 expansion) whose stride sits on the *first 1x1* conv of the first
  block (Caffe / MSRA style; torchvision puts it on the 3x3). This is
  mmpretrain's ``ResNet(depth=50, style='caffe')``, whose module names are
  the torchvision names of the file;
- the file's ``AvgPool2d(7)`` and the 8631-identity ``fc`` are not built:
  the encoder returns the layer4 map and the caller pools it (2048 values,
  the identity embedding). 23,508,032 parameters (23.51 M).

Input: the Caffe model expects a 224x224 face in BGR order with pixel
values in 0..255 minus ``mean_bgr = (91.4953, 103.8827, 131.0912)`` (from
``resnet50_ft.prototxt``), not divided by a std. The model that uses this
encoder normalises its images for another (ImageNet) encoder, RGB with
mean (123.675, 116.28, 103.53) and std (58.395, 57.12, 57.375); the
encoder undoes that normalisation in ``forward`` (one multiply-add per
channel, and a channel flip) before its stem. Pass ``input_mean=None`` to
feed VGGFace2-form tensors directly.

Loading: :func:`convert_vggface2_keys` maps the file's names to this
module's (identical here, as mmpretrain's ResNet uses torchvision's names),
turns numpy arrays into tensors, adds the BatchNorm ``num_batches_tracked``
counters the file lacks and drops ``fc.*``. It runs in a load-state-dict
pre-hook, so a state dict in the file's layout also loads through
``init_cfg`` or ``load_from``. The pickle itself is no torch checkpoint:
convert it once with ``tools/model_converters/vggface2_to_ferpretrain.py``
(which reads it without running code, see
:func:`ferpretrain.utils.foreign_checkpoint.read_pickled_arrays`) and load
the output with ``init_cfg=dict(type='Pretrained', checkpoint=...)``.
"""
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmpretrain.models.backbones import ResNet

from ferpretrain.registry import MODELS
from ..utils.helpers import (is_pretrained, rename_under_prefix,
                             replace_state_dict, summarise_keys)

__all__ = [
    'VGGFace2ResNet', 'convert_vggface2_keys', 'vggface2_key_group',
    'VGGFACE2_MEAN_BGR', 'IMAGENET_MEAN_RGB', 'IMAGENET_STD_RGB'
]

#: Per-channel mean (B, G, R) of the Caffe model's input, 0..255 scale.
VGGFACE2_MEAN_BGR = (91.4953, 103.8827, 131.0912)
#: The ImageNet normalisation of the image branch (RGB, 0..255 scale).
IMAGENET_MEAN_RGB = (123.675, 116.28, 103.53)
IMAGENET_STD_RGB = (58.395, 57.12, 57.375)

# The names of a torchvision-layout ResNet (the file's and ours).
_BN_FIELDS = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
_KNOWN_KEY = re.compile(
    r'conv1\.weight'
    rf'|bn1\.{_BN_FIELDS}'
    r'|layer[1-4]\.\d+\.conv[123]\.weight'
    rf'|layer[1-4]\.\d+\.bn[123]\.{_BN_FIELDS}'
    r'|layer[1-4]\.0\.downsample\.0\.weight'
    rf'|layer[1-4]\.0\.downsample\.1\.{_BN_FIELDS}')
_CLASSIFIER = re.compile(r'fc\.(weight|bias)')

#: The reason ``fc.*`` is left out, as the converter prints it.
CLASSIFIER_GROUP = 'fc (8631-identity VGGFace2 classifier, not used)'


def vggface2_key_group(name: str) -> Optional[str]:
    """What a key of the VGGFace2 file is: ``'backbone'`` (a layer this
    module builds, same name), :data:`CLASSIFIER_GROUP` (the identity
    classifier, dropped), or None (no rule knows it)."""
    if _KNOWN_KEY.fullmatch(name):
        return 'backbone'
    if _CLASSIFIER.fullmatch(name):
        return CLASSIFIER_GROUP
    return None


def _as_tensor(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        # from_numpy shares memory; copy so the file's arrays stay apart
        # from the model (and read-only arrays are accepted).
        return torch.from_numpy(np.array(value, copy=True))
    return value


def convert_vggface2_keys(
    state_dict: Mapping[str, Any],
    prefix: str = '',
    num_batches_tracked: bool = True,
) -> Tuple[Dict[str, Any], List[str]]:
    """Map the VGGFace2 ResNet-50 file's keys to :class:`VGGFace2ResNet`'s.

    Under ``prefix``:

    - the torchvision names of the file (``conv1``, ``bn1``,
      ``layerK.i.convJ``, ``layerK.i.bnJ``, ``layerK.0.downsample.{0,1}``)
      are mmpretrain ``ResNet``'s names too, so they are kept as they are;
    - numpy arrays become tensors (the file holds numpy arrays; tensors
      pass through);
    - ``fc.weight`` and ``fc.bias`` (the 8631-identity classifier, which
      this encoder does not build) are removed and returned;
    - with ``num_batches_tracked`` (the model's BatchNorm layers have the
      counter, as ``nn.BatchNorm2d`` does), a ``<bn>.num_batches_tracked``
      (0, int64; unused in eval mode) is added for every ``<bn>.running_mean``
      that has none: the Caffe-converted file carries no such counters;
    - keys no rule knows are kept under their own names, so that a strict
      load reports them as unexpected (the converter refuses them by name,
      see :func:`vggface2_key_group`).

    Keys outside ``prefix`` are left untouched (a pre-hook sees the whole
    model's state dict).

    Args:
        state_dict (Mapping): ``{name: numpy array or tensor}``.
        prefix (str): Prefix of the encoder's keys in ``state_dict``.
        num_batches_tracked (bool): Add the missing BatchNorm counters.

    Returns:
        tuple: ``(converted, dropped)``: the new state dict (source order,
        counters after their BatchNorm's ``running_var``) and the dropped
        keys (with ``prefix``).
    """
    def rename(name: str) -> Optional[str]:
        return None if _CLASSIFIER.fullmatch(name) else name

    renamed, dropped = rename_under_prefix(state_dict, prefix, rename)
    converted: Dict[str, Any] = {}
    for key, value in renamed.items():
        converted[key] = _as_tensor(value) if key.startswith(prefix) \
            else value
    if not num_batches_tracked:
        return converted, dropped
    with_counters: Dict[str, Any] = {}
    for key, value in converted.items():
        with_counters[key] = value
        if not key.startswith(prefix) or not key.endswith('.running_var'):
            continue
        bn = key[:-len('running_var')]
        counter = bn + 'num_batches_tracked'
        if bn + 'running_mean' in converted and counter not in converted:
            with_counters[counter] = torch.tensor(0, dtype=torch.long)
    return with_counters, dropped


@MODELS.register_module()
class VGGFace2ResNet(ResNet):
    """The VGGFace2 ``resnet50_ft`` ResNet-50 (see the module docstring).

    mmpretrain's ``ResNet(depth=50, style='caffe')`` (stride on the first
    1x1 conv of each stage's first block) with Caffe's stem pooling
    (``MaxPool2d(3, 2, padding=0, ceil_mode=True)``) and an input adapter
    in front of the stem. Parameter names are mmpretrain's (= the
    torchvision names of ``resnet50_ft_weight.pkl``).

    Args:
        out_indices (Sequence[int]): Stages whose maps are returned.
            Defaults to ``(3,)`` (layer4, 2048 channels).
        frozen (bool): Fix every parameter (``requires_grad=False``) and
            keep every module, BatchNorm included, in eval mode whatever
            ``train()`` is called with, so that a parent's ``train()``
            never lets the running statistics move. Disentangled DoE
            freezes its identity encoder. Defaults to True.
        input_mean (Sequence[float], optional): Per-channel mean (0..255
            scale, in the input's channel order) that was subtracted from
            the input; ``forward`` adds it back. Defaults to the ImageNet
            RGB mean ``(123.675, 116.28, 103.53)``. None: the input is
            already in VGGFace2 form (BGR, 0..255 minus
            :data:`VGGFACE2_MEAN_BGR`) and is used as it is
            (``input_std`` and ``input_bgr`` are then ignored).
        input_std (Sequence[float], optional): Per-channel std the input
            was divided by; None for none. Defaults to the ImageNet RGB
            std ``(58.395, 57.12, 57.375)``.
        input_bgr (bool): The input's channels are B, G, R (a data
            preprocessor without ``to_rgb``); ``input_mean``/``input_std``
            are then given in that order. Defaults to False (RGB, flipped
            to BGR here).
        frozen_stages (int): With ``frozen=False``, freeze the stem and
            this many stages (mmpretrain's meaning). Defaults to -1.
        norm_eval (bool): With ``frozen=False``, keep the BatchNorm layers
            in eval mode while training. Defaults to False.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained',
            checkpoint='checkpoints/vggface2_resnet50_ft.pth')`` (the
            output of ``tools/model_converters/vggface2_to_ferpretrain.py``);
            the file's torchvision layout (``fc.*``, no counters) is also
            accepted. None: mmpretrain ResNet's initialisation (Kaiming
            convs, BatchNorm to identity), with a warning when frozen.

    Shapes:
        input (B, 3, 224, 224), normalised as ``input_mean``/``input_std``
        say -> a tuple with one map per ``out_indices``: (B, 256, 56, 56),
        (B, 512, 28, 28), (B, 1024, 14, 14), (B, 2048, 7, 7); the default
        is ``((B, 2048, 7, 7),)``. Other sizes work (the VGGFace2 weights
        were trained at 224).
    """

    def __init__(self,
                 out_indices: Sequence[int] = (3, ),
                 frozen: bool = True,
                 input_mean: Optional[Sequence[float]] = IMAGENET_MEAN_RGB,
                 input_std: Optional[Sequence[float]] = IMAGENET_STD_RGB,
                 input_bgr: bool = False,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 init_cfg: Optional[dict] = None):
        pretrained = is_pretrained(init_cfg)
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer=['Conv2d']),
                dict(type='Constant', val=1, layer=['_BatchNorm'])
            ]
        super().__init__(
            depth=50,
            style='caffe',
            out_indices=tuple(out_indices),
            frozen_stages=frozen_stages,
            norm_eval=norm_eval,
            # mmpretrain zeroes the last BN of each block after a
            # Pretrained init given in a list; never with real weights.
            zero_init_residual=not pretrained,
            init_cfg=init_cfg)
        self.frozen = frozen
        # Caffe's pooling: no padding, the output size rounded up.
        self.maxpool = nn.MaxPool2d(
            kernel_size=3, stride=2, padding=0, ceil_mode=True)
        self._set_input_adapter(input_mean, input_std, input_bgr)
        self._with_counters = any(
            k.endswith('num_batches_tracked') for k in self.state_dict())
        self._register_load_state_dict_pre_hook(self._remap_keys)
        self._freeze()

    def _set_input_adapter(self, mean, std, bgr) -> None:
        self.input_mean = None if mean is None else tuple(mean)
        self.input_std = None if std is None else tuple(std)
        self.input_bgr = bool(bgr)
        if mean is None:
            self.adapt_input = False
            return
        if len(self.input_mean) != 3 or (std is not None
                                         and len(self.input_std) != 3):
            raise ValueError(
                'VGGFace2ResNet: input_mean and input_std need 3 values '
                f'(one per channel), got {mean!r} and {std!r}.')
        if std is not None and min(self.input_std) <= 0:
            raise ValueError(
                f'VGGFace2ResNet: input_std must be positive, got {std!r}.')
        std = self.input_std or (1.0, 1.0, 1.0)
        # In BGR order: pixel = x * std + mean; VGGFace2 input = pixel -
        # mean_bgr, i.e. x * scale + shift.
        order = (0, 1, 2) if bgr else (2, 1, 0)
        scale = [std[c] for c in order]
        shift = [self.input_mean[c] - VGGFACE2_MEAN_BGR[i]
                 for i, c in enumerate(order)]
        self.adapt_input = True
        # Not persistent: no checkpoint carries (or needs) them.
        self.register_buffer(
            'input_scale', torch.tensor(scale).view(1, 3, 1, 1),
            persistent=False)
        self.register_buffer(
            'input_shift', torch.tensor(shift).view(1, 3, 1, 1),
            persistent=False)

    def to_vggface2_input(self, x: torch.Tensor) -> torch.Tensor:
        """The input as the Caffe model expects it: BGR, 0..255 minus
        :data:`VGGFACE2_MEAN_BGR` (unchanged with ``input_mean=None``)."""
        if not self.adapt_input:
            return x
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(
                'VGGFace2ResNet: expects (B, 3, H, W) images, got shape '
                f'{tuple(x.shape)}.')
        if not self.input_bgr:
            x = x.flip(1)
        return torch.addcmul(
            self.input_shift.to(x.dtype), x, self.input_scale.to(x.dtype))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        return super().forward(self.to_vggface2_input(x))

    def _remap_keys(self, state_dict, prefix, local_metadata, strict,
                    missing_keys, unexpected_keys, error_msgs):
        converted, dropped = convert_vggface2_keys(
            state_dict, prefix, num_batches_tracked=self._with_counters)
        if dropped:
            MMLogger.get_current_instance().info(
                f'VGGFace2ResNet: {len(dropped)} checkpoint keys belong to '
                'the identity classifier, which this encoder does not '
                f'build, and were skipped: {summarise_keys(dropped)}')
        replace_state_dict(state_dict, converted)

    def _freeze(self) -> None:
        if not self.frozen:
            return
        # self.eval() would call back into self.train(), hence nn.Module's.
        nn.Module.train(self, False)
        for param in self.parameters():
            param.requires_grad = False

    def train(self, mode: bool = True):
        # ResNet.train handles frozen_stages and norm_eval (and returns
        # None); frozen then overrides everything.
        super().train(mode)
        self._freeze()
        return self

    def init_weights(self):
        try:
            super().init_weights()
        except FileNotFoundError as error:
            raise FileNotFoundError(
                f'VGGFace2ResNet (identity encoder): {error} Convert the '
                'VGGFace2 weights (resnet50_ft_weight.pkl, '
                'cydonia999/VGGFace2-pytorch) once with python '
                'tools/model_converters/vggface2_to_ferpretrain.py '
                'resnet50_ft_weight.pkl checkpoints/vggface2_resnet50_ft.pth'
                ', or set the identity encoder\'s init_cfg.checkpoint to '
                'the converted file.') from error
        if self.frozen and not is_pretrained(self.init_cfg):
            MMLogger.get_current_instance().warning(
                'VGGFace2ResNet is frozen but has no Pretrained init_cfg: '
                'its identity features stay random. Disentangled DoE loads '
                'the converted VGGFace2 resnet50_ft weights here (tools/'
                'model_converters/vggface2_to_ferpretrain.py).')
