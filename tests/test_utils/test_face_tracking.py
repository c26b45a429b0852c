"""The video face tracker: when it scans the whole frame, what it returns,
and that its boxes on a real moving face match whole-frame detection."""
import os.path as osp
import sys

import numpy as np
import pytest

from ferpretrain.utils.face_alignment import FaceAligner, FaceBox
from ferpretrain.utils.face_tracking import FaceTracker, box_iou

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from test_face_alignment import face_image  # noqa: E402


class ScriptedDetector:
    """A detector whose answers are given per frame (frames are ints):
    ``faces[frame]`` is the list of boxes in the whole frame; a window scan
    returns those whose centre lies in the window. Records each call."""

    def __init__(self, faces):
        self.faces = faces
        self.calls = []

    def detect(self, frame, region=None):
        self.calls.append((frame, region))
        boxes = self.faces[frame]
        if region is None:
            return list(boxes)
        left, top, right, bottom = region
        return [
            b for b in boxes if left <= (b.left + b.right) / 2 < right
            and top <= (b.top + b.bottom) / 2 < bottom
        ]

    def kinds(self):
        return ['full' if region is None else 'window'
                for _, region in self.calls]


def box(x, y, side=80, score=1.0):
    return FaceBox(x, y, x + side - 1, y + side - 1, score)


def test_whole_frame_every_interval_windows_in_between():
    detector = ScriptedDetector([[box(100 + 4 * i, 50)] for i in range(7)])
    tracker = FaceTracker(detector, full_scan_interval=3)
    found = [tracker(i) for i in range(7)]
    assert detector.kinds() == ['full', 'window', 'window'] * 2 + ['full']
    assert found == [[box(100 + 4 * i, 50)] for i in range(7)]
    assert (tracker.full_scans, tracker.window_scans) == (3, 4)
    # The window is the last box grown by half its side on every side.
    assert detector.calls[1][1] == (60, 10, 220, 170)


def test_interval_one_scans_every_whole_frame():
    detector = ScriptedDetector([[box(100, 50)]] * 4)
    tracker = FaceTracker(detector, full_scan_interval=1)
    for i in range(4):
        tracker(i)
    assert detector.kinds() == ['full'] * 4


def test_a_lost_face_is_searched_in_the_whole_frame_at_once():
    # Frame 2: the face jumps out of its window; frame 3: it is gone.
    detector = ScriptedDetector([[box(100, 50)], [box(104, 50)],
                                 [box(400, 300)], [], [], [box(10, 10)]])
    tracker = FaceTracker(detector, full_scan_interval=10)
    found = [tracker(i) for i in range(6)]
    assert found == [[box(100, 50)], [box(104, 50)], [box(400, 300)], [],
                     [], [box(10, 10)]]
    # Frame 2 and 3: a window, then the whole frame; with no face known,
    # every frame is scanned whole.
    assert detector.kinds() == [
        'full', 'window', 'window', 'full', 'window', 'full', 'full', 'full'
    ]


def test_another_face_in_the_window_is_not_the_tracked_one():
    # Frame 1: the tracked face vanished, a different face sits at the
    # window's edge (overlap under min_iou): lost, so a whole-frame scan.
    detector = ScriptedDetector([[box(100, 100)], [box(150, 150)]])
    tracker = FaceTracker(detector, full_scan_interval=10, min_iou=0.1)
    assert box_iou(box(100, 100), box(150, 150)) < 0.1
    assert tracker(0) == [box(100, 100)]
    assert tracker(1) == [box(150, 150)]
    assert detector.kinds() == ['full', 'window', 'full']


def test_each_face_keeps_its_box_and_duplicates_are_dropped():
    big, small = box(300, 60, side=120), box(40, 50)
    overlapping = box(44, 52)
    detector = ScriptedDetector([[big, small], [big, small, overlapping],
                                 [small, big]])
    tracker = FaceTracker(detector, full_scan_interval=10)
    assert tracker(0) == [big, small]
    # Two windows; each takes the detection overlapping its face most.
    assert tracker(1) == [big, small]
    assert tracker(2) == [big, small]  # largest first
    assert detector.kinds() == ['full'] + ['window'] * 4
    # Two known faces found as one: the second is dropped, not doubled.
    twin = ScriptedDetector([[small, overlapping], [small]])
    tracker = FaceTracker(twin)
    tracker(0)
    assert tracker(1) == [small]


def test_invalid_options():
    for interval in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match='full_scan_interval'):
            FaceTracker(None, full_scan_interval=interval)
    with pytest.raises(ValueError, match='margin'):
        FaceTracker(None, margin=-0.1)
    with pytest.raises(ValueError, match='min_iou'):
        FaceTracker(None, min_iou=2)


# ----------------------------------------------------------------------
# dlib on a real face
@pytest.fixture(scope='module')
def aligner():
    return FaceAligner(size=112)


def moving_face_frames(count=8):
    """A 480x640 grey frame with the astronaut's head moving right and
    down by 9 and 5 px a frame (the head is 256 px, its face box ~90)."""
    head = face_image()
    frames = []
    for i in range(count):
        frame = np.full((480, 640, 3), 110, np.uint8)
        x, y = 60 + 9 * i, 40 + 5 * i
        frame[y:y + 256, x:x + 256] = head
        frames.append(frame)
    return frames


def test_region_detection_is_in_image_coordinates(aligner):
    frame = moving_face_frames(1)[0]
    (whole, ) = aligner.detect(frame)
    assert aligner.detect(frame, region=(0, 0, 640, 480)) == [whole]
    assert aligner.detect(frame, region=(-50, -50, 9999, 9999)) == [whole]
    (inside, ) = aligner.detect(frame, region=(20, 20, 400, 360))
    assert box_iou(inside, whole) > 0.8
    assert aligner.detect(frame, region=(400, 0, 640, 480)) == []
    assert aligner.detect(frame, region=(300, 300, 300, 400)) == []


def test_tracked_boxes_match_whole_frame_detection(aligner):
    frames = moving_face_frames(8)
    tracker = FaceTracker(aligner, full_scan_interval=4)
    tracked = [tracker(frame) for frame in frames]
    whole = [aligner.detect(frame) for frame in frames]
    assert (tracker.full_scans, tracker.window_scans) == (2, 6)
    for frame, mine, theirs in zip(frames, tracked, whole):
        assert len(mine) == len(theirs) == 1
        # The box may come from the neighbouring pyramid level (the
        # whole-frame scans themselves flip between 87 and 105 px here).
        assert box_iou(mine[0], theirs[0]) > 0.6
        # The landmarks the alignment uses barely move.
        a = aligner.landmarks(frame, mine[0])
        b = aligner.landmarks(frame, theirs[0])
        eye_distance = np.linalg.norm(a[0:2].mean(0) - a[2:4].mean(0))
        assert np.abs(a - b).max() < 0.05 * eye_distance
