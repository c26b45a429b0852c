"""Image loading for FER datasets: files and in-memory arrays alike."""
from typing import Optional

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform

from ferpretrain.registry import TRANSFORMS


def _to_bgr3(img: np.ndarray, where: str) -> np.ndarray:
    """Return ``img`` as a ``(H, W, 3)`` array (gray replicated, alpha
    dropped), or raise naming ``where``."""
    if img.ndim == 2:
        return np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim == 3 and img.shape[2] == 1:
        return np.repeat(img, 3, axis=2)
    if img.ndim == 3 and img.shape[2] == 3:
        return img
    if img.ndim == 3 and img.shape[2] == 4:
        return np.ascontiguousarray(img[:, :, :3])
    raise ValueError(f'{where}: expected a (H, W), (H, W, 1), (H, W, 3) or '
                     f'(H, W, 4) image, got shape {img.shape}')


@TRANSFORMS.register_module()
class LoadFERImage(BaseTransform):
    """Load a face image as a 3-channel uint8 BGR array.

    FER datasets come both as image files (RAF-DB, the FER2013 folder copy)
    and as pixels decoded from an annotation file (``fer2013.csv``), and
    many are grayscale. This transform serves both, so that one pipeline
    fits every dataset, and always yields 3 channels so that RGB-pretrained
    backbones and 3-channel normalisation apply unchanged:

    - if ``results['img']`` is already an ``np.ndarray`` it is used (and not
      re-read);
    - otherwise ``results['img_path']`` is read through mmengine's file
      backends (local or remote, like mmcv's ``LoadImageFromFile``) and
      decoded in colour, which replicates a grayscale file to 3 channels.

    Required Keys:

    - img_path (if ``img`` is absent)
    - img (optional, ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or
      ``(H, W, 4)`` uint8)

    Modified Keys:

    - img (``(H, W, 3)`` BGR, uint8 or float32)
    - img_shape (``(H, W)``)
    - ori_shape (``(H, W)``)

    Args:
        to_float32 (bool): Convert the image to float32 (values stay in
            0..255). Defaults to False (uint8).
        imdecode_backend (str): Backend of :func:`mmcv.imfrombytes`
            (``'cv2'``, ``'pillow'``, ``'turbojpeg'``, ``'tifffile'``).
            Defaults to ``'cv2'``.
        backend_args (dict, optional): Arguments of the file backend (see
            :func:`mmengine.fileio.get`). Defaults to None.

    Raises:
        FileNotFoundError / OSError: If the file cannot be read.
        ValueError: If the file cannot be decoded as an image, or an
            in-memory image has an unsupported shape or dtype. Messages name
            the file.
    """

    def __init__(self,
                 to_float32: bool = False,
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        self.to_float32 = to_float32
        self.imdecode_backend = imdecode_backend
        self.backend_args = None if backend_args is None else \
            dict(backend_args)

    def _read(self, filename: str) -> np.ndarray:
        img_bytes = fileio.get(filename, backend_args=self.backend_args)
        try:
            img = mmcv.imfrombytes(
                img_bytes, flag='color', backend=self.imdecode_backend)
        except Exception as e:
            raise ValueError(f'cannot decode image file {filename}: '
                             f'{type(e).__name__}: {e}') from e
        # cv2 returns None (no exception) for truncated or non-image bytes
        if img is None:
            raise ValueError(
                f'cannot decode image file {filename} '
                f'({len(img_bytes)} bytes): corrupt or not an image')
        return img

    def transform(self, results: dict) -> dict:
        """Load or adopt the image; see the class docstring."""
        img = results.get('img')
        if isinstance(img, np.ndarray):
            where = f"in-memory image ({results.get('ann_source', '?')})"
            if img.dtype != np.uint8:
                raise ValueError(f'{where}: expected uint8, got {img.dtype}')
            img = _to_bgr3(img, where)
        else:
            filename = results.get('img_path')
            if not filename:
                raise KeyError('LoadFERImage needs results["img"] (an '
                               'array) or results["img_path"]')
            img = _to_bgr3(self._read(filename), filename)
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}('
                f'to_float32={self.to_float32}, '
                f"imdecode_backend='{self.imdecode_backend}', "
                f'backend_args={self.backend_args})')
