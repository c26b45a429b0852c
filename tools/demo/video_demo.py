# Copyright (c) ferpretrain contributors. Licensed under Apache-2.0.
"""Facial expressions of every face in every frame of a video.

Usage::

    python tools/demo/video_demo.py VIDEO [CONFIG [CHECKPOINT]] --out FILE.mp4
        [--csv FILE.csv] [--max-frames N] [--device cpu] [--batch-size 8]
        [--dtype fp32] [--no-detect] [--detector hog|cnn] [--predictor DAT]
        [--upsample 0] [--full-scan-interval 10] [--neutral IMAGE]
        [--no-progress] [--trust-checkpoint]
        [--cfg-options KEY=VALUE ...] [--debug]

Each frame's faces are found (dlib), aligned as
``tools/dataset_converters/prepare_faces.py`` aligns training faces, and
classified (:class:`ferpretrain.apis.FERInferencer`). The detector scans
the whole frame every ``--full-scan-interval`` frames (and whenever a face
is lost), and only around the known faces in between: a new face shows up
to that many frames late; ``--full-scan-interval 1`` scans every frame.
Written:

- ``--out``: the video with each face's box, label and probability,
  landmarks and a bar for every class, at the input's frame rate and size
  (``.mp4``: MPEG-4 Part 2, ``mp4v``; ``.avi``: Motion JPEG, ``MJPG``: the
  encoders every OpenCV build has);
- ``--csv`` (default: ``--out`` with ``.csv``): one row a face a frame,
  ``frame, time, face, x1, y1, x2, y2, detection_score, label,
  label_index, score, landmarks, score_<class> ...``; a frame without a
  face is one row with empty face fields. ``time`` is in seconds (frame
  index / frame rate).

A progress bar runs while it works, and a summary follows (frames, frames
without a face, faces, time per stage). Without CONFIG the model that
ships with ferpretrain runs (trained on FER2013's real faces); CONFIG may
also be a model name (its published weights) or an ``.onnx`` file
(CHECKPOINT left out); CHECKPOINT ``none`` runs the config's random
initialisation (to try the tool only).

Exit status: 0 on success; 1 on an error in the input (a video that cannot
be opened, a model that does not load: one message, ``--debug`` for the
traceback); 2 on invalid arguments.
"""
import csv
import os
import os.path as osp
import sys
import time

import cv2

# Allow running from a source checkout without installing ferpretrain. An
# installed copy, earlier on sys.path, still wins.
_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

from ferpretrain.apis import (csv_fields, face_rows,  # noqa: E402
                              open_video_source)
from ferpretrain.apis.cli import (add_inferencer_arguments,  # noqa: E402
                                  demo_parser, inferencer_from_args,
                                  parse_demo_args, plural, stage_summary)
from ferpretrain.utils.batch_files import progress_bar  # noqa: E402
from ferpretrain.utils.errors import ConfigError, run_tool  # noqa: E402
from ferpretrain.visualization import draw_predictions  # noqa: E402

#: Output containers and the encoder each gets.
FOURCC = {'.mp4': 'mp4v', '.avi': 'MJPG'}
# What a video without a usable frame rate is written at.
_DEFAULT_FPS = 25.0


def parse_args(argv=None):
    parser = demo_parser(__doc__)
    parser.add_argument('video', help='the video file')
    add_inferencer_arguments(parser, video=True)
    parser.add_argument(
        '--out', required=True, help='the annotated video (.mp4 or .avi)')
    parser.add_argument(
        '--csv', help='the per-frame CSV (default: --out with .csv)')
    parser.add_argument(
        '--max-frames', type=int, help='stop after this many frames')
    parser.add_argument(
        '--no-progress', action='store_true', help='hide the progress bar')
    args = parse_demo_args(parser, argv)
    ext = osp.splitext(args.out)[1].lower()
    if ext not in FOURCC:
        parser.error(f'--out {args.out}: name a {" or ".join(FOURCC)} file')
    if args.max_frames is not None and args.max_frames < 1:
        parser.error('--max-frames must be >= 1')
    args.csv = args.csv or osp.splitext(args.out)[0] + '.csv'
    return args


def open_writer(path: str, fps: float, size) -> cv2.VideoWriter:
    """A ``cv2.VideoWriter`` for ``path`` (encoder from :data:`FOURCC`).

    Raises:
        ConfigError: It cannot be opened (folder not writable, encoder
            missing from this OpenCV build).
    """
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fourcc = FOURCC[osp.splitext(path)[1].lower()]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), fps,
                             tuple(size))
    if not writer.isOpened():
        raise ConfigError(f'--out {path}: cannot write a video there '
                          f'({fourcc} encoder, {size[0]}x{size[1]}); check '
                          'the folder, or try the other extension')
    return writer


def main(argv=None):
    args = parse_args(argv)
    for out in (args.out, args.csv):
        if osp.exists(out) and osp.exists(args.video) and osp.samefile(
                out, args.video):
            raise ConfigError(f'{out} is the input video; choose another '
                              'output name')
    # The video first: one that cannot be opened is reported before the
    # model loads.
    capture, name, _ = open_video_source(args.video)
    fps = capture.get(cv2.CAP_PROP_FPS) or _DEFAULT_FPS
    # Containers without an index report 0 or -1 frames: no total then.
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    total = total if total > 0 else None
    if total and args.max_frames:
        total = min(total, args.max_frames)
    writer = None
    frames = faceless = faces = 0
    try:
        inferencer = inferencer_from_args(args)
        classes = inferencer.classes
        start = time.perf_counter()
        os.makedirs(osp.dirname(osp.abspath(args.csv)), exist_ok=True)
        with open(args.csv, 'w', newline='', encoding='utf-8') as table, \
                progress_bar(not args.no_progress) as progress:
            rows = csv.DictWriter(table, csv_fields(classes, video=True))
            rows.writeheader()
            task = progress.add_task('classifying faces', total=total)
            for record in inferencer.stream(
                    capture, neutral=args.neutral, return_images=True,
                    max_frames=args.max_frames):
                frame = record.pop('decoded')
                if writer is None:
                    writer = open_writer(args.out, fps,
                                         (frame.shape[1], frame.shape[0]))
                writer.write(
                    draw_predictions(frame, record['faces'], classes))
                rows.writerows(face_rows(record, classes))
                frames += 1
                faces += len(record['faces'])
                faceless += not record['faces']
                progress.advance(task)
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    seconds = time.perf_counter() - start
    print(f'{name}: {plural(frames, "frame")}, {plural(faces, "face")}, '
          f'{plural(faceless, "frame")} without a face; '
          f'{frames / max(seconds, 1e-9):.1f} frames/s ({seconds:.1f} s)')
    print(f'classes ({inferencer.classes_source}): {", ".join(classes)}')
    print(stage_summary(inferencer.timings, per='frame'))
    print(f'annotated video: {args.out}; per-frame CSV: {args.csv}')


if __name__ == '__main__':
    run_tool(main)
