"""Generate the synthetic demo dataset in the RAF-DB ``basic/`` layout.

The images are procedurally drawn cartoon faces (no real faces, no licence
restrictions) showing the seven RAF-DB expressions. Use it to try the
RAF-DB configs end to end without downloading RAF-DB, or in tests; it is not
a benchmark. See :mod:`ferpretrain.datasets.synthetic_faces`.

Example::

    python tools/dataset_converters/generate_demo_rafdb.py data/rafdb_demo
    # then point a RAF-DB config's data_root at data/rafdb_demo/basic
"""
import argparse
import os
import os.path as osp
import shutil
import sys
import time

# Allow running from a source checkout without installing ferpretrain. An
# installed copy, earlier on sys.path, still wins.
_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

from ferpretrain.datasets.synthetic_faces import (  # noqa: E402
    EXPRESSIONS, generate_synthetic_rafdb)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write a small synthetic facial expression dataset '
        '(procedurally drawn faces, no real people) in the official RAF-DB '
        '"basic/" layout: OUT_DIR/basic/EmoLabel/list_patition_label.txt, '
        'OUT_DIR/basic/Image/original/*.jpg and '
        'OUT_DIR/basic/Image/aligned/*_aligned.jpg. For quick-start demos '
        'and tests, not for benchmarking.')
    parser.add_argument(
        'out_dir', help='dataset root; the "basic/" folder is created in it')
    parser.add_argument(
        '--num-train',
        type=int,
        default=1400,
        help='number of training images (default: 1400)')
    parser.add_argument(
        '--num-test',
        type=int,
        default=350,
        help='number of test images (default: 350)')
    parser.add_argument(
        '--seed',
        type=int,
        default=0,
        help='random seed; the same seed gives identical files (default: 0)')
    parser.add_argument(
        '--aligned-size',
        type=int,
        default=100,
        help='side of the square aligned face crops in pixels (RAF-DB: 100)')
    parser.add_argument(
        '--workers',
        type=int,
        default=1,
        help='number of processes used to draw the images (the output does '
        'not depend on it; default: 1)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='delete an existing non-empty OUT_DIR/basic before generating')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    for name in ('num_train', 'num_test'):
        if getattr(args, name) < 0:
            sys.exit(f'error: --{name.replace("_", "-")} must be >= 0')
    basic = osp.join(osp.abspath(args.out_dir), 'basic')
    if osp.isdir(basic) and os.listdir(basic):
        if not args.overwrite:
            sys.exit(f'error: {basic} already exists and is not empty; '
                     'refusing to overwrite it. Pass --overwrite to delete '
                     'it and generate again, or choose another OUT_DIR.')
        print(f'--overwrite: deleting {basic}')
        shutil.rmtree(basic)
    elif osp.exists(basic) and not osp.isdir(basic):
        sys.exit(f'error: {basic} exists and is not a directory')

    start = time.time()
    summary = generate_synthetic_rafdb(
        args.out_dir,
        num_train=args.num_train,
        num_test=args.num_test,
        seed=args.seed,
        aligned_size=args.aligned_size,
        workers=args.workers)
    elapsed = time.time() - start

    counts = summary['class_counts']
    print(f'Wrote {summary["num_train"]} train + {summary["num_test"]} test '
          f'synthetic faces (seed {summary["seed"]}) in {elapsed:.1f}s to '
          f'{summary["root"]}')
    print(f'{"label":>5}  {"expression":<10} {"train":>6} {"test":>6}')
    for label, name in enumerate(EXPRESSIONS, 1):
        print(f'{label:>5}  {name:<10} {counts["train"][name]:>6} '
              f'{counts["test"][name]:>6}')
    print(f'Label file:     {summary["label_file"]}')
    print(f'Aligned images: {osp.join(summary["root"], "Image", "aligned")} '
          f'({summary["aligned_size"]}x{summary["aligned_size"]})')
    h, w = summary['original_size']
    print(f'Original images: {osp.join(summary["root"], "Image", "original")}'
          f' ({w}x{h})')


if __name__ == '__main__':
    main()
