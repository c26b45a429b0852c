"""IR ("improved residual") ResNets for 112x112 faces, as in face.evoLVe.

The stem CNN of TransFER, APViT, POSTER and POSTER V2 is the IR-50 trained
for face recognition on MS-Celeb-1M (face.evoLVe's
``backbone_ir50_ms1m_epoch120.pth``). The FER models keep only its first
three stages, whose output is a 256x14x14 map for a 112x112 face.

Architecture (Deng et al., ArcFace, CVPR 2019, "IR" unit; face.evoLVe):

- input layer: Conv3x3(3->64, stride 1) - BN - PReLU; no max-pool, so a
  112 input keeps 112x112 here;
- stages of ``bottleneck_IR`` units at 64/128/256/512 channels; the first
  unit of every stage has stride 2 (112 -> 56 -> 28 -> 14 -> 7);
- unit: BN - Conv3x3 - PReLU - Conv3x3(stride) - BN on the residual path;
  the shortcut is a stride-s 1x1 max-pool when the width is unchanged, else
  Conv1x1(stride) - BN;
- the face-recognition output layer (BN, dropout, flatten, Linear to 512,
  BN) is never built: no FER model uses it, and building it would add
  12.85 M parameters that never run.

Module names follow face.evoLVe's unit names (``input_layer``,
``shortcut_layer``, ``res_layer``) with stages nested as
``body.<stage>.<unit>``, the layout APViT's released checkpoint uses. The
flat face.evoLVe layout (``body.<n>``) and POSTER V2's re-keyed
``body1/body2/body3`` layout are remapped on load (see
:func:`convert_iresnet_keys`), so either file works as
``init_cfg=dict(type='Pretrained', checkpoint=...)``.
"""
import re
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmpretrain.models.utils import SELayer

from ferpretrain.registry import MODELS
from ..utils.helpers import (init_conv_bn, is_pretrained,
                             rename_under_prefix, summarise_keys)
from .face_backbone import FaceBackbone

# Units per stage for each depth (face.evoLVe ``get_blocks``).
IRESNET_STAGE_UNITS: Dict[int, Tuple[int, int, int, int]] = {
    50: (3, 4, 14, 3),
    100: (3, 13, 30, 3),
    152: (3, 8, 36, 3),
}
IRESNET_STAGE_CHANNELS = (64, 128, 256, 512)


class BottleneckIR(nn.Module):
    """The IR residual unit (face.evoLVe ``bottleneck_IR``).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the second 3x3 conv and of the shortcut.
        with_se (bool): Append a squeeze-and-excitation layer to the residual
            path (the "IR-SE" variant). Defaults to False.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 with_se: bool = False):
        super().__init__()
        if in_channels == out_channels:
            # A strided 1x1 max-pool is a parameter-free subsampling.
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels))
        layers = [
            nn.BatchNorm2d(in_channels),
            nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False),
            nn.PReLU(out_channels),
            nn.Conv2d(out_channels, out_channels, 3, stride, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        if with_se:
            layers.append(SELayer(out_channels, ratio=16, bias=False))
        self.res_layer = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_layer(x) + self.shortcut_layer(x)


def _is_int(text: str) -> bool:
    return text.isdigit()


def split_flat_unit(flat: int,
                    stage_units: Sequence[int]) -> Optional[Tuple[int, int]]:
    """``(stage, unit)`` of unit ``flat`` of a flat IR body (face.evoLVe's,
    POSTER's and TransFER's ``body.<n>``), or None beyond the last stage.

    Example:
        >>> split_flat_unit(7, (3, 4, 14, 3))
        (2, 0)
    """
    for stage, units in enumerate(stage_units):
        if flat < units:
            return stage, flat
        flat -= units
    return None


def flat_unit_name(flat: int, rest: str,
                   stage_units: Sequence[int]) -> Optional[str]:
    """``body.<stage>.<unit>.<rest>``, this package's name of the parameter
    ``rest`` of unit ``flat`` of a flat IR body, or None beyond the last
    stage (see :func:`split_flat_unit`)."""
    place = split_flat_unit(flat, stage_units)
    return None if place is None else f'body.{place[0]}.{place[1]}.{rest}'


def rename_flat_body_key(pattern: 're.Pattern', name: str,
                         stage_units: Sequence[int],
                         prefix: str = 'backbone.') -> Optional[str]:
    """A release's flat IR body key (``pattern`` with the groups ``n``,
    the flat unit, and ``r``, the rest) in this package's names under
    ``prefix``; None if ``name`` is not one, or lies beyond the stages
    ``stage_units`` describe."""
    match = pattern.fullmatch(name)
    body = match and flat_unit_name(int(match['n']), match['r'], stage_units)
    return body and prefix + body


def convert_iresnet_keys(
    state_dict: Dict[str, torch.Tensor],
    stage_units: Sequence[int],
    num_stages: int,
    prefix: str = '',
) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Map a third-party IR-ResNet state dict to :class:`IResNet` names.

    Handles the three layouts in circulation:

    - face.evoLVe (``backbone_ir50_ms1m_epoch120.pth``): flat units
      ``body.<n>.*`` (n counts across stages) plus ``output_layer.*``;
    - POSTER V2's ``ir50.pth``: ``body1.<u>.*``, ``body2.<u>.*``,
      ``body3.<u>.*`` (plus ``output_layer.*``);
    - ours / APViT's: ``body.<stage>.<unit>.*`` (returned unchanged).

    Keys under ``prefix`` that belong to parts this model does not build
    (stages at or beyond ``num_stages`` and the face-recognition
    ``output_layer``) are removed and returned, so a caller can report them
    instead of letting a non-strict load drop them silently. Keys outside
    ``prefix`` are left untouched.

    Args:
        state_dict (dict): The checkpoint's state dict.
        stage_units (Sequence[int]): Units per stage of the source network,
            e.g. ``(3, 4, 14, 3)`` for IR-50.
        num_stages (int): Stages the target :class:`IResNet` builds.
        prefix (str): Prefix of the IR-ResNet keys inside ``state_dict``.

    Returns:
        tuple: The converted state dict and the list of dropped keys.
    """
    def rename(name: str) -> Optional[str]:
        parts = name.split('.')
        new_name: Optional[str] = name
        if parts[0] == 'output_layer':
            return None
        if (parts[0] == 'body' and len(parts) > 2 and _is_int(parts[1])
                and not _is_int(parts[2])):
            # face.evoLVe flat layout: body.<n>.<rest>
            new_name = flat_unit_name(
                int(parts[1]), '.'.join(parts[2:]), stage_units)
        elif re.fullmatch(r'body[1-9]', parts[0]):
            # POSTER V2 layout: body1/body2/body3 are stages 0/1/2.
            stage = int(parts[0][4:]) - 1
            new_name = '.'.join(['body', str(stage)] + parts[1:])
        if new_name is not None and new_name.startswith('body.'):
            if int(new_name.split('.')[1]) >= num_stages:
                return None
        return new_name

    return rename_under_prefix(state_dict, prefix, rename)


@MODELS.register_module()
class IResNet(FaceBackbone):
    """IR-ResNet for 112x112 faces (face.evoLVe IR-50/100/152, IR-SE).

    Args:
        depth (int): 50, 100 or 152. Defaults to 50.
        num_stages (int): How many of the 4 stages to build. The FER models
            use 3 (output 256x14x14 for a 112 input). Defaults to 4.
        out_indices (Sequence[int]): Stages whose outputs are returned, in a
            tuple. Defaults to ``(num_stages - 1,)``.
        frozen_stages (int): Freeze the input layer and this many stages
            (weights fixed, BatchNorm statistics kept in eval mode); -1 means
            none, 0 the input layer only. Defaults to -1.
        with_se (bool): Build the IR-SE variant. Defaults to False.
        stage_channels (Sequence[int]): Width of each stage. Defaults to the
            face.evoLVe widths ``(64, 128, 256, 512)``; reduced models (CPU
            recipes, tests) pass smaller ones.
        stage_units (Sequence[int], optional): Units per stage, overriding
            ``depth`` (reduced models). Defaults to None.
        norm_eval (bool): Keep every BatchNorm in eval mode while training.
            Defaults to False.
        channels_last (bool): Keep the weights and run the convolutions in
            ``torch.channels_last`` (NHWC) layout; the input is converted
            on entry. The same values (tested), usually faster on CPUs,
            whose oneDNN kernels prefer NHWC. The output maps are returned
            contiguous (NCHW), so necks see the usual layout. Defaults to
            False.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained',
            checkpoint='backbone_ir50_ms1m_epoch120.pth')``; face.evoLVe and
            POSTER V2 key layouts are remapped on load.

    Shapes:
        input (B, 3, 112, 112) -> stage outputs (B, 64, 56, 56),
        (B, 128, 28, 28), (B, 256, 14, 14), (B, 512, 7, 7).
    """

    def __init__(self,
                 depth: int = 50,
                 num_stages: int = 4,
                 out_indices: Optional[Sequence[int]] = None,
                 frozen_stages: int = -1,
                 with_se: bool = False,
                 stage_channels: Sequence[int] = IRESNET_STAGE_CHANNELS,
                 stage_units: Optional[Sequence[int]] = None,
                 norm_eval: bool = False,
                 channels_last: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            norm_eval=norm_eval, channels_last=channels_last,
            init_cfg=init_cfg)
        if stage_units is None:
            if depth not in IRESNET_STAGE_UNITS:
                raise ValueError(
                    f'IResNet: depth={depth} is not one of '
                    f'{sorted(IRESNET_STAGE_UNITS)}; pass stage_units for a '
                    'custom network.')
            stage_units = IRESNET_STAGE_UNITS[depth]
        if len(stage_units) != len(stage_channels):
            raise ValueError(
                'IResNet: stage_units and stage_channels must have the same '
                f'length, got {tuple(stage_units)} and '
                f'{tuple(stage_channels)}.')
        if not 1 <= num_stages <= len(stage_units):
            raise ValueError(f'IResNet: num_stages must be in 1..'
                             f'{len(stage_units)}, got {num_stages}.')
        if out_indices is None:
            out_indices = (num_stages - 1, )
        out_indices = tuple(i if i >= 0 else num_stages + i
                            for i in out_indices)
        for i in out_indices:
            if not 0 <= i < num_stages:
                raise ValueError(
                    f'IResNet: out_indices {out_indices} must index the '
                    f'{num_stages} built stages.')
        if frozen_stages > num_stages:
            raise ValueError(f'IResNet: frozen_stages={frozen_stages} > '
                             f'num_stages={num_stages}.')
        self.depth = depth
        self.stage_units = tuple(stage_units)
        self.stage_channels = tuple(stage_channels)
        self.num_stages = num_stages
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages

        stem_channels = stage_channels[0]
        self.input_layer = nn.Sequential(
            nn.Conv2d(3, stem_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(stem_channels), nn.PReLU(stem_channels))
        stages = []
        in_channels = stem_channels
        for units, channels in zip(stage_units[:num_stages],
                                   stage_channels[:num_stages]):
            stage = [BottleneckIR(in_channels, channels, 2, with_se)]
            stage += [
                BottleneckIR(channels, channels, 1, with_se)
                for _ in range(units - 1)
            ]
            stages.append(nn.Sequential(*stage))
            in_channels = channels
        self.body = nn.ModuleList(stages)
        self.out_channels = tuple(stage_channels[i] for i in out_indices)
        self.finish_init()

    def convert_keys(self, state_dict, prefix):
        return convert_iresnet_keys(state_dict, self.stage_units,
                                    self.num_stages, prefix)

    def describe_dropped(self, dropped):
        return (f'IResNet: {len(dropped)} checkpoint keys belong to parts '
                f'this model does not build (stages >= {self.num_stages}, '
                f'output_layer) and were skipped: {summarise_keys(dropped)}')

    def init_weights(self):
        super().init_weights()
        if is_pretrained(self.init_cfg):
            return
        # face.evoLVe initialisation: xavier for convs, BN to identity.
        init_conv_bn(self, nn.init.xavier_uniform_)

    def _freeze(self):
        if self.frozen_stages < 0:
            return
        frozen = [self.input_layer] + list(self.body[:self.frozen_stages])
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        x = self.input_layer(self.enter(x))
        outs = []
        for i, stage in enumerate(self.body):
            x = stage(x)
            if i in self.out_indices:
                outs.append(self.leave(x))
        return tuple(outs)
