"""Cropping the annotated face box of whole-picture FER datasets."""
import math

import numpy as np
from mmcv.transforms import BaseTransform

from ferpretrain.registry import TRANSFORMS


@TRANSFORMS.register_module()
class CropFaceBox(BaseTransform):
    """Crop ``results['img']`` to the face box ``results['face_box']``.

    Datasets of whole pictures (e.g. :class:`AffectNet`) give each sample a
    face box ``(x, y, w, h)`` in pixels; put this transform right after
    :class:`LoadFERImage`. The box is enlarged by ``margin`` times its width
    (left and right) and height (top and bottom), then clipped to the
    image, so a box partly outside the image is cropped to its visible part.

    If ``results`` has no ``face_box`` (or it is None), the sample passes
    through unchanged, so that one pipeline serves datasets of pre-cropped
    faces too.

    Required Keys:

    - img
    - face_box (optional): ``(x, y, w, h)``

    Modified Keys:

    - img
    - img_shape

    Args:
        margin (float): Relative margin added on each side of the box
            (``0.1`` adds 10% of the width left and right, 10% of the
            height above and below). Defaults to 0.

    Raises:
        ValueError: If the box is empty or lies wholly outside the image
            (the message names the image and its annotation line).
    """

    def __init__(self, margin: float = 0.) -> None:
        if not isinstance(margin, (int, float)) or margin < 0:
            raise ValueError(
                f'CropFaceBox: margin must be a number >= 0, got {margin!r}')
        self.margin = float(margin)

    def transform(self, results: dict) -> dict:
        """Crop the image to the (enlarged, clipped) face box."""
        box = results.get('face_box')
        if box is None:
            return results
        img = results['img']
        where = results.get('img_path') or 'in-memory image'
        if 'ann_source' in results:
            where += f" ({results['ann_source']})"
        if len(box) != 4:
            raise ValueError(f'{where}: face_box must be (x, y, w, h), got '
                             f'{box!r}')
        x, y, w, h = (float(v) for v in box)
        if not (w > 0 and h > 0):
            raise ValueError(f'{where}: face_box {tuple(box)} (x, y, w, h) '
                             'is empty')
        img_h, img_w = img.shape[:2]
        x0 = x - self.margin * w
        y0 = y - self.margin * h
        x1 = x + w + self.margin * w
        y1 = y + h + self.margin * h
        cx0 = max(0, int(math.floor(x0)))
        cy0 = max(0, int(math.floor(y0)))
        cx1 = min(img_w, int(math.ceil(x1)))
        cy1 = min(img_h, int(math.ceil(y1)))
        if cx1 <= cx0 or cy1 <= cy0:
            raise ValueError(
                f'{where}: face_box {tuple(box)} (x, y, w, h) lies outside '
                f'the {img_w}x{img_h} (WxH) image')
        img = np.ascontiguousarray(img[cy0:cy1, cx0:cx1])
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(margin={self.margin})'
