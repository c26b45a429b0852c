"""An image classifier with a second, landmark backbone (POSTER family).

POSTER (Zheng et al., arXiv 2204.04083) and POSTER V2 (Mao et al., arXiv
2301.12149) feed the same face to two backbones: an image network (IR-50)
and a landmark network (a frozen 68-landmark MobileFaceNet). Their fusion
needs both feature sets, and an mmpretrain neck only sees the backbone's
output, so :class:`LandmarkImageClassifier` runs both backbones in
``extract_feat`` and calls ``neck(image_feats, landmark_feats)``. Everything
else (head, losses, data preprocessor, ``predict``) is mmpretrain's
``ImageClassifier``.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.classifiers import ImageClassifier

from ferpretrain.registry import MODELS
from ..utils.scope import builds_in_mmpretrain_scope


@MODELS.register_module()
@builds_in_mmpretrain_scope
class LandmarkImageClassifier(ImageClassifier):
    """``ImageClassifier`` with ``landmark_backbone`` (see the module doc).

    Args:
        backbone (dict): The image branch, e.g. ``IResNet(depth=50,
            num_stages=3, out_indices=...)``.
        landmark_backbone (dict): The landmark branch, e.g.
            ``MobileFaceNet(out_indices=..., frozen=True)``.
        neck (dict): A neck whose ``forward(image_feats, landmark_feats)``
            takes both feature tuples and returns a tuple for the head.
        head (dict): The classification head.
        input_size (int, optional): Side both branches see; the input is
            nearest-resized to it first (POSTER and POSTER V2 feed 224 and
            resize to 112, with ``F.interpolate``'s default mode, nearest).
            ``None`` feeds the input as it is. Defaults to 112.
        train_cfg, data_preprocessor, init_cfg: as ``ImageClassifier``.
    """

    def __init__(self,
                 backbone: dict,
                 landmark_backbone: dict,
                 neck: dict,
                 head: dict,
                 input_size: Optional[int] = 112,
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            train_cfg=train_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if not isinstance(landmark_backbone, nn.Module):
            landmark_backbone = MODELS.build(landmark_backbone)
        self.landmark_backbone = landmark_backbone
        self.input_size = input_size

    def extract_feat(self,
                     inputs: torch.Tensor,
                     stage: str = 'neck') -> Tuple[torch.Tensor]:
        """Both branches and the neck; ``stage='backbone'`` returns the
        image and landmark feature tuples concatenated."""
        if stage not in ('backbone', 'neck', 'pre_logits'):
            raise ValueError(
                f'{type(self).__name__}: invalid stage {stage!r}, expected '
                "'backbone', 'neck' or 'pre_logits'.")
        x = inputs
        if self.input_size is not None and x.shape[-2:] != (
                self.input_size, self.input_size):
            x = F.interpolate(x, size=self.input_size)
        image_feats = self.backbone(x)
        landmark_feats = self.landmark_backbone(x)
        if stage == 'backbone':
            return tuple(image_feats) + tuple(landmark_feats)
        feats = self.neck(image_feats, landmark_feats)
        if stage == 'neck':
            return feats
        return self.head.pre_logits(feats)
