"""Train a 68-landmark regressor (MobileFaceNet's head) with the mmengine
runner.

POSTER and POSTER V2 freeze a MobileFaceNet trained to regress 68 facial
landmarks and use its feature maps. :class:`LandmarkRegressor` trains that
network through the standard ``tools/train.py`` / ``tools/test.py``: images
in, ``(B, 136)`` landmark fractions out, compared with the labels of a
:class:`~ferpretrain.datasets.FaceLandmarkDataset`; the checkpoint's
``backbone.*`` weights are then what a frozen ``MobileFaceNet`` loads
(``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``).
"""
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmpretrain.structures import DataSample

from ferpretrain.registry import MODELS
from ..utils.helpers import is_pretrained
from ..utils.scope import builds_in_mmpretrain_scope

#: Landmarks, and values of the landmark vector ``x0, y0, ..., x67, y67``.
NUM_LANDMARKS = 68
NUM_OUTPUTS = 2 * NUM_LANDMARKS

#: Losses :class:`LandmarkRegressor` computes with ``torch.nn.functional``.
LOSS_TYPES = ('smooth_l1', 'l1', 'mse')


@MODELS.register_module()
@builds_in_mmpretrain_scope
class LandmarkRegressor(BaseModel):
    """A backbone whose last output is the 136 landmark values, and a loss.

    Modes of :meth:`forward` (mmengine's convention):

    - ``'tensor'``: the ``(B, 136)`` landmark vector ``x0, y0, ...``;
    - ``'loss'``: ``dict(loss=...)`` against each data sample's
      ``gt_landmarks`` (``(68, 2)`` fractions of the image width and
      height, packed by ``PackInputs(algorithm_keys=('gt_landmarks', ))``);
    - ``'predict'``: the data samples (new ones if none are given) with
      ``pred_landmarks``, a ``(68, 2)`` float tensor in the same units.

    Loss: the mean over the 136 values of the smooth L1 loss by default.
    Landmark regression trains better with L1-type losses than with L2
    (Feng et al., "Wing Loss", CVPR 2018): L2 lets the few large errors
    dominate, and here those are mostly label noise (the labels are dlib's
    predictions, and the faces of ``fallback`` boxes were never detected).
    The quadratic zone of smooth L1 below ``loss_beta`` only smooths the
    gradient at zero. The values are fractions of the image, so
    ``loss_beta`` must be small: PyTorch's default ``beta=1`` would make
    every error (all far below 1) quadratic, i.e. an L2 loss. The default
    0.01 is half a pixel of a 48-pixel face. mmpretrain registers no L1 or
    smooth L1 loss, hence ``torch.nn.functional`` and ``loss_type``.

    Output initialisation: MobileFaceNet's head ends in a BatchNorm1d(136),
    which upstream starts as the identity, so the first predictions are
    spread like N(0, 1) around 0 while the targets sit around 0.5 with a
    spread of a few hundredths. Only that BatchNorm's bias can move the
    mean (in training mode it removes any offset the layers before it
    produce), one learning-rate step at a time, which costs a short run
    hundreds of iterations: on FER2013 the smooth L1 loss after 150
    iterations was 0.348 from the identity and 0.056 from ``output_init=
    (0.5, 0.1)``, the default (bias 0.5: the image centre; scale 0.1: a
    tenth of the image). It is applied in :meth:`init_weights`, unless the
    weights come from a ``Pretrained`` init_cfg (of the model or the
    backbone), which it must not overwrite.

    Args:
        backbone (dict): Config of a backbone returning a tuple whose last
            element is ``(B, 136)``: ``dict(type='MobileFaceNet',
            with_landmark_head=True, input_size=...)``.
        data_preprocessor (dict, optional): Defaults to
            ``dict(type='ClsDataPreprocessor')`` (mean/std normalisation,
            BGR -> RGB), the type the FER classifiers use, so that the
            landmark branch can be trained on the very tensor they feed it.
        loss_type (str): ``'smooth_l1'`` (default), ``'l1'`` or ``'mse'``.
        loss_beta (float): Threshold of ``'smooth_l1'`` in fraction units.
            Defaults to 0.01.
        loss_weight (float): Multiplies the loss. Defaults to 1.
        output_init (tuple[float, float], optional): ``(bias, scale)`` the
            backbone's final ``landmark_head.bn`` (BatchNorm1d) starts
            from; None keeps the backbone's own initialisation. Defaults to
            ``(0.5, 0.1)``.
        init_cfg (dict, optional): Initialisation config.

    Examples:
        >>> model = MODELS.build(dict(
        ...     type='LandmarkRegressor',
        ...     backbone=dict(type='MobileFaceNet', with_landmark_head=True,
        ...                   input_size=64)))
        >>> model(torch.randn(2, 3, 64, 64), mode='tensor').shape
        torch.Size([2, 136])
    """

    def __init__(self,
                 backbone: dict,
                 data_preprocessor: Optional[dict] = None,
                 loss_type: str = 'smooth_l1',
                 loss_beta: float = 0.01,
                 loss_weight: float = 1.0,
                 output_init: Optional[Tuple[float, float]] = (0.5, 0.1),
                 init_cfg: Optional[dict] = None):
        if isinstance(data_preprocessor, dict) or data_preprocessor is None:
            data_preprocessor = dict(data_preprocessor or {})
            data_preprocessor.setdefault('type', 'ClsDataPreprocessor')
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if loss_type not in LOSS_TYPES:
            raise ValueError(f'LandmarkRegressor: loss_type must be one of '
                             f'{LOSS_TYPES}, got {loss_type!r}.')
        if loss_type == 'smooth_l1' and not loss_beta > 0:
            raise ValueError('LandmarkRegressor: loss_beta must be > 0, got '
                             f'{loss_beta!r}.')
        self.loss_type = loss_type
        self.loss_beta = loss_beta
        self.loss_weight = loss_weight
        self.backbone = MODELS.build(backbone)
        if getattr(self.backbone, 'with_landmark_head', True) is False:
            raise ValueError(
                'LandmarkRegressor: the backbone builds no landmark head; set '
                'with_landmark_head=True in its config.')
        if output_init is not None:
            if len(output_init) != 2:
                raise ValueError('LandmarkRegressor: output_init must be '
                                 f'(bias, scale), got {output_init!r}.')
            if not isinstance(self._output_bn(), torch.nn.BatchNorm1d):
                raise ValueError(
                    'LandmarkRegressor: output_init needs a backbone whose '
                    'landmark_head ends in a BatchNorm1d `bn` '
                    '(MobileFaceNet); set output_init=None for others.')
        self.output_init = output_init

    def _output_bn(self):
        head = getattr(self.backbone, 'landmark_head', None)
        return getattr(head, 'bn', None)

    def init_weights(self):
        """The backbone's initialisation, then ``output_init`` (see the
        class docstring) unless a ``Pretrained`` init_cfg loaded weights."""
        super().init_weights()
        if self.output_init is None or is_pretrained(
                self.init_cfg) or is_pretrained(
                    getattr(self.backbone, 'init_cfg', None)):
            return
        bias, scale = self.output_init
        bn = self._output_bn()
        with torch.no_grad():
            bn.bias.fill_(bias)
            bn.weight.fill_(scale)

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        if mode == 'tensor':
            return self.regress(inputs)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'LandmarkRegressor: invalid mode "{mode}"; '
                           "expected 'tensor', 'loss' or 'predict'.")

    def extract_feat(self, inputs: torch.Tensor) -> tuple:
        """The backbone's outputs: selected maps, then ``(B, 136)``."""
        return self.backbone(inputs)

    def regress(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` images -> ``(B, 136)`` ``x0, y0, ...`` values."""
        out = self.extract_feat(inputs)[-1]
        if out.dim() != 2 or out.shape[1] != NUM_OUTPUTS:
            raise ValueError(
                'LandmarkRegressor: the backbone\'s last output must be '
                f'(B, {NUM_OUTPUTS}) landmark values, got {tuple(out.shape)}.')
        return out

    def loss(self, inputs: torch.Tensor,
             data_samples: Sequence[DataSample]) -> dict:
        """``dict(loss=...)``: the loss between predicted and labelled
        landmarks (see the class docstring)."""
        pred = self.regress(inputs)
        target = self._stack_targets(data_samples, len(pred)).to(pred)
        if self.loss_type == 'smooth_l1':
            loss = F.smooth_l1_loss(pred, target, beta=self.loss_beta)
        elif self.loss_type == 'l1':
            loss = F.l1_loss(pred, target)
        else:
            loss = F.mse_loss(pred, target)
        return dict(loss=self.loss_weight * loss)

    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[Sequence[DataSample]] = None
                ) -> List[DataSample]:
        """The data samples with ``pred_landmarks`` ``(68, 2)`` set."""
        pred = self.regress(inputs).detach().view(-1, NUM_LANDMARKS, 2)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(len(pred))]
        for sample, points in zip(data_samples, pred):
            sample.set_field(points, 'pred_landmarks')
        return list(data_samples)

    @staticmethod
    def _stack_targets(data_samples: Optional[Sequence[DataSample]],
                       batch_size: int) -> torch.Tensor:
        if data_samples is None or len(data_samples) != batch_size:
            raise ValueError(
                'LandmarkRegressor: the loss needs one data sample with '
                'gt_landmarks per image, got '
                f'{None if data_samples is None else len(data_samples)} for '
                f'{batch_size} images.')
        targets = []
        for sample in data_samples:
            if 'gt_landmarks' not in sample:
                raise KeyError(
                    'LandmarkRegressor: a data sample has no gt_landmarks '
                    f"(image {sample.get('img_path', 'unknown')}); pack them "
                    "with dict(type='PackInputs', algorithm_keys="
                    "('gt_landmarks', )).")
            targets.append(_as_points(sample.gt_landmarks, sample))
        return torch.stack(targets).flatten(1)


def _as_points(value: Union[np.ndarray, torch.Tensor],
               sample: DataSample) -> torch.Tensor:
    points = torch.as_tensor(np.asarray(value) if not isinstance(
        value, torch.Tensor) else value, dtype=torch.float32)
    if points.shape != (NUM_LANDMARKS, 2):
        raise ValueError(
            f'LandmarkRegressor: gt_landmarks of image '
            f"{sample.get('img_path', 'unknown')} have shape "
            f'{tuple(points.shape)}, expected ({NUM_LANDMARKS}, 2).')
    return points
