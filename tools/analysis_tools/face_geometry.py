# Copyright (c) ferpretrain contributors. Licensed under Apache-2.0.
"""How a dataset's face crops are framed, in FaceAligner's terms: the
``face_alignment = dict(face_scale=..., eye_line=...)`` a config declares
so that the inferencer crops photos the way the training faces are.

Usage::

    python tools/analysis_tools/face_geometry.py FOLDER [--num 1500]
        [--upsample-to 192] [--seed 0]

Reads up to ``--num`` images of FOLDER (recursively; a random sample,
``--seed``), enlarges each to ``--upsample-to`` pixels (dlib's HOG detector
finds faces of about 80 px and more: FER2013's 48 px faces need it), and
where dlib finds exactly one face, measures with its 5 points:

- ``face_scale``: the distance between the eye centres (each the mean of
  its two corners) over the image side;
- ``eye_line``: the height of the eye centres' midpoint over the image
  height.

Prints the medians and quartiles, and how many images gave one face.
Square crops are assumed (the aligner writes square faces).
"""
import argparse
import os.path as osp
import random
import sys

import cv2
import numpy as np

_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

from ferpretrain.utils.errors import ConfigError, run_tool  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('folder', help='a folder of face crops')
    parser.add_argument('--num', type=int, default=1500,
                        help='images to sample (default: 1500)')
    parser.add_argument('--upsample-to', type=int, default=192,
                        help='side the crops are enlarged to before '
                        'detection (default: 192)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if args.num < 1 or args.upsample_to < 80:
        parser.error('--num must be >= 1 and --upsample-to >= 80')
    return args


def measure(paths, upsample_to: int, aligner=None):
    """``(face_scales, eye_lines, read)``: one value each for every image
    where dlib finds exactly one face; ``read`` images were decoded."""
    from ferpretrain.utils.face_alignment import FaceAligner, read_image
    aligner = aligner or FaceAligner()
    scales, lines, read = [], [], 0
    for path in paths:
        image = read_image(path)
        read += 1
        height, width = image.shape[:2]
        factor = upsample_to / max(height, width)
        big = cv2.resize(image, None, fx=factor, fy=factor,
                         interpolation=cv2.INTER_CUBIC)
        boxes = aligner.detect(big)
        if len(boxes) != 1:
            continue
        points = aligner.landmarks(big, boxes[0]) / factor
        right, left = points[0:2].mean(0), points[2:4].mean(0)
        scales.append(float(np.linalg.norm(right - left)) / width)
        lines.append(float(right[1] + left[1]) / 2 / height)
    return scales, lines, read


def _summary(name, values):
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return f'{name} {median:.3f} (quartiles {q1:.3f}-{q3:.3f})'


def main(argv=None):
    args = parse_args(argv)
    from ferpretrain.apis import collect_images
    paths = collect_images(args.folder)[0]
    random.Random(args.seed).shuffle(paths)
    scales, lines, read = measure(paths[:args.num], args.upsample_to)
    if not scales:
        raise ConfigError(f'{args.folder}: dlib found one face in none of '
                          f'the {read} images read; try a larger '
                          '--upsample-to')
    print(f'{len(scales)} of {read} images with one face: '
          f'{_summary("face_scale", scales)}, '
          f'{_summary("eye_line", lines)}')
    print(f'config: face_alignment = dict(face_scale='
          f'{np.median(scales):.2f}, eye_line={np.median(lines):.2f})')
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
