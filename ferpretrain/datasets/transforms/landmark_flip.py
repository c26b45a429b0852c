"""Horizontal flip of a face image together with its 68 landmarks."""
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from ferpretrain.registry import TRANSFORMS


def _mirror_pairs():
    """The left/right pairs of the iBUG 300-W 68-point scheme (0-based).

    Points are named in image terms, as seen by the viewer: a flip swaps
    the image-left and image-right member of each pair; points on the
    vertical midline (nose bridge 27-30, nose tip 33, lip centres 51, 57,
    62, 66) stay.
    """
    pairs = [(i, 16 - i) for i in range(8)]  # jaw 0-16, chin 8 on the line
    pairs += [(17 + i, 26 - i) for i in range(5)]  # brows 17-21 / 22-26
    pairs += [(31, 35), (32, 34)]  # lower nose 31-35, tip 33
    # Eyes: 36-41 run outer corner, upper lid, inner corner (39), lower lid
    # on the image-left eye; 42-47 run inner corner, upper lid, outer corner
    # (45), lower lid on the image-right eye. Corners and lids pair up.
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    # Outer lip 48-59 from the image-left corner clockwise; inner lip 60-67.
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]
    pairs += [(60, 64), (61, 63), (65, 67)]
    return pairs


def _flip_permutation() -> np.ndarray:
    perm = np.arange(68)
    for a, b in _mirror_pairs():
        perm[a], perm[b] = b, a
    return perm


#: ``flipped[i] = mirrored(original[FLIP_PERMUTATION_68[i]])``: after a
#: horizontal flip, point ``i`` (e.g. 36, the outer corner of the eye on the
#: image's left) is the mirror image of point ``FLIP_PERMUTATION_68[i]`` (45,
#: the outer corner that was on the image's right). An involution.
FLIP_PERMUTATION_68 = _flip_permutation()


def flip_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """Mirror ``(68, 2)`` fraction landmarks horizontally.

    ``x -> 1 - x`` (exact for the ``(column + 0.5) / width`` convention of
    the landmark CSVs) and the iBUG points renumbered by
    :data:`FLIP_PERMUTATION_68`, so that e.g. point 36 is again the outer
    corner of the eye on the image's left.
    """
    landmarks = np.asarray(landmarks)
    if landmarks.shape != (68, 2):
        raise ValueError('flip_landmarks: expected (68, 2) landmarks, got '
                         f'{landmarks.shape}')
    flipped = landmarks[FLIP_PERMUTATION_68].copy()
    flipped[:, 0] = 1 - flipped[:, 0]
    return flipped


@TRANSFORMS.register_module()
class LandmarkRandomFlip(BaseTransform):
    """Flip the image and its 68 landmarks horizontally with ``prob``.

    mmpretrain's ``RandomFlip`` flips only the image, which would leave the
    landmarks of the unflipped face (and the left eye labelled as the right
    one). This flips both: the image with :func:`mmcv.imflip`, the landmarks
    with :func:`flip_landmarks` (``x -> 1 - x``, iBUG left/right points
    swapped). The landmarks must be fractions of the image size, as
    :class:`~ferpretrain.datasets.FaceLandmarkDataset` gives them.

    Required Keys:

    - img
    - gt_landmarks (``(68, 2)``)

    Modified Keys:

    - img
    - gt_landmarks

    Added Keys:

    - flip (bool)
    - flip_direction (``'horizontal'`` or None)

    Args:
        prob (float): Probability of flipping, in [0, 1]. Defaults to 0.5.
    """

    def __init__(self, prob: float = 0.5):
        if not 0 <= prob <= 1:
            raise ValueError(
                f'LandmarkRandomFlip: prob must be in [0, 1], got {prob!r}')
        self.prob = prob

    @cache_randomness
    def _do_flip(self) -> bool:
        return bool(np.random.rand() < self.prob)

    def transform(self, results: dict) -> dict:
        if 'gt_landmarks' not in results:
            raise KeyError(
                'LandmarkRandomFlip needs gt_landmarks (from '
                'FaceLandmarkDataset); to flip an image without landmarks use '
                "dict(type='RandomFlip', direction='horizontal').")
        flip = self._do_flip()
        if flip:
            results['img'] = mmcv.imflip(results['img'], 'horizontal')
            results['gt_landmarks'] = flip_landmarks(
                results['gt_landmarks'])
        results['flip'] = flip
        results['flip_direction'] = 'horizontal' if flip else None
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prob={self.prob})'
