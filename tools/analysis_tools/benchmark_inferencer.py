"""End-to-end speed of the inferencer on a video: faces per second, and the
time of each stage (decode, detect, align, classify), for several models,
precisions and backends in one run, so that their ratios are comparable.

    python tools/analysis_tools/benchmark_inferencer.py
    python tools/analysis_tools/benchmark_inferencer.py --video talk.mp4 \
        --configs configs/apvit/raf.py --dtypes bf16 --backends pytorch
    python tools/analysis_tools/benchmark_inferencer.py --out bench.json

Without ``--video`` it writes a 640x480 test video first (``--frames``
frames, 25 frames/s, MJPG): a real face (scikit-image's astronaut
photograph; dlib's box around it is 88 px square, a face a few metres from
a webcam) drifting and changing brightness over a grey background, one
face a frame.

The models keep the config's random initialisation (no weights are
needed; speed does not depend on their values); ``onnxruntime`` exports
each model to a temporary ONNX file first (the ``deploy`` extra). The
first ``--warmup`` frames of each run are not counted. Detection runs
with ``--upsample`` (default 0) and, for each of
``--full-scan-intervals`` (default 1 and 10), scans the whole frame every
that many frames and only around the last frame's face in between, as the
demos do (``--full-scan-interval``, default 10; 1 is a whole-frame scan on
every frame).
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile
import time
import warnings

import cv2
import numpy as np

DEFAULT_CONFIGS = ('configs/apvit/fer2013_cpu.py', 'configs/apvit/raf.py',
                   'configs/poster_v2/raf.py')
STAGES = ('decode', 'detect', 'align', 'classify')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--video', help='a video (default: write one)')
    parser.add_argument('--configs', nargs='+', default=DEFAULT_CONFIGS)
    parser.add_argument('--dtypes', nargs='+', default=['fp32', 'bf16'],
                        choices=['fp32', 'bf16'])
    parser.add_argument('--backends', nargs='+',
                        default=['pytorch', 'onnxruntime'],
                        choices=['pytorch', 'onnxruntime'])
    parser.add_argument('--frames', type=int, default=100,
                        help='frames of the written video (default: 100)')
    parser.add_argument('--warmup', type=int, default=5,
                        help='frames not counted (default: 5)')
    parser.add_argument('--upsample', type=int, default=0)
    parser.add_argument(
        '--full-scan-intervals',
        type=int,
        nargs='+',
        default=[1, 10],
        metavar='N',
        help='scan the whole frame every N frames (default: 1 10)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch and onnxruntime threads (default: the '
                        'cores this process may use)')
    parser.add_argument('--out', help='write the results as JSON')
    return parser.parse_args(argv)


def write_test_video(path: str, frames: int) -> str:
    """A 640x480 video of one real face moving over a grey background."""
    try:
        from skimage import data
    except ImportError:
        sys.exit('writing the test video needs scikit-image (pip install '
                 'scikit-image), or pass --video')
    photo = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    head = cv2.resize(photo[0:330, 100:430], (300, 300))  # box 88 px
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), 25.0,
                             (640, 480))
    if not writer.isOpened():
        sys.exit(f'OpenCV cannot write {path}')
    for i in range(frames):
        frame = np.full((480, 640, 3), 110, np.uint8)
        x = int(170 + 120 * np.sin(i / 15))
        y = int(90 + 60 * np.cos(i / 11))
        gain = 0.85 + 0.15 * np.sin(i / 7)
        frame[y:y + 300, x:x + 300] = np.clip(head * gain, 0, 255)
        writer.write(frame)
    writer.release()
    return path


def build(config, backend, dtype, threads, folder, upsample):
    from ferpretrain.apis import FERInferencer
    if backend == 'pytorch':
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # "random initialisation"
            return FERInferencer(config, dtype=dtype, upsample=upsample)
    import onnxruntime as ort
    import torch

    from ferpretrain.apis import export_onnx
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = FERInferencer(config).model
    stem = osp.join(folder, osp.basename(osp.dirname(config)) + '_' +
                    osp.splitext(osp.basename(config))[0])
    torch.save(dict(state_dict=model.state_dict()), stem + '.pth')
    export_onnx(config, stem + '.pth', stem + '.onnx')
    from ferpretrain.apis import ONNXFERModel
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    onnx = ONNXFERModel(stem + '.onnx', providers=['CPUExecutionProvider'],
                        session_options=options)
    return FERInferencer(onnx, backend='onnxruntime', upsample=upsample)


def measure(inferencer, video, warmup, interval):
    """Run the video; timings of the frames after ``warmup``."""
    frames = inferencer.stream(video, full_scan_interval=interval)
    for _ in range(warmup):
        next(frames)
    inferencer._reset_timings()  # the warm-up frames are not counted
    start = time.perf_counter()
    for _ in frames:
        pass
    wall = time.perf_counter() - start
    t = dict(inferencer.timings)
    faces = max(t['faces'], 1)
    return dict(
        frames=t['inputs'], faces=t['faces'], wall_s=round(wall, 3),
        faces_per_s=round(t['faces'] / wall, 2),
        **{f'{s}_ms_per_face': round(t[s] / faces * 1000, 2)
           for s in STAGES})


def main(argv=None):
    args = parse_args(argv)
    if min(args.full_scan_intervals) < 1:
        sys.exit('--full-scan-intervals must be >= 1')
    import torch

    from ferpretrain.utils.setup_env import register_all_modules
    register_all_modules()
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    folder = tempfile.mkdtemp(prefix='fer_bench_')
    video = args.video or write_test_video(
        osp.join(folder, 'test_640x480.avi'), args.frames)
    rows = []
    for config in args.configs:
        for backend in args.backends:
            for dtype in (args.dtypes if backend == 'pytorch' else ['fp32']):
                inferencer = build(config, backend, dtype, threads, folder,
                                   args.upsample)
                for interval in args.full_scan_intervals:
                    row = dict(
                        config=config, backend=backend, dtype=dtype,
                        full_scan_interval=interval,
                        **measure(inferencer, video, args.warmup, interval))
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    print(f'\n{threads} threads, video {video}\n')
    print('| Config | Backend | dtype | full scan every | faces/s | ' +
          ' | '.join(f'{s} ms' for s in STAGES) + ' |')
    print('|---|---|---|---|---|' + '---|' * len(STAGES))
    for r in rows:
        print(f"| `{r['config']}` | {r['backend']} | {r['dtype']} | "
              f"{r['full_scan_interval']} | {r['faces_per_s']:.1f} | " +
              ' | '.join(f"{r[f'{s}_ms_per_face']:.1f}" for s in STAGES) +
              ' |')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(threads=threads, video=video, rows=rows), f,
                      indent=1)


if __name__ == '__main__':
    main()
