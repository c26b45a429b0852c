# Copyright (c) ferpretrain contributors. Licensed under Apache-2.0.
"""Live facial expressions from a camera, with the frame rate.

Usage::

    python tools/demo/webcam_demo.py [CONFIG [CHECKPOINT]] [--camera 0]
        [--source VIDEO] [--no-show] [--max-frames N] [--device cpu]
        [--batch-size 8] [--dtype fp32] [--detector hog|cnn] [--predictor DAT]
        [--upsample 0] [--full-scan-interval 10] [--neutral IMAGE]
        [--trust-checkpoint] [--cfg-options KEY=VALUE ...] [--debug]

Each frame's faces are found (dlib), aligned as
``tools/dataset_converters/prepare_faces.py`` aligns training faces, and
classified (:class:`ferpretrain.apis.FERInferencer`); a window shows the
frame with each face's box, label, probability and a bar for every class,
and the frames per second (the whole loop: capture, detection,
classification, drawing). q or Esc (or closing the window) quits. The
detector scans the whole frame every ``--full-scan-interval`` frames and
only around the known faces in between (a new face shows up to that many
frames late; 1 scans every frame).

Without CONFIG the model that ships with ferpretrain runs (trained on
FER2013's real faces); CONFIG may also be a model name, a config with its
CHECKPOINT, or an ``.onnx`` file.

``--source VIDEO`` reads a video file instead of a camera, and
``--no-show`` runs without a window (until the source ends or
``--max-frames``), printing a summary: both serve tests and machines
without a camera or a display. :func:`live_loop` takes any
``cv2.VideoCapture``-like object.

Exit status: 0 on success; 1 on an error in the input (no camera at that
index, a video that cannot be opened, no display: one message, ``--debug``
for the traceback); 2 on invalid arguments.
"""
import os.path as osp
import sys
import time

import cv2

# Allow running from a source checkout without installing ferpretrain. An
# installed copy, earlier on sys.path, still wins.
_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

from ferpretrain.apis import open_video_source  # noqa: E402
from ferpretrain.apis.cli import (add_inferencer_arguments,  # noqa: E402
                                  demo_parser, inferencer_from_args,
                                  parse_demo_args, plural, stage_summary)
from ferpretrain.utils.errors import ConfigError, run_tool  # noqa: E402
from ferpretrain.visualization import (draw_fps,  # noqa: E402
                                       draw_predictions)

WINDOW = 'ferpretrain webcam demo (q / Esc: quit)'
_QUIT_KEYS = (ord('q'), ord('Q'), 27)
# Weight of the newest frame in the displayed frame rate: steady enough
# to read, recent enough to follow a change (about the last 10 frames).
_FPS_SMOOTHING = 0.1


def parse_args(argv=None):
    parser = demo_parser(__doc__)
    add_inferencer_arguments(parser, detect_flag=False, video=True)
    parser.add_argument(
        '--camera', type=int, default=0, help='camera index (default: 0)')
    parser.add_argument(
        '--source',
        metavar='VIDEO',
        help='read this video file instead of a camera')
    parser.add_argument(
        '--no-show',
        action='store_true',
        help='no window: run until the source ends or --max-frames')
    parser.add_argument(
        '--max-frames', type=int, help='stop after this many frames')
    args = parse_demo_args(parser, argv)
    if args.max_frames is not None and args.max_frames < 1:
        parser.error('--max-frames must be >= 1')
    return args


def _show(canvas) -> bool:
    """Show ``canvas``; False once the user asks to quit."""
    try:
        cv2.imshow(WINDOW, canvas)
        key = cv2.waitKey(1) & 0xFF
        closed = cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1
    except cv2.error as error:
        raise ConfigError(f'no window can be opened ({error}); run with '
                          '--no-show') from None
    return key not in _QUIT_KEYS and not closed


def live_loop(inferencer,
              capture,
              show: bool = True,
              max_frames=None,
              neutral=None) -> dict:
    """Classify, draw and (``show``) display frames of ``capture`` until it
    ends, ``max_frames`` frames are done or the user quits.

    Args:
        inferencer (FERInferencer): The model.
        capture: An open ``cv2.VideoCapture``-like object (``read()``,
            ``isOpened()``, ``get()``); not released here.
        show (bool): Display the frames in a window. Defaults to True.
        max_frames (int, optional): Stop after this many frames.
        neutral: Pair models: a neutral image of the person.

    Returns:
        dict: ``frames``, ``faces``, ``faceless`` (frames without a face),
        ``fps`` (the smoothed rate of the last frame) and ``seconds``.
    """
    stats = dict(frames=0, faces=0, faceless=0, fps=0.0, seconds=0.0)
    start = last = time.perf_counter()
    for record in inferencer.stream(capture, neutral=neutral,
                                    return_images=True,
                                    max_frames=max_frames):
        canvas = draw_predictions(record.pop('decoded'), record['faces'],
                                  inferencer.classes)
        now = time.perf_counter()
        rate = 1.0 / max(now - last, 1e-6)
        last = now
        stats['fps'] = rate if stats['frames'] == 0 else (
            _FPS_SMOOTHING * rate + (1 - _FPS_SMOOTHING) * stats['fps'])
        stats['frames'] += 1
        stats['faces'] += len(record['faces'])
        stats['faceless'] += not record['faces']
        draw_fps(canvas, stats['fps'])
        if show and not _show(canvas):
            break
    stats['seconds'] = time.perf_counter() - start
    if show:
        cv2.destroyAllWindows()
    return stats


def main(argv=None):
    args = parse_args(argv)
    source = args.source if args.source is not None else args.camera
    # The source first: a missing camera is reported before the model
    # loads.
    capture, name, _ = open_video_source(source)
    try:
        inferencer = inferencer_from_args(args)
        stats = live_loop(inferencer, capture, show=not args.no_show,
                          max_frames=args.max_frames, neutral=args.neutral)
    finally:
        capture.release()
    mean = stats['frames'] / max(stats['seconds'], 1e-9)
    print(f'{name}: {plural(stats["frames"], "frame")}, '
          f'{plural(stats["faces"], "face")}, '
          f'{plural(stats["faceless"], "frame")} without a face; '
          f'{mean:.1f} frames/s')
    print(stage_summary(inferencer.timings, per='frame'))


if __name__ == '__main__':
    run_tool(main)
