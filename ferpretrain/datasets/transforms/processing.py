"""Geometric augmentations used by FER papers."""
import numbers
from typing import Sequence, Union

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from ferpretrain.registry import TRANSFORMS

_INTERPOLATIONS = ('nearest', 'bilinear', 'bicubic', 'area', 'lanczos')


@TRANSFORMS.register_module()
class FERRandomRotate(BaseTransform):
    """Randomly rotate the image by a small angle about its centre.

    The augmentation of APViT (Xue et al., "Vision Transformer with
    Attentive Pooling for Robust Facial Expression Recognition", IEEE TAC
    2022): with probability ``prob`` the image is rotated by an angle drawn
    uniformly from ``[-degree, degree]``, keeping its size (corners are cut,
    the uncovered border is filled with ``pad_val``). The angle comes from
    ``np.random``, which mmengine seeds.

    Required Keys:

    - img (``(H, W)`` or ``(H, W, C)``)

    Modified Keys:

    - img (same shape and dtype)

    Args:
        prob (float): Probability of rotating, in [0, 1]. Defaults to 0.5.
        degree (float): Largest absolute angle in degrees, >= 0. Defaults
            to 6.
        pad_val (int | float | Sequence[number]): Fill value of the border,
            one number or one per channel. Defaults to 0.
        interpolation (str): One of ``'nearest'``, ``'bilinear'``,
            ``'bicubic'``, ``'area'``, ``'lanczos'``. Defaults to
            ``'bilinear'``.
    """

    def __init__(self,
                 prob: float = 0.5,
                 degree: float = 6.,
                 pad_val: Union[int, float, Sequence[float]] = 0,
                 interpolation: str = 'bilinear') -> None:
        if isinstance(prob, bool) or not isinstance(prob, numbers.Real) \
                or not 0 <= prob <= 1:
            raise ValueError(f'FERRandomRotate: prob must be a number in '
                             f'[0, 1], got {prob!r}')
        if isinstance(
                degree,
                bool) or not isinstance(degree, numbers.Real) or degree < 0:
            raise ValueError(f'FERRandomRotate: degree must be a number '
                             f'>= 0 (the largest |angle|), got {degree!r}')
        if isinstance(pad_val, numbers.Real) and not isinstance(pad_val, bool):
            pad = float(pad_val)
        elif isinstance(pad_val, Sequence) and not isinstance(
                pad_val, str) and len(pad_val) > 0 and all(
                    isinstance(v, numbers.Real) for v in pad_val):
            pad = tuple(float(v) for v in pad_val)
        else:
            raise ValueError(f'FERRandomRotate: pad_val must be a number or '
                             f'a sequence of numbers, got {pad_val!r}')
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(f'FERRandomRotate: interpolation must be one '
                             f'of {_INTERPOLATIONS}, got {interpolation!r}')
        self.prob = float(prob)
        self.degree = float(degree)
        self.pad_val = pad_val
        self._border = pad
        self.interpolation = interpolation

    @cache_randomness
    def _random_angle(self) -> float:
        """Return the angle in degrees, or 0. when no rotation applies."""
        if np.random.rand() >= self.prob:
            return 0.
        return float(np.random.uniform(-self.degree, self.degree))

    def transform(self, results: dict) -> dict:
        """Rotate ``results['img']`` (see the class docstring)."""
        angle = self._random_angle()
        if angle == 0.:
            return results
        img = results['img']
        channels = img.shape[2] if img.ndim == 3 else 1
        if isinstance(self._border, tuple):
            if len(self._border) != channels:
                raise ValueError(
                    f'FERRandomRotate: pad_val {self.pad_val} has '
                    f'{len(self._border)} values, the image {channels} '
                    'channels')
            border = self._border
        else:
            # cv2 reads a lone number as (v, 0, 0, 0): only the first
            # channel would get pad_val, so give one value a channel.
            border = (self._border, ) * channels
        results['img'] = mmcv.imrotate(
            img, angle, border_value=border, interpolation=self.interpolation)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'degree={self.degree}, pad_val={self.pad_val}, '
                f"interpolation='{self.interpolation}')")


@TRANSFORMS.register_module()
class AddGaussianNoise(BaseTransform):
    """Add pixel-wise Gaussian noise, clipped to the image's value range.

    POSTER's ``add_gaussian_noise`` (zczcwh/POSTER,
    ``data_preprocessing/dataset_raf.py``): ``N(mean, std)`` noise drawn
    independently for every pixel and channel, added to the image, clipped
    to [0, 255] and cast back to ``uint8``. POSTER's ``var=30`` is
    ``std=sqrt(30)``. POSTER applies it, or a flip, to half of the training
    images (``RandomApply`` + ``RandomChoice`` in its config).

    Required Keys:

    - img (``uint8``)

    Modified Keys:

    - img (same shape, ``uint8``)

    Args:
        std (float): Standard deviation in pixel values, >= 0. Defaults to
            ``sqrt(30)`` (POSTER).
        mean (float): Mean of the noise. Defaults to 0.
        prob (float): Probability of adding noise. Defaults to 1.
    """

    def __init__(self,
                 std: float = 30**0.5,
                 mean: float = 0.,
                 prob: float = 1.):
        if std < 0:
            raise ValueError(f'AddGaussianNoise: std must be >= 0, got {std}.')
        if not 0 <= prob <= 1:
            raise ValueError(
                f'AddGaussianNoise: prob must be in [0, 1], got {prob}.')
        self.std = std
        self.mean = mean
        self.prob = prob

    @cache_randomness
    def _apply(self) -> bool:
        return np.random.rand() < self.prob

    def transform(self, results: dict) -> dict:
        if not self._apply():
            return results
        img = results['img']
        if img.dtype != np.uint8:
            raise TypeError('AddGaussianNoise: expects a uint8 image (put it '
                            f'before normalisation), got {img.dtype}.')
        noise = np.random.normal(self.mean, self.std, img.shape)
        results['img'] = np.clip(img + noise, 0, 255).astype(np.uint8)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(std={self.std}, mean={self.mean}, '
                f'prob={self.prob})')
