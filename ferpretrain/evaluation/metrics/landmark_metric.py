"""Normalised mean error (NME) of 68-point facial landmarks."""
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from ferpretrain.registry import METRICS

#: iBUG 300-W indices of the outer eye corners (image-left eye, image-right
#: eye): the "inter-ocular" normalisation of 300-W.
OUTER_EYE_CORNERS = (36, 45)


def _to_numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def landmark_nme(pred: np.ndarray,
                 gt: np.ndarray,
                 size: Sequence[float] = (1., 1.),
                 eye_corners: Sequence[int] = OUTER_EYE_CORNERS) -> float:
    """NME of one face, in percent.

    The mean over the points of the distance between predicted and true
    point, divided by the distance between the two true outer eye corners.

    Args:
        pred (np.ndarray): ``(N, 2)`` predicted (x, y).
        gt (np.ndarray): ``(N, 2)`` true (x, y), in the same units.
        size (Sequence[float]): ``(width, height)`` the coordinates are
            multiplied by first: the image size for fractions of it, so
            that distances are in pixels; ``(1, 1)`` for pixel coordinates.
        eye_corners (Sequence[int]): Indices of the normalising points.

    Raises:
        ValueError: If the shapes differ or the eye corners coincide.
    """
    pred, gt = _to_numpy(pred), _to_numpy(gt)
    if pred.shape != gt.shape or pred.ndim != 2 or pred.shape[1] != 2:
        raise ValueError(f'landmark_nme: pred and gt must be the same (N, 2), '
                         f'got {pred.shape} and {gt.shape}')
    scale = np.asarray(size, dtype=np.float64)
    pred, gt = pred * scale, gt * scale
    ocular = np.linalg.norm(gt[eye_corners[0]] - gt[eye_corners[1]])
    if not ocular > 0:
        raise ValueError('landmark_nme: the true eye corners '
                         f'{tuple(eye_corners)} coincide; the face cannot '
                         'be normalised')
    return float(100. * np.linalg.norm(pred - gt, axis=1).mean() / ocular)


@METRICS.register_module()
class LandmarkNME(BaseMetric):
    """Normalised mean error and failure rate of 68-point landmarks.

    Per face: the mean point-to-point distance between ``pred_landmarks``
    and ``gt_landmarks`` divided by the inter-ocular distance (outer eye
    corners, points 36 and 45 of iBUG 300-W, of the true landmarks), in
    percent (:func:`landmark_nme`). Reported over the test set (with the
    default prefix ``'landmark'``):

    - ``landmark/nme``: the mean of the per-face NMEs;
    - ``landmark/failure_rate_10``: the percentage of faces whose NME
      exceeds ``failure_threshold`` (10 %, the usual 300-W threshold for
      the inter-ocular normalisation);
    - ``landmark/nme_<box_source>`` (``nme_detected``, ``nme_fallback``)
      when the samples carry ``box_source`` (pack it as a meta key): the
      labels of ``fallback`` faces, fitted in a box that was not detected,
      are less reliable, so the two are worth reading apart.

    Units: the landmarks are fractions of the image width and height.
    Distances are measured in pixels of the labelled image: x is scaled by
    its width and y by its height, taken from ``ori_shape`` (the image as
    read, on which the labels were computed), else ``img_shape``. For a
    square image the scale cancels in the ratio and fraction space gives
    the same NME; for a non-square one it does not. Without either shape
    the NME is computed in fraction space, with a warning.

    Args:
        failure_threshold (float): NME (percent) above which a face counts
            as a failure. Defaults to 10.
        eye_corners (Sequence[int]): Indices of the normalising points.
            Defaults to ``(36, 45)``.
        collect_device (str): Defaults to 'cpu'.
        prefix (str, optional): Defaults to ``'landmark'``.
    """
    default_prefix = 'landmark'

    def __init__(self,
                 failure_threshold: float = 10.,
                 eye_corners: Sequence[int] = OUTER_EYE_CORNERS,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device, prefix)
        if not failure_threshold > 0:
            raise ValueError('LandmarkNME: failure_threshold must be > 0, got '
                             f'{failure_threshold!r}')
        self.failure_threshold = failure_threshold
        self.eye_corners = tuple(eye_corners)
        self._warned_no_shape = False

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            name = sample.get('img_path', 'unknown image')
            for key in ('pred_landmarks', 'gt_landmarks'):
                if key not in sample:
                    raise KeyError(
                        f'LandmarkNME: no {key} for {name}: evaluate a '
                        'LandmarkRegressor on a FaceLandmarkDataset packed '
                        "with PackInputs(algorithm_keys=('gt_landmarks', ))")
            try:
                nme = landmark_nme(sample['pred_landmarks'],
                                   sample['gt_landmarks'],
                                   self._image_size(sample), self.eye_corners)
            except ValueError as e:
                raise ValueError(f'LandmarkNME: {name}: {e}') from e
            self.results.append((nme, sample.get('box_source')))

    def _image_size(self, sample: dict) -> Sequence[float]:
        shape = sample.get('ori_shape', sample.get('img_shape'))
        if shape is None:
            if not self._warned_no_shape:
                MMLogger.get_current_instance().warning(
                    'LandmarkNME: the samples carry neither ori_shape nor '
                    'img_shape; NME computed on the fractions (exact only '
                    'for square images).')
                self._warned_no_shape = True
            return (1., 1.)
        height, width = shape[:2]
        return (float(width), float(height))

    def compute_metrics(self, results: List) -> dict:
        if not results:
            raise ValueError('LandmarkNME: no sample was evaluated.')
        nme = np.array([r[0] for r in results])
        out = {
            'nme': float(nme.mean()),
            f'failure_rate_{self.failure_threshold:g}':
            float(100. * (nme > self.failure_threshold).mean()),
        }
        sources = np.array([r[1] for r in results], dtype=object)
        for source in sorted({s for s in sources if s is not None}):
            out[f'nme_{source}'] = float(nme[sources == source].mean())
        return out
