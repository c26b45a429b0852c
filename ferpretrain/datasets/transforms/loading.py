"""Image loading for FER datasets: files and in-memory arrays alike."""
import logging
from typing import Optional, Sequence, Union

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log

from ferpretrain.registry import TRANSFORMS
from ..small_images import MIN_IMAGE_SIDE, SIZE_CHECKED_KEY, WHAT_TO_DO


_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_TIFF_SIGNATURES = (b'II*\x00', b'MM\x00*')
# What to do about a damaged file; appended to every decoding error.
_FIX_HINT = ('re-extract or re-download it, or remove it and its '
             'annotation')


def _jpeg_is_cut_short(data: bytes) -> bool:
    """True if a JPEG has no end-of-image marker after its image data.

    Some cv2 builds (e.g. 4.10) decode a truncated baseline JPEG without an
    error, filling the missing rows with a flat colour: the marker check
    makes a cut file fail on every build. The header segments are walked
    (an EXIF thumbnail holds its own end marker) up to the first
    start-of-scan; inside scan data 0xFF is always followed by 0x00 or a
    restart marker, so ``FF D9`` after it can only be the real end.
    """
    pos, size = 2, len(data)
    while pos + 4 <= size:
        if data[pos] != 0xFF:
            return False  # not a marker: corrupt, the decoder reports it
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker == 0xD9:  # end of image before any scan
            return False  # no image data: the decoder reports it
        elif marker == 0xDA:  # start of scan
            return data.find(b'\xff\xd9', pos) < 0
        elif 0xD0 <= marker <= 0xD8 or marker == 0x01:  # no length field
            pos += 2
        else:
            pos += 2 + int.from_bytes(data[pos + 2:pos + 4], 'big')
    return True  # the headers run past the end of the file


def _png_is_cut_short(data: bytes) -> bool:
    """True if the chunks of a PNG end before its ``IEND`` chunk."""
    pos, size = len(_PNG_SIGNATURE), len(data)
    while pos + 8 <= size:
        if data[pos + 4:pos + 8] == b'IEND':
            return False
        # length, type, data, CRC
        pos += 12 + int.from_bytes(data[pos:pos + 4], 'big')
    return True


def _to_uint8(img: np.ndarray, where: str) -> np.ndarray:
    """Scale 16-bit samples to 8 bits (65535 -> 255, ``v * 257`` -> ``v``,
    rounded); refuse other sample types."""
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        return ((img.astype(np.uint32) + 128) // 257).astype(np.uint8)
    raise ValueError(f'{where}: unsupported sample type {img.dtype} (8- and '
                     '16-bit images are read); convert it to 8-bit')


def _to_bgr3(img: np.ndarray, where: str,
             background: np.ndarray) -> np.ndarray:
    """Return ``img`` as a ``(H, W, 3)`` array (gray replicated, alpha
    composited over ``background``), or raise naming ``where``."""
    if img.ndim == 2:
        return np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim == 3 and img.shape[2] == 1:
        return np.repeat(img, 3, axis=2)
    if img.ndim == 3 and img.shape[2] == 3:
        return img
    if img.ndim == 3 and img.shape[2] == 4:
        alpha = img[:, :, 3:]
        if (alpha == 255).all():  # opaque: the colours, exactly
            return np.ascontiguousarray(img[:, :, :3])
        alpha = alpha.astype(np.float32) / 255
        out = img[:, :, :3] * alpha + background * (1 - alpha)
        return np.clip(np.round(out), 0, 255).astype(np.uint8)
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
      decoded.

    What every file becomes (with the default ``'cv2'`` backend):

    - grayscale (8-bit PNG, TIFF as JAFFE ships, JPEG) and 1-bit images: the
      gray channel replicated to B, G and R;
    - palette images (PIL mode ``'P'``): the palette colours;
    - 16-bit PNG / TIFF (gray or colour): scaled to 8 bits by ``v / 257``,
      rounded, so that ``65535 -> 255`` and a 16-bit copy of an 8-bit image
      (``v * 257``, as converters write it) gives the 8-bit values back;
    - images with transparency (RGBA, gray + alpha, palette with a
      transparent colour): composited over ``alpha_background``, black by
      default: what a transparent pixel "shows" is undefined (often a stale
      colour under alpha 0), and black matches the zero padding of
      :class:`FERRandomRotate` and of crops that leave the image. Fully
      opaque images keep their colours exactly;
    - JPEG keeps cv2's colour decoding, which applies the EXIF orientation;
      PNG, TIFF and WebP are decoded unchanged (to see their alpha and 16-bit
      samples; their rare EXIF orientation tag is not applied) and converted
      as above.

    Other backends (``'pillow'``, ``'turbojpeg'``, ``'tifffile'``) apply
    their own colour conversion; 16-bit results are still scaled and
    4-channel results composited here.

    A damaged file never loads silently: an empty file, bytes that are not
    an image, and a JPEG or PNG cut short (checked on the bytes: some cv2
    builds decode a truncated JPEG without an error and fill the missing
    rows with a flat colour) raise ``ValueError`` naming the file.

    Images with a side under 16 px are loaded, and reported: ferpretrain's
    datasets count them once at load when reading the image headers is
    cheap (:mod:`ferpretrain.datasets.small_images`) and mark those samples
    ``img_size_checked``; any other sample (a big folder dataset, mmpretrain's
    own datasets) is checked here on the decoded image, at no cost. Such a
    check cannot see the whole dataset, and each DataLoader worker holds its
    own copy of the transform, so it logs a warning at the 1st, 10th, 100th,
    ... small image that one process loads, with the running count, rather
    than one line per image.

    Required Keys:

    - img_path (if ``img`` is absent)
    - img (optional, ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or
      ``(H, W, 4)`` uint8; a 4th channel is alpha, composited as above)
    - img_size_checked (optional): True when the dataset has checked the
      image size already

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
        alpha_background (int | Sequence[int]): What transparent pixels
            are composited over: a gray level 0..255 or a ``(B, G, R)``
            colour. Defaults to 0 (black).

    Raises:
        FileNotFoundError / OSError: If the file cannot be read.
        ValueError: If the file is empty, cut short or cannot be decoded
            as an image, or an image has an unsupported shape or sample
            type. Messages name the file (or the annotation of an in-memory
            image).
    """

    def __init__(self,
                 to_float32: bool = False,
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None,
                 alpha_background: Union[int, Sequence[int]] = 0) -> None:
        self.to_float32 = to_float32
        self.imdecode_backend = imdecode_backend
        self.backend_args = None if backend_args is None else \
            dict(backend_args)
        bg = np.asarray(alpha_background)
        if bg.shape not in ((), (3, )) or not np.issubdtype(
                bg.dtype, np.integer) or bg.min() < 0 or bg.max() > 255:
            raise ValueError('LoadFERImage: alpha_background must be a gray '
                             'level 0..255 or a (B, G, R) colour, got '
                             f'{alpha_background!r}')
        self.alpha_background = alpha_background
        self._background = bg.astype(np.float32)
        # small images met by this copy of the transform (one a process)
        self._num_small = 0
        self._next_report = 1

    def _decode_flag(self, data: bytes) -> str:
        """``'unchanged'`` for formats that may carry alpha or 16-bit
        samples (converted by :func:`_to_bgr3` / :func:`_to_uint8`), else
        ``'color'``."""
        if self.imdecode_backend != 'cv2':
            return 'color'  # pillow's 'unchanged' gives palette indices
        if data.startswith(_PNG_SIGNATURE) or data[:4] in _TIFF_SIGNATURES \
                or (data[:4] == b'RIFF' and data[8:12] == b'WEBP'):
            return 'unchanged'
        return 'color'

    def _read(self, filename: str) -> np.ndarray:
        img_bytes = fileio.get(filename, backend_args=self.backend_args)
        if not img_bytes:
            raise ValueError(f'image file {filename} is empty (0 bytes); '
                             f'{_FIX_HINT}')
        if (img_bytes.startswith(b'\xff\xd8')
                and _jpeg_is_cut_short(img_bytes)) or (
                    img_bytes.startswith(_PNG_SIGNATURE)
                    and _png_is_cut_short(img_bytes)):
            raise ValueError(
                f'truncated image file {filename} ({len(img_bytes)} bytes): '
                'it ends before its end-of-image marker (an interrupted '
                f'download or extraction); {_FIX_HINT}')
        try:
            img = mmcv.imfrombytes(
                img_bytes,
                flag=self._decode_flag(img_bytes),
                backend=self.imdecode_backend)
        except Exception as e:
            raise ValueError(f'cannot decode image file {filename}: '
                             f'{type(e).__name__}: {e}; {_FIX_HINT}') from e
        # cv2 returns None (no exception) for corrupt or non-image bytes
        if img is None:
            raise ValueError(
                f'cannot decode image file {filename} '
                f'({len(img_bytes)} bytes): corrupt or not an image; '
                f'{_FIX_HINT}')
        return _to_uint8(img, filename)

    def transform(self, results: dict) -> dict:
        """Load or adopt the image; see the class docstring."""
        img = results.get('img')
        if isinstance(img, np.ndarray):
            where = f"in-memory image ({results.get('ann_source', '?')})"
            if img.dtype != np.uint8:
                raise ValueError(f'{where}: expected uint8, got {img.dtype}')
        else:
            where = results.get('img_path')
            if not where:
                raise KeyError('LoadFERImage needs results["img"] (an '
                               'array) or results["img_path"]')
            img = self._read(where)
        img = _to_bgr3(img, where, self._background)
        if min(img.shape[:2]) < MIN_IMAGE_SIDE and \
                not results.get(SIZE_CHECKED_KEY):
            self._count_small(where, img.shape[:2], results)
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def _count_small(self, where: str, shape, results: dict) -> None:
        """Count a small image; warn at the 1st, 10th, 100th, ... one."""
        self._num_small += 1
        if self._num_small < self._next_report:
            return
        self._next_report *= 10
        source = results.get('ann_source')
        if source and source not in where:  # in-memory names it already
            where += f' (listed at {source})'
        print_log(
            f'LoadFERImage: {where} is {shape[1]}x{shape[0]} (WxH), a side '
            f'under {MIN_IMAGE_SIDE} px; small images loaded by this '
            f'process so far: {self._num_small} (next report at '
            f'{self._next_report}). {WHAT_TO_DO} ferpretrain datasets '
            'count them all at load with check_image_size=True.',
            logger='current',
            level=logging.WARNING)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}('
                f'to_float32={self.to_float32}, '
                f"imdecode_backend='{self.imdecode_backend}', "
                f'backend_args={self.backend_args}, '
                f'alpha_background={self.alpha_background!r})')
