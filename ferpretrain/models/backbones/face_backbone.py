"""What the face CNNs share (IR-ResNet, MobileFaceNet): freezing that also
holds BatchNorm statistics, ``norm_eval``, the channels-last layout, and
third-party key layouts remapped on load."""
from typing import Dict, List, Optional

import torch
from mmengine.logging import MMLogger
from mmpretrain.models.backbones.base_backbone import BaseBackbone

from ..utils.helpers import replace_state_dict, set_norm_eval

__all__ = ['FaceBackbone']


class FaceBackbone(BaseBackbone):
    """Base of ferpretrain's face CNNs.

    A subclass builds its layers, then calls :meth:`finish_init`, and
    implements :meth:`_freeze` (what stays fixed) and
    :meth:`convert_keys` (third-party checkpoint layouts -> its own).

    Args:
        norm_eval (bool): Keep every BatchNorm in eval mode while training.
        channels_last (bool): Keep the weights and run the convolutions in
            ``torch.channels_last`` (NHWC) layout; the input is converted on
            entry (:meth:`enter`), the returned maps are contiguous NCHW
            (:meth:`leave`), so necks see the usual layout.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self, norm_eval: bool = False, channels_last: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.norm_eval = norm_eval
        self.channels_last = channels_last

    def finish_init(self) -> None:
        """Freeze, lay the weights out, and remap third-party keys on load.

        The remapping is a load pre-hook rather than code in ``__init__``,
        so that ``init_cfg``, ``load_from`` and converters all go through
        it.
        """
        self._register_load_state_dict_pre_hook(self._remap_keys)
        self._freeze()
        if self.channels_last:
            # In-place initialisation and checkpoint loading (copy_) keep
            # this layout.
            self.to(memory_format=torch.channels_last)

    def convert_keys(self, state_dict: Dict[str, torch.Tensor],
                     prefix: str) -> tuple:
        """``(converted, dropped)``: the state dict in this model's names,
        and the keys of parts this instance does not build."""
        raise NotImplementedError

    def describe_dropped(self, dropped: List[str]) -> str:
        """The log line for checkpoint keys this instance does not build."""
        raise NotImplementedError

    def _remap_keys(self, state_dict, prefix, local_metadata, strict,
                    missing_keys, unexpected_keys, error_msgs):
        converted, dropped = self.convert_keys(state_dict, prefix)
        if dropped:
            MMLogger.get_current_instance().info(
                self.describe_dropped(dropped))
        replace_state_dict(state_dict, converted)

    def _freeze(self) -> None:
        """Fix what must not train (weights and BatchNorm statistics)."""

    def train(self, mode: bool = True):
        super().train(mode)
        # requires_grad=False alone would still let BN statistics move.
        self._freeze()
        if mode and self.norm_eval:
            set_norm_eval(self)
        return self

    def enter(self, x: torch.Tensor) -> torch.Tensor:
        """The input in the layout the weights are kept in."""
        if self.channels_last:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def leave(self, x: torch.Tensor) -> torch.Tensor:
        """An output map in plain NCHW.

        NHWC stays inside: necks get plain NCHW maps (their 1x1 convolutions
        would otherwise return NHWC weight gradients for NCHW weights, which
        DDP copies every step).
        """
        return x.contiguous() if self.channels_last else x

