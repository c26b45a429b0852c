"""MobileFaceNet, the 68-landmark network that POSTER and POSTER V2 freeze.

POSTER (Zheng et al., arXiv 2204.04083, ICCVW 2023; zczcwh/POSTER) and
POSTER V2 / POSTER++ (Mao et al., arXiv 2301.12149; Talented-Q/POSTER_V2)
take their landmark branch from cunjian/pytorch_face_landmark: a
MobileFaceNet (Chen et al., "MobileFaceNets", CCBR 2018) whose
face-recognition embedding is replaced by a 136-way regression of 68
(x, y) landmarks, built there as ``MobileFaceNet([112, 112], 136)`` and
released as ``mobilefacenet_model_best.pth.tar``. Both FER models load that
file, set ``requires_grad=False`` and use intermediate feature maps only:

- POSTER: the ``conv_6_sep`` map, 512x7x7 -> 49 landmark tokens;
- POSTER V2: ``conv_3`` (64x28x28), ``conv_4`` (128x14x14) and
  ``conv_6_sep`` (512x7x7), the queries of its three cross-attention scales.

Architecture for a 112x112 input (output shapes as C x H x W):

====================  ===========================================  ===========
name                  layers                                       output
====================  ===========================================  ===========
conv1                 Conv3x3 s2 3->64, BN, PReLU                  64x56x56
conv2_dw              depthwise Conv3x3 64, BN, PReLU              64x56x56
conv_23               bottleneck 64 -(x128)-> 64, s2               64x28x28
conv_3                4 residual bottlenecks 64 -(x128)-> 64       64x28x28
conv_34               bottleneck 64 -(x256)-> 128, s2              128x14x14
conv_4                6 residual bottlenecks 128 -(x256)-> 128     128x14x14
conv_45               bottleneck 128 -(x512)-> 128, s2             128x7x7
conv_5                2 residual bottlenecks 128 -(x256)-> 128     128x7x7
conv_6_sep            Conv1x1 128->512, BN, PReLU                  512x7x7
landmark_head         depthwise Conv7x7 512 + BN ("GDC"), flatten, 136
                      Linear 512->136 (no bias), BatchNorm1d(136)
====================  ===========================================  ===========

A bottleneck (``Depth_Wise`` upstream) is Conv1x1 to the expansion width +
BN + PReLU, a depthwise Conv3x3 (with the stride) + BN + PReLU, and a linear
Conv1x1 projection + BN; inside ``conv_3``/``conv_4``/``conv_5`` it adds its
input (a residual). With the landmark head the module holds 1,007,248
parameters (911,232 without it), the "MobileFaceNet 1.01M" measured for
POSTER V2 in ``docs/reference/paper-facts.md``; with ``input_size=64`` the
head's 4x4 kernel makes it 990,352.

Choices made here:

- ``out_indices`` select among five feature points, named in
  :data:`MOBILEFACENET_OUT_NAMES`: 0 ``conv2_dw`` (64x56x56), 1 ``conv_3``
  (64x28x28), 2 ``conv_4`` (128x14x14), 3 ``conv_5`` (128x7x7), 4
  ``conv_6_sep`` (512x7x7). POSTER uses ``(4,)`` (the default), POSTER V2
  ``(1, 2, 4)``.
- Only what is used is built: layers after the last selected feature point
  are not built, and the landmark head only with ``with_landmark_head=True``
  (the official FER forwards compute the landmarks and throw them away; a
  module whose output reaches no loss would also force DDP's
  ``find_unused_parameters``). Their checkpoint keys are skipped on load
  with a log line.
- With the head, ``forward`` returns the selected maps followed by the
  landmark vector ``(B, 136)``, ordered ``x0, y0, x1, y1, ...``;
  :meth:`MobileFaceNet.predict_landmarks` reshapes it to ``(B, 68, 2)``. As
  in cunjian/pytorch_face_landmark, coordinates are fractions of the face
  crop's width and height. The head needs the configured ``input_size``
  (default 112, as upstream): its global depthwise conv has a kernel of
  ``input_size // 16`` (7 for 112, 4 for 64) and must reduce the
  ``conv_6_sep`` map to 1x1, so a head trained at one size only accepts
  that size. The feature maps work for any size divisible by 16.
- ``frozen=True`` fixes every weight *and* keeps every BatchNorm in eval
  mode through ``train()``. The official code only sets
  ``requires_grad=False``, so ``model.train()`` lets the landmark branch's
  BatchNorm statistics drift on FER batches; here they never move.
- Upstream module names are kept, except that the residual stages drop the
  ``Residual.model`` wrapper (``conv_3.model.0`` -> ``conv_3.0``) and the
  ``GDC`` output layer is called ``landmark_head`` (``output_layer.*`` ->
  ``landmark_head.*``). :func:`convert_mobilefacenet_keys` does that
  mapping (and strips DataParallel's ``module.``) in a load-state-dict
  pre-hook, so the released file works as ``init_cfg=dict(type='Pretrained',
  checkpoint='mobilefacenet_model_best.pth.tar')``;
  ``tools/model_converters/mobilefacenet_to_ferpretrain.py`` writes a plain
  state dict in ferpretrain names once, so later loads need no trust.

Input statistics: cunjian/pytorch_face_landmark's demo
(``test_batch_detections.py``) feeds this network OpenCV (BGR) face crops
scaled to [0, 1] without mean/std normalisation, while POSTER and POSTER V2
feed it the same ImageNet-normalised RGB tensor as their image branch.
This module applies no normalisation of its own: the caller's data
preprocessor decides, and reproducing POSTER means feeding it what the image
branch gets.
"""
import re
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.logging import MMLogger

from ferpretrain.registry import MODELS
from ..utils.helpers import (init_conv_bn, is_pretrained,
                             rename_under_prefix, summarise_keys)
from .face_backbone import FaceBackbone

#: Names of the feature points ``out_indices`` select, in forward order.
MOBILEFACENET_OUT_NAMES = ('conv2_dw', 'conv_3', 'conv_4', 'conv_5',
                           'conv_6_sep')

#: Landmarks the released 136-output network regresses.
NUM_LANDMARKS = 68

# Bottleneck layers per resolution of cunjian/pytorch_face_landmark's
# ``MobileFaceNet([112, 112], 136)``: (downsampling layer, its expansion
# width), (residual stage, units, their expansion width), output channels.
# A table rather than nine constructor calls, so the structure can be read
# (and compared with the upstream file) in one place.
_STAGE_SETTINGS = (
    # name_down, expand_down, name_res, units, expand_res, channels
    ('conv_23', 128, 'conv_3', 4, 128, 64),
    ('conv_34', 256, 'conv_4', 6, 256, 128),
    ('conv_45', 512, 'conv_5', 2, 256, 128),
)
_STEM_CHANNELS = 64
_FEATURE_CHANNELS = 512  # conv_6_sep
_OUT_CHANNELS = (64, 64, 128, 128, 512)

# Top-level layers of each feature point (out index), in forward order.
_STAGE_LAYERS = (('conv1', 'conv2_dw'), ) + tuple(
    (down, res) for down, _, res, _, _, _ in _STAGE_SETTINGS) + (
        ('conv_6_sep', ), )
_ALL_LAYERS = frozenset(name for names in _STAGE_LAYERS for name in names)


class ConvBNPReLU(nn.Module):
    """Conv2d (no bias) + BatchNorm2d, followed by PReLU if ``act``.

    Upstream's ``Conv_block`` (with PReLU) and ``Linear_block`` (without);
    the children are called ``conv``, ``bn`` and ``prelu`` as there, so the
    released weights map one to one.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 kernel_size: int = 1, stride: int = 1, padding: int = 0,
                 groups: int = 1, act: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            groups=groups,
            bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.prelu = nn.PReLU(out_channels) if act else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return self.prelu(x) if self.prelu is not None else x


class DepthwiseBottleneck(nn.Module):
    """MobileFaceNet's inverted bottleneck (upstream ``Depth_Wise``).

    Conv1x1 to ``expand_channels`` (BN, PReLU), depthwise Conv3x3 with
    ``stride`` (BN, PReLU), linear Conv1x1 projection to ``out_channels``
    (BN, no activation, as in MobileNetV2), plus the input when
    ``residual``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        expand_channels (int): Width of the depthwise conv (upstream passes
            it as ``groups``).
        stride (int): Stride of the depthwise conv. Defaults to 1.
        residual (bool): Add the input to the output; needs ``stride=1``
            and ``in_channels == out_channels``. Defaults to False.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 expand_channels: int,
                 stride: int = 1,
                 residual: bool = False):
        super().__init__()
        if residual and (stride != 1 or in_channels != out_channels):
            raise ValueError(
                'DepthwiseBottleneck: a residual unit needs stride 1 and '
                f'equal widths, got stride={stride}, {in_channels}->'
                f'{out_channels}.')
        self.residual = residual
        self.conv = ConvBNPReLU(in_channels, expand_channels)
        self.conv_dw = ConvBNPReLU(
            expand_channels,
            expand_channels,
            kernel_size=3,
            stride=stride,
            padding=1,
            groups=expand_channels)
        self.project = ConvBNPReLU(expand_channels, out_channels, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.conv_dw(self.conv(x)))
        return x + out if self.residual else out


class LandmarkHead(nn.Module):
    """Global depthwise conv ("GDC") regression of 68 (x, y) landmarks.

    Upstream's ``GDC`` output layer with ``embedding_size=136``: a
    ``map_size x map_size`` depthwise conv + BN that reduces the
    512 x map_size x map_size map to 512 values, a bias-free Linear
    512 -> 136 and a BatchNorm1d(136). ``map_size`` is the input size / 16
    (7 for upstream's 112x112 input).
    """

    def __init__(self,
                 in_channels: int = _FEATURE_CHANNELS,
                 num_outputs: int = 2 * NUM_LANDMARKS,
                 map_size: int = 7):
        super().__init__()
        self.map_size = map_size
        self.conv_6_dw = ConvBNPReLU(
            in_channels,
            in_channels,
            kernel_size=map_size,
            groups=in_channels,
            act=False)
        self.linear = nn.Linear(in_channels, num_outputs, bias=False)
        self.bn = nn.BatchNorm1d(num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.map_size, self.map_size):
            raise ValueError(
                f'MobileFaceNet landmark head: expects a {self.map_size}x'
                f'{self.map_size} conv_6_sep map (a {16 * self.map_size}x'
                f'{16 * self.map_size} input), got {tuple(x.shape[-2:])}; '
                'build MobileFaceNet with input_size set to the image size '
                'it is fed.')
        return self.bn(self.linear(self.conv_6_dw(x).flatten(1)))


def convert_mobilefacenet_keys(
    state_dict: Dict[str, torch.Tensor],
    with_landmark_head: bool,
    built_layers: Optional[Sequence[str]] = None,
    prefix: str = '',
) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Map cunjian/pytorch_face_landmark's MobileFaceNet keys to ours.

    Under ``prefix``:

    - a DataParallel ``module.`` is stripped;
    - ``conv_{3,4,5}.model.<i>.*`` -> ``conv_{3,4,5}.<i>.*``;
    - ``output_layer.*`` -> ``landmark_head.*``;
    - every other name (``conv1.*``, ``conv2_dw.*``, ``conv_23.*``, ...,
      ``conv_6_sep.*``) is the same in both layouts, so a file already in
      ferpretrain names passes through unchanged.

    Keys of parts the target does not build (the landmark head unless
    ``with_landmark_head``, top-level layers missing from ``built_layers``)
    are removed and returned, so the caller can report them. Keys outside
    ``prefix`` are left untouched.

    Args:
        state_dict (dict): The checkpoint's state dict.
        with_landmark_head (bool): Whether the target builds the head.
        built_layers (Sequence[str], optional): Top-level layer names the
            target builds; None keeps every layer.
        prefix (str): Prefix of the MobileFaceNet keys in ``state_dict``.

    Returns:
        tuple: The converted state dict and the list of dropped keys
        (original names).
    """
    def rename(name: str) -> Optional[str]:
        if name.startswith('module.'):
            name = name[len('module.'):]
        name = re.sub(r'^(conv_[345])\.model\.', r'\1.', name)
        if name.startswith('output_layer.'):
            name = 'landmark_head.' + name[len('output_layer.'):]
        top = name.split('.', 1)[0]
        if top == 'landmark_head':
            keep = with_landmark_head
        else:
            # Unknown names are kept, so that a strict load reports them.
            keep = (built_layers is None or top not in _ALL_LAYERS
                    or top in built_layers)
        return name if keep else None

    return rename_under_prefix(state_dict, prefix, rename)


@MODELS.register_module()
class MobileFaceNet(FaceBackbone):
    """The 68-landmark MobileFaceNet of POSTER / POSTER V2 (see module doc).

    Args:
        out_indices (Sequence[int]): Feature points returned, indices into
            :data:`MOBILEFACENET_OUT_NAMES` (``conv2_dw``, ``conv_3``,
            ``conv_4``, ``conv_5``, ``conv_6_sep``). Defaults to ``(4,)``
            (POSTER); POSTER V2 uses ``(1, 2, 4)``.
        with_landmark_head (bool): Build the 136-output landmark regressor
            and append its output to the returned tuple. Defaults to False:
            the FER models use only the feature maps.
        frozen (bool): Fix every parameter (``requires_grad=False``) and
            keep every BatchNorm in eval mode, whatever ``train()`` is
            called with. POSTER and POSTER V2 freeze this branch. Defaults
            to False.
        norm_eval (bool): Keep the BatchNorm layers in eval mode while
            training (weights still train). Defaults to False.
        channels_last (bool): Keep the weights and run the convolutions in
            ``torch.channels_last`` (NHWC) layout; the input is converted
            on entry. The same values (tested), and about 2x faster on CPUs
            for this depthwise-heavy network (oneDNN prefers NHWC). The
            output maps are returned contiguous (NCHW). Defaults to False.
        input_size (int): Side of the square input the landmark head is
            built for: its global depthwise conv has a kernel of
            ``input_size // 16``. Must be a positive multiple of 16.
            Defaults to 112 (upstream's size and that of the released
            weights); e.g. 64 for 48x48 FER2013 faces resized to 64. The
            feature maps do not depend on it.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained',
            checkpoint='mobilefacenet_model_best.pth.tar')``; upstream key
            names are remapped on load. Without it the upstream
            initialisation is used (Kaiming-normal fan-out convs and
            linear, BatchNorm to identity).

    Shapes:
        input (B, 3, 112, 112) -> a tuple of the selected maps among
        (B, 64, 56, 56), (B, 64, 28, 28), (B, 128, 14, 14), (B, 128, 7, 7),
        (B, 512, 7, 7), then (B, 136) landmarks if ``with_landmark_head``.
        In general (B, 3, S, S) gives maps of S/2, S/4, S/8, S/16 and S/16
        pixels; the landmark head needs ``S == input_size``.
    """

    def __init__(self,
                 out_indices: Sequence[int] = (4, ),
                 with_landmark_head: bool = False,
                 frozen: bool = False,
                 norm_eval: bool = False,
                 input_size: int = 112,
                 channels_last: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            norm_eval=norm_eval, channels_last=channels_last,
            init_cfg=init_cfg)
        # Four stride-2 layers: the head's kernel must be a whole number.
        if isinstance(input_size, bool) or not isinstance(
                input_size, int) or input_size < 16 or input_size % 16:
            raise ValueError(
                'MobileFaceNet: input_size must be a positive multiple of 16 '
                '(the network downsamples by 16 and the landmark head\'s '
                f'depthwise kernel is input_size // 16), got {input_size!r}; '
                'e.g. 112 (upstream) or 64.')
        self.input_size = input_size
        num_points = len(MOBILEFACENET_OUT_NAMES)
        out_indices = tuple(i if i >= 0 else num_points + i
                            for i in out_indices)
        if not out_indices or any(not 0 <= i < num_points
                                  for i in out_indices):
            raise ValueError(
                f'MobileFaceNet: out_indices {out_indices} must index the '
                f'{num_points} feature points {MOBILEFACENET_OUT_NAMES}.')
        self.out_indices = out_indices
        self.with_landmark_head = with_landmark_head
        self.frozen = frozen
        self.out_channels = tuple(_OUT_CHANNELS[i] for i in out_indices)

        # The head reads conv_6_sep, so it needs every layer.
        last = num_points - 1 if with_landmark_head else max(out_indices)
        self.stage_layers: List[List[str]] = [
            list(names) for names in _STAGE_LAYERS[:last + 1]
        ]
        self.conv1 = ConvBNPReLU(
            3, _STEM_CHANNELS, kernel_size=3, stride=2, padding=1)
        self.conv2_dw = ConvBNPReLU(
            _STEM_CHANNELS,
            _STEM_CHANNELS,
            kernel_size=3,
            padding=1,
            groups=_STEM_CHANNELS)
        in_channels = _STEM_CHANNELS
        for stage, (name_down, expand_down, name_res, units, expand_res,
                    channels) in enumerate(_STAGE_SETTINGS, start=1):
            if stage > last:
                break
            self.add_module(
                name_down,
                DepthwiseBottleneck(
                    in_channels, channels, expand_down, stride=2))
            self.add_module(
                name_res,
                nn.Sequential(*[
                    DepthwiseBottleneck(
                        channels, channels, expand_res, residual=True)
                    for _ in range(units)
                ]))
            in_channels = channels
        if last == num_points - 1:
            self.conv_6_sep = ConvBNPReLU(in_channels, _FEATURE_CHANNELS)
        self.landmark_head = LandmarkHead(
            map_size=input_size // 16) if with_landmark_head else None

        self.finish_init()

    @property
    def built_layers(self) -> List[str]:
        """Top-level layer names this instance builds, in forward order."""
        return [name for names in self.stage_layers for name in names]

    def convert_keys(self, state_dict, prefix):
        return convert_mobilefacenet_keys(state_dict, self.with_landmark_head,
                                          self.built_layers, prefix)

    def describe_dropped(self, dropped):
        return (f'MobileFaceNet: {len(dropped)} checkpoint keys belong to '
                'parts this model does not build (built: '
                f'{self.built_layers}, landmark head: '
                f'{self.with_landmark_head}) and were skipped: '
                f'{summarise_keys(dropped)}')

    def init_weights(self):
        try:
            super().init_weights()
        except FileNotFoundError as error:
            raise FileNotFoundError(
                f'MobileFaceNet (landmark branch): {error} POSTER and POSTER '
                'V2 load the released mobilefacenet_model_best.pth.tar; the '
                'FER2013 CPU recipes load the network trained by '
                'configs/landmarks/mobilefacenet_fer2013_64.py (see '
                'configs/landmarks/README.md). Train or download it, or set '
                'model.landmark_backbone.init_cfg.checkpoint to its '
                'path.') from error
        if is_pretrained(self.init_cfg):
            return
        if self.frozen:
            MMLogger.get_current_instance().warning(
                'MobileFaceNet is frozen but has no Pretrained init_cfg: its '
                'features stay random. POSTER and POSTER V2 load '
                'mobilefacenet_model_best.pth.tar here.')
        # Upstream's initialisation (cunjian/pytorch_face_landmark).
        init_conv_bn(
            self,
            partial(
                nn.init.kaiming_normal_, mode='fan_out',
                nonlinearity='relu'),
            types=(nn.Conv2d, nn.Linear))

    def _freeze(self):
        if not self.frozen:
            return
        # self.eval() would call back into self.train(), hence nn.Module's.
        nn.Module.train(self, False)
        for param in self.parameters():
            param.requires_grad = False

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        x = self.enter(x)
        outs = []
        for i, names in enumerate(self.stage_layers):
            for name in names:
                x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(self.leave(x))
        if self.landmark_head is not None:
            outs.append(self.landmark_head(x))
        return tuple(outs)

    def predict_landmarks(self, x: torch.Tensor) -> torch.Tensor:
        """The 68 landmarks as (B, 68, 2) (x, y) fractions of the crop.

        Needs ``with_landmark_head=True`` and a ``(B, 3, input_size,
        input_size)`` input.
        """
        if self.landmark_head is None:
            raise RuntimeError(
                'MobileFaceNet.predict_landmarks needs with_landmark_head='
                'True.')
        return self(x)[-1].view(-1, NUM_LANDMARKS, 2)
