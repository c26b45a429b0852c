"""Face detection on video frames: a whole-frame scan now and then, small
windows around the known faces in between.

dlib's HOG detector scans the whole frame at every pyramid level: 22.6 ms
a frame for a 640x480 video on this project's 2-core CPU
(``tools/analysis_tools/benchmark_inferencer.py``, ``--full-scan-intervals
1``), most of the budget of a 30 faces/s stream. A face moves little
from one frame to the next, so :class:`FaceTracker` scans the whole frame
only every ``full_scan_interval`` frames, and on the frames between scans
only a window around each face of the last frame (the face's box grown by
``margin`` of its side on every side): with one whole-frame scan in 10,
detection took 4.5 ms a frame on average in the same benchmark. Each face
goes on to the same landmarks-and-warp path as ever
(:meth:`FaceAligner.align_box
<ferpretrain.utils.face_alignment.FaceAligner.align_box>`).

Choices, and why:

- *A face not found in its window* (it moved too far, turned away, left the
  frame) makes the tracker scan the whole frame at once, on that frame: a
  lost face is never reported missing because of the window.
- *A new face* is found at the next whole-frame scan, up to
  ``full_scan_interval - 1`` frames late (0.36 s at 25 frames/s with the
  default 10); ``full_scan_interval=1`` scans every whole frame (the
  behaviour of still images).
- *One box a face*: of the detections in a window, the one overlapping the
  face's last box most (intersection over union) is taken; a detection
  overlapping another face's new box by more than half is the same face
  seen twice and is dropped.
- *Boxes*: the HOG detector places its boxes on a grid of 8-pixel cells of
  pyramid levels 5/6 apart, and a face often fits two levels about equally
  well (whole-frame scans of consecutive frames may flip between them);
  a window starts the grid elsewhere, so its box may be the other
  level's or a few pixels off. The 5 landmarks that the alignment uses
  stay within 0.05 eye distances of those of the whole-frame boxes on a
  moving real face (``tests/test_utils/test_face_tracking.py`` checks
  it).

Example:
    >>> from ferpretrain.utils.face_alignment import FaceAligner
    >>> from ferpretrain.utils.face_tracking import FaceTracker
    >>> tracker = FaceTracker(FaceAligner(), full_scan_interval=10)
    >>> for frame in frames:  # (H, W, 3) BGR uint8
    ...     boxes = tracker(frame)  # FaceBoxes, largest first
"""
from typing import List, Optional, Tuple

import numpy as np

from .face_alignment import FaceBox

__all__ = ['FaceTracker', 'box_iou', 'DEFAULT_FULL_SCAN_INTERVAL']

#: Frames between two whole-frame scans of the video demos and
#: :meth:`FERInferencer.stream <ferpretrain.apis.FERInferencer.stream>`.
DEFAULT_FULL_SCAN_INTERVAL = 10


def box_iou(a: FaceBox, b: FaceBox) -> float:
    """Intersection over union of two boxes (corners inclusive, as dlib
    gives them)."""
    width = min(a.right, b.right) - max(a.left, b.left) + 1
    height = min(a.bottom, b.bottom) - max(a.top, b.top) + 1
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / float(a.area + b.area - inter)


class FaceTracker:
    """Boxes of the faces of consecutive video frames (see the module
    docstring).

    Args:
        aligner: A :class:`~ferpretrain.utils.face_alignment.FaceAligner`
            (anything with its ``detect(image, region=None)``).
        full_scan_interval (int): Scan the whole frame every this many
            frames (and whenever a face is lost or none is known); 1 scans
            every frame. Defaults to :data:`DEFAULT_FULL_SCAN_INTERVAL`.
        margin (float): How far a window reaches beyond the face's last
            box on each side, as a fraction of the box's side. Defaults to
            0.5 (a window twice the face: room for a move of half a face a
            frame, and for the detector's smallest window, 80 px, around a
            face of 80 px).
        min_iou (float): A detection in a window overlapping the face's
            last box less than this is another face; then the face is
            lost. Defaults to 0.1.

    Attributes:
        full_scans (int): Whole-frame scans so far.
        window_scans (int): Window scans so far.
    """

    def __init__(self,
                 aligner,
                 full_scan_interval: int = DEFAULT_FULL_SCAN_INTERVAL,
                 margin: float = 0.5,
                 min_iou: float = 0.1) -> None:
        if isinstance(full_scan_interval, bool) or not isinstance(
                full_scan_interval, int) or full_scan_interval < 1:
            raise ValueError('full_scan_interval must be an int >= 1, got '
                             f'{full_scan_interval!r}')
        if not margin >= 0:
            raise ValueError(f'margin must be >= 0, got {margin!r}')
        if not 0 <= min_iou <= 1:
            raise ValueError(f'min_iou must be in [0, 1], got {min_iou!r}')
        self.aligner = aligner
        self.full_scan_interval = full_scan_interval
        self.margin = float(margin)
        self.min_iou = float(min_iou)
        self.full_scans = 0
        self.window_scans = 0
        self.reset()

    def reset(self) -> None:
        """Forget the faces: the next frame is scanned whole."""
        self._boxes: List[FaceBox] = []
        self._since_full_scan = 0

    def window(self, box: FaceBox) -> Tuple[int, int, int, int]:
        """The region scanned for ``box``'s face: ``(left, top, right,
        bottom)``, right and bottom exclusive (not clipped)."""
        grow_x = self.margin * (box.right - box.left + 1)
        grow_y = self.margin * (box.bottom - box.top + 1)
        return (int(np.floor(box.left - grow_x)),
                int(np.floor(box.top - grow_y)),
                int(np.ceil(box.right + 1 + grow_x)),
                int(np.ceil(box.bottom + 1 + grow_y)))

    def __call__(self, frame: np.ndarray) -> List[FaceBox]:
        """The faces of ``frame`` (the next frame of the video), largest
        first, as :meth:`FaceAligner.detect` orders them."""
        if (not self._boxes
                or self._since_full_scan + 1 >= self.full_scan_interval):
            return self._full_scan(frame)
        found = self._follow(frame)
        if found is None:
            return self._full_scan(frame)
        self._since_full_scan += 1
        self._boxes = found
        return list(found)

    def _full_scan(self, frame: np.ndarray) -> List[FaceBox]:
        self.full_scans += 1
        self._since_full_scan = 0
        self._boxes = list(self.aligner.detect(frame))
        return list(self._boxes)

    def _follow(self, frame: np.ndarray) -> Optional[List[FaceBox]]:
        """Each known face's new box, or None when one is lost."""
        found: List[FaceBox] = []
        for last in self._boxes:
            self.window_scans += 1
            candidates = self.aligner.detect(frame, region=self.window(last))
            if not candidates:
                return None
            best = max(candidates, key=lambda box: box_iou(box, last))
            if box_iou(best, last) < self.min_iou:
                return None
            if all(box_iou(best, kept) <= 0.5 for kept in found):
                found.append(best)
        return sorted(found, key=lambda b: (-b.area, -b.score))
