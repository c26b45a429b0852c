"""Generate synthetic paired faces: each person with every expression.

Procedurally drawn cartoon faces (no real faces, no licence restrictions):
one identity per person, drawn with each of the seven expressions, Neutral
included, in the generic FERFolder layout with the person id in the file
name (``OUT_DIR/train/<Expression>/p0001_1.jpg``). Test persons are not
training persons. For trying the "Difference of Embeddings" (neutral
reference) models end to end with NeutralPairDataset; not a benchmark. See
:mod:`ferpretrain.datasets.synthetic_faces`.

Example::

    python tools/dataset_converters/generate_demo_pairs.py data/pairs_demo
"""
import argparse
import os
import os.path as osp
import shutil
import sys
import textwrap
import time

# Allow running from a source checkout without installing ferpretrain. An
# installed copy, earlier on sys.path, still wins.
_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

from ferpretrain.datasets.synthetic_faces import (  # noqa: E402
    EXPRESSIONS, generate_synthetic_pairs)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write synthetic persons (procedurally drawn faces, no '
        'real people), each with all seven expressions, in the FERFolder '
        'layout OUT_DIR/{train,test}/<Expression>/<person>_<take>.jpg; '
        'test persons are disjoint from training persons. For neutral-'
        'reference (Difference of Embeddings) demos and tests, not for '
        'benchmarking.')
    parser.add_argument(
        'out_dir', help='dataset root; train/ and test/ are created in it')
    parser.add_argument(
        '--num-train-subjects',
        type=int,
        default=100,
        help='number of training persons (default: 100)')
    parser.add_argument(
        '--num-test-subjects',
        type=int,
        default=25,
        help='number of test persons (default: 25)')
    parser.add_argument(
        '--takes',
        type=int,
        default=1,
        help='images of each person and expression (default: 1)')
    parser.add_argument(
        '--size',
        type=int,
        default=100,
        help='side of the square face images in pixels (default: 100)')
    parser.add_argument(
        '--seed',
        type=int,
        default=0,
        help='random seed; the same seed gives identical files (default: 0)')
    parser.add_argument(
        '--workers',
        type=int,
        default=1,
        help='number of processes used to draw the images (the output does '
        'not depend on it; default: 1)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='delete existing non-empty OUT_DIR/train and OUT_DIR/test '
        'before generating')
    return parser.parse_args(argv)


def config_snippet(root: str, pattern: str) -> str:
    """The dataset config that reads the generated pairs."""
    classes = textwrap.fill(
        ', '.join(repr(c) for c in EXPRESSIONS) + '),',
        width=72,
        initial_indent=' ' * 8 + 'classes=(',
        subsequent_indent=' ' * 17)
    return (
        "dataset=dict(\n"
        "    type='NeutralPairDataset', neutral_class='Neutral',\n"
        "    pair_by='subject',\n"
        "    dataset=dict(\n"
        f"        type='FERFolder', data_root={root!r}, split='train',\n"
        f"{classes}\n"
        f"        subject_pattern=r'{pattern}'),\n"
        "    pipeline=[dict(type='LoadFERImage'), dict(type='PackInputs')])")


def main(argv=None):
    args = parse_args(argv)
    checks = (('num_train_subjects', 1), ('num_test_subjects', 0),
              ('takes', 1), ('size', 8))
    for name, minimum in checks:
        if getattr(args, name) < minimum:
            sys.exit(f'error: --{name.replace("_", "-")} must be >= '
                     f'{minimum}')
    root = osp.abspath(args.out_dir)
    for split in ('train', 'test'):
        path = osp.join(root, split)
        if osp.isdir(path) and os.listdir(path):
            if not args.overwrite:
                sys.exit(f'error: {path} already exists and is not empty; '
                         'refusing to overwrite it. Pass --overwrite to '
                         'delete it and generate again, or choose another '
                         'OUT_DIR.')
            print(f'--overwrite: deleting {path}')
            shutil.rmtree(path)
        elif osp.exists(path) and not osp.isdir(path):
            sys.exit(f'error: {path} exists and is not a directory')

    start = time.time()
    summary = generate_synthetic_pairs(
        args.out_dir,
        num_train_subjects=args.num_train_subjects,
        num_test_subjects=args.num_test_subjects,
        seed=args.seed,
        size=args.size,
        takes=args.takes,
        workers=args.workers)
    elapsed = time.time() - start

    subjects, num_images = summary['subjects'], summary['num_images']
    print(f'Wrote {num_images["train"]} train + {num_images["test"]} test '
          f'synthetic faces ({summary["size"]}x{summary["size"]}, seed '
          f'{summary["seed"]}) in {elapsed:.1f}s to {summary["root"]}')
    for split in ('train', 'test'):
        ids = subjects[split]
        if ids:
            print(f'  {split}/<Expression>/: {len(ids)} person(s) '
                  f'{ids[0]}..{ids[-1]}, {summary["takes"]} take(s) of each '
                  f'of the {len(EXPRESSIONS)} expressions')
    print("Read the pairs with this dataset config (split='test' for the "
          'test persons; the model has 6 classes, Neutral is the '
          'reference):')
    print(config_snippet(summary['root'], summary['subject_pattern']))


if __name__ == '__main__':
    main()
