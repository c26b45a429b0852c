"""Fixes for known bugs of the pinned OpenMMLab releases, applied on import.

Each fix is installed only where the bug shows, says what it fixes, and is
tested against the behaviour it restores.
"""
import mmcv
import mmcv.image
import mmcv.image.photometric
import numpy as np
from PIL import Image

try:
    import cv2
except ImportError:  # pragma: no cover - opencv is a requirement
    cv2 = None


def adjust_hue(img: np.ndarray, hue_factor: float, backend=None):
    """:func:`mmcv.adjust_hue` that also works with numpy 2.

    mmcv 2.2.0 shifts the hue channel by ``np.uint8(hue_factor * 255)``,
    counting on numpy 1 to wrap negative values; numpy 2 raises
    ``OverflowError: Python integer -16 out of bounds for uint8`` instead.
    So every ``ColorJitter(hue=...)`` (APViT's augmentation) crashed on about
    half of its draws. The shift here is the same modulo 256 (numpy 1's
    result), in the same HSV space of each backend.

    Args and returns as :func:`mmcv.adjust_hue`.
    """
    if backend is None:
        backend = mmcv.image.photometric.imread_backend
    if backend not in ('cv2', 'pillow'):
        raise ValueError(f'backend: {backend} is not supported. Supported '
                         "backends are 'cv2', 'pillow'")
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f'hue_factor:{hue_factor} is not in [-0.5, 0.5].')
    if not (isinstance(img, np.ndarray) and img.ndim in (2, 3)):
        raise TypeError('img should be ndarray with dim=[2 or 3].')
    shift = np.uint8(int(hue_factor * 255) % 256)
    if backend == 'pillow':
        assert img.dtype == np.uint8, 'Pillow backend only support uint8 type'
        pil_image = Image.fromarray(img[..., ::-1], mode='RGB')
        h, s, v = pil_image.convert('HSV').split()
        np_h = np.array(h, dtype=np.uint8) + shift  # wraps around
        h = Image.fromarray(np_h, 'L')
        out = Image.merge('HSV', (h, s, v)).convert('RGB')
        return np.array(out, dtype=img.dtype)[..., ::-1]
    dtype = img.dtype
    hsv = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL)
    hsv[..., 0] += shift  # uint8: wraps around
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL).astype(dtype)


def _mmcv_adjust_hue_overflows() -> bool:
    try:
        mmcv.image.photometric.adjust_hue(
            np.zeros((1, 1, 3), np.uint8), -0.1, backend='cv2')
    except OverflowError:
        return True
    return False


def install_mmcv_fixes() -> None:
    """Replace mmcv's ``adjust_hue`` where it fails on negative factors
    (numpy 2); mmpretrain's ``ColorJitter`` calls ``mmcv.adjust_hue``."""
    if mmcv.adjust_hue is adjust_hue or not _mmcv_adjust_hue_overflows():
        return
    mmcv.adjust_hue = adjust_hue
    mmcv.image.adjust_hue = adjust_hue
    mmcv.image.photometric.adjust_hue = adjust_hue
