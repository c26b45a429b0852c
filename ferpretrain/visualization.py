"""Drawing expression predictions on images and video frames.

:func:`draw_predictions` draws what :class:`~ferpretrain.apis.FERInferencer`
returns for one image or frame: each face's box in its class colour, the
label with its probability above the box, dlib's 5 landmarks, and a panel
beside the box with one bar a class (every class, head order, the label's
row marked), so that a close second class is seen at a glance.
:func:`draw_fps` adds a frame rate. OpenCV only: no display is needed, and
the output is a BGR array ready for ``cv2.imwrite`` or a ``VideoWriter``.
"""
import os
import os.path as osp
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = ['class_color', 'draw_predictions', 'draw_fps', 'save_image']

# Distinct colours (BGR), one a class index; repeats after 10 classes.
_PALETTE = ((75, 25, 230), (75, 180, 60), (25, 225, 255), (200, 130, 0),
            (48, 130, 245), (180, 30, 145), (240, 240, 70), (230, 50, 240),
            (60, 245, 210), (128, 128, 128))
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_WHITE = (255, 255, 255)


def class_color(index: Optional[int]) -> Tuple[int, int, int]:
    """The BGR colour of class ``index`` (gray for None)."""
    if index is None:
        return (128, 128, 128)
    return _PALETTE[int(index) % len(_PALETTE)]


def _as_bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return image.copy()


def _text(canvas, text, org, scale, color=_WHITE, thickness=1):
    cv2.putText(canvas, text, (int(org[0]), int(org[1])), _FONT, scale,
                color, thickness, cv2.LINE_AA)


def _shade(canvas: np.ndarray, x: int, y: int, w: int, h: int,
           keep: float = 0.35) -> None:
    """Darken a rectangle (clipped to the canvas) so text over it reads."""
    height, width = canvas.shape[:2]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    if x1 > x0 and y1 > y0:
        region = canvas[y0:y1, x0:x1]
        region[...] = (region * keep).astype(np.uint8)


def _label_caption(canvas, face, box, unit, color) -> None:
    x1, y1, x2, _ = box
    caption = f'{face["label"]} {face["score"]:.0%}'
    scale = 0.5 * unit
    (tw, th), base = cv2.getTextSize(caption, _FONT, scale, unit)
    top = y1 - th - base - 2 * unit
    if top < 0:  # no room above the box: inside its top edge
        top = y1
    cv2.rectangle(canvas, (x1, top), (x1 + tw + 4 * unit,
                                      top + th + base + 2 * unit), color,
                  cv2.FILLED)
    _text(canvas, caption, (x1 + 2 * unit, top + th + unit), scale,
          (0, 0, 0), unit)


def _score_panel(canvas, face, classes, box, unit) -> None:
    """One row a class: name, a bar as long as its probability, the
    percentage; beside the box, inside the canvas where it fits."""
    names = list(classes) if classes is not None else list(face['scores'])
    scale = 0.4 * unit
    name_w = max(cv2.getTextSize(n, _FONT, scale, 1)[0][0] for n in names)
    (pct_w, th), base = cv2.getTextSize('100%', _FONT, scale, 1)
    pad, bar_w = 3 * unit, 50 * unit
    row_h = th + base + 2 * unit
    width = pad + name_w + pad + bar_w + pad + pct_w + pad
    height = 2 * pad + row_h * len(names)
    canvas_h, canvas_w = canvas.shape[:2]
    x1, y1, x2, _ = box
    if x2 + pad + width <= canvas_w:
        x = x2 + pad
    elif x1 - pad - width >= 0:
        x = x1 - pad - width
    else:
        x = max(0, min(x2 + pad, canvas_w - width))
    y = max(0, min(y1, canvas_h - height))
    _shade(canvas, x, y, width, height)
    for row, name in enumerate(names):
        prob = float(face['scores'][name])
        top = y + pad + row * row_h
        chosen = name == face['label']
        _text(canvas, name, (x + pad, top + th + unit), scale,
              _WHITE if chosen else (200, 200, 200), 2 if chosen else 1)
        bx = x + pad + name_w + pad
        color = class_color(names.index(name))
        cv2.rectangle(canvas, (bx, top + unit),
                      (bx + bar_w, top + row_h - unit), (90, 90, 90), 1)
        if prob > 0:
            cv2.rectangle(canvas, (bx, top + unit),
                          (bx + max(1, int(round(prob * bar_w))),
                           top + row_h - unit), color, cv2.FILLED)
        _text(canvas, f'{prob:.0%}', (bx + bar_w + pad, top + th + unit),
              scale)


def draw_predictions(image: np.ndarray,
                     faces: Sequence[dict],
                     classes: Optional[Sequence[str]] = None,
                     min_side: int = 0,
                     score_bars: bool = True,
                     landmarks: bool = True) -> np.ndarray:
    """Draw the faces of one inferencer result on a copy of ``image``.

    Args:
        image (np.ndarray): The image or frame the faces were found in,
            ``(H, W, 3)`` BGR or ``(H, W)`` gray uint8.
        faces (Sequence[dict]): The result's ``'faces'`` (``box``,
            ``label``, ``label_index``, ``score``, ``scores``, optionally
            ``landmarks``).
        classes (Sequence[str], optional): The class order of the bars.
            Defaults to the order of each face's ``scores``.
        min_side (int): Enlarge the canvas so that its shorter side is at
            least this (text stays legible on small images, e.g. aligned
            crops); 0 (default) keeps the size, as a video needs.
        score_bars (bool): Draw the panel of class bars. Defaults to True.
        landmarks (bool): Draw dlib's 5 points. Defaults to True.

    Returns:
        np.ndarray: ``(H', W', 3)`` BGR uint8; ``H' = H`` unless enlarged.
    """
    canvas = _as_bgr(image)
    zoom = 1.0
    if min_side and min(canvas.shape[:2]) < min_side:
        zoom = min_side / min(canvas.shape[:2])
        canvas = cv2.resize(canvas, None, fx=zoom, fy=zoom,
                            interpolation=cv2.INTER_LINEAR)
    # Line and text size grow with the canvas: 1 up to about 500 pixels.
    unit = max(1, int(round(min(canvas.shape[:2]) / 500)))
    for face in faces:
        box = [int(round(v * zoom)) for v in face['box']]
        color = class_color(face.get('label_index'))
        cv2.rectangle(canvas, (box[0], box[1]), (box[2] - 1, box[3] - 1),
                      color, 2 * unit)
        if landmarks and face.get('landmarks') is not None:
            for x, y in face['landmarks']:
                cv2.circle(canvas, (int(round(x * zoom)),
                                    int(round(y * zoom))), 2 * unit,
                           (0, 255, 0), cv2.FILLED, cv2.LINE_AA)
        _label_caption(canvas, face, box, unit, color)
        if score_bars:
            _score_panel(canvas, face, classes, box, unit)
    return canvas


def draw_fps(canvas: np.ndarray, fps: float) -> np.ndarray:
    """Write ``fps`` in the top-left corner of ``canvas`` (in place)."""
    unit = max(1, int(round(min(canvas.shape[:2]) / 500)))
    text = f'{fps:.1f} fps'
    scale = 0.6 * unit
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, unit)
    _shade(canvas, 0, 0, tw + 8 * unit, th + base + 8 * unit)
    _text(canvas, text, (4 * unit, 4 * unit + th), scale, _WHITE, unit)
    return canvas


def save_image(path: str, image: np.ndarray) -> None:
    """Write ``image`` to ``path`` (folders created; the format from the
    extension, JPEG at quality 95), whatever characters the path holds.

    Raises:
        ValueError: OpenCV cannot encode that format.
    """
    ext = osp.splitext(path)[1].lower() or '.png'
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if ext in ('.jpg',
                                                       '.jpeg') else []
    ok, data = cv2.imencode(ext, image, params)
    if not ok:
        raise ValueError(f'{path}: OpenCV cannot write {ext} images')
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    # Encoded, then written as bytes: cv2.imwrite fails on non-ASCII paths
    # on some systems.
    with open(path, 'wb') as f:
        f.write(data.tobytes())
