"""POSTER's training loss: cross-entropy plus label-smoothed cross-entropy.

POSTER (Zheng, Mendieta, Chen, "POSTER: A Pyramid Cross-Fusion Transformer
Network for Facial Expression Recognition", ICCV Workshops 2023,
arXiv 2204.04083) trains with ``loss = 2 * lsce + ce`` where ``lsce`` is
``LabelSmoothingCrossEntropy(smoothing=0.2)`` (official code
zczcwh/POSTER, ``train.py`` and ``utils.py``). POSTER V2 uses plain
cross-entropy, i.e. mmpretrain's ``CrossEntropyLoss``.
"""
import torch
import torch.nn as nn
from mmpretrain.models.losses import CrossEntropyLoss, LabelSmoothLoss

from ferpretrain.registry import MODELS

__all__ = ['POSTERLoss']


@MODELS.register_module()
class POSTERLoss(nn.Module):
    """``ce_weight * CE + ls_weight * LabelSmoothingCE(label_smooth_val)``.

    Defaults give POSTER's ``CE + 2 * LSCE(0.2)``.

    **Label smoothing formula.** POSTER's ``LabelSmoothingCrossEntropy``
    computes ``(1 - eps) * nll + eps * mean_k(-log p_k)``, i.e. the
    cross-entropy against the target ``(1 - eps) * onehot + eps / C``: the
    smoothing mass is spread *uniformly over all C classes, the true one
    included* (not ``eps / (C - 1)`` over the others only). That is
    mmpretrain's ``LabelSmoothLoss(mode='original')``, which this loss uses
    for its second term.

    **Labels.** ``label`` may be class indices of shape (N,) or (N, 1), or
    soft / one-hot targets of shape (N, C) (``gt_score``, e.g. after Mixup or
    CutMix batch augments). The CE term then is the soft-target
    cross-entropy ``sum_k -y_k log p_k`` (equal to the hard CE for one-hot
    targets), and the smoothing term smooths the soft target the same way
    as a one-hot one.

    It is a drop-in for ``head.loss`` of mmpretrain's ``ClsHead`` /
    ``LinearClsHead``: ``forward`` has the signature of mmpretrain's
    ``CrossEntropyLoss``, and ``weight`` (per sample), ``avg_factor`` and
    ``reduction_override`` reach both terms::

        head=dict(type='LinearClsHead', num_classes=7, in_channels=512,
                  loss=dict(type='POSTERLoss'))

    Args:
        ce_weight (float): Weight of the cross-entropy term. Defaults to 1.0.
        ls_weight (float): Weight of the label-smoothed term.
            Defaults to 2.0.
        label_smooth_val (float): ``eps`` in [0, 1). Defaults to 0.2.
        num_classes (int, optional): Checked against the scores if given.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``.
            Defaults to ``'mean'`` (POSTER averages over the batch).
        loss_weight (float): Multiplies the sum, as in mmpretrain's losses.
            Defaults to 1.0.
    """

    def __init__(self,
                 ce_weight: float = 1.0,
                 ls_weight: float = 2.0,
                 label_smooth_val: float = 0.2,
                 num_classes=None,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__()
        self.ce_weight = ce_weight
        self.ls_weight = ls_weight
        self.loss_weight = loss_weight
        self.num_classes = num_classes
        # Two CE modules because mmpretrain picks hard or soft targets at
        # build time (`use_soft`), while a head passes either at run time.
        self.ce = CrossEntropyLoss(reduction=reduction)
        self.soft_ce = CrossEntropyLoss(use_soft=True, reduction=reduction)
        self.lsce = LabelSmoothLoss(
            label_smooth_val=float(label_smooth_val),
            num_classes=num_classes,
            mode='original',
            reduction=reduction)

    def forward(self,
                cls_score: torch.Tensor,
                label: torch.Tensor,
                weight=None,
                avg_factor=None,
                reduction_override=None,
                **kwargs) -> torch.Tensor:
        """Loss of scores (N, C) against labels (N,), (N, 1) or (N, C)."""
        if cls_score.dim() != 2:
            raise ValueError('POSTERLoss expects scores of shape (N, C), got '
                             f'{tuple(cls_score.shape)}.')
        if self.num_classes is not None and (cls_score.shape[1]
                                             != self.num_classes):
            raise ValueError(f'POSTERLoss was built for {self.num_classes} '
                             f'classes but got scores with '
                             f'{cls_score.shape[1]}.')
        is_index = label.dim() == 1 or (label.dim() == 2
                                        and label.shape[1] == 1)
        if is_index:
            ce_module, ce_label = self.ce, label.view(-1)
        elif label.shape == cls_score.shape:
            ce_module, ce_label = self.soft_ce, label.float()
        else:
            raise ValueError(
                'POSTERLoss expects class indices (N,) or (N, 1), or soft '
                f'targets shaped like the scores {tuple(cls_score.shape)}; '
                f'got {tuple(label.shape)}.')
        common = dict(
            weight=weight,
            avg_factor=avg_factor,
            reduction_override=reduction_override,
            **kwargs)
        ce = ce_module(cls_score, ce_label, **common)
        lsce = self.lsce(cls_score, label, **common)
        return self.loss_weight * (self.ce_weight * ce + self.ls_weight * lsce)
