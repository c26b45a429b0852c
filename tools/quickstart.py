"""The quick-start job: synthetic faces -> train -> test, on a CPU.

    python tools/quickstart.py [--data-root data/demo_rafdb] [--work-dir DIR]

1. writes the built-in demo dataset (procedurally drawn faces in RAF-DB's
   ``basic/`` layout) unless it is already there;
2. trains ``configs/apvit/demo_cpu.py`` with ``tools/train.py``;
3. tests the last checkpoint with ``tools/test.py`` and prints the accuracy.

Each step runs the standard tool in a subprocess, exactly as a user would
type it; the commands are printed first. Every run gets its own work
directory (``work_dirs/demo_cpu/<time>``) so earlier runs are never
overwritten.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/apvit/demo_cpu.py'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data/demo_rafdb',
                        help='where the demo dataset lives or is written')
    parser.add_argument('--work-dir', default=None,
                        help='default: work_dirs/demo_cpu/<time>')
    parser.add_argument('--num-train', type=int, default=1400)
    parser.add_argument('--num-test', type=int, default=350)
    parser.add_argument('--epochs', type=int, default=None,
                        help='override the config\'s max_epochs')
    return parser.parse_args()


def run(cmd):
    print('\n$ ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, cwd=REPO, check=True)


def main():
    args = parse_args()
    start = time.time()
    py = sys.executable
    label_file = osp.join(REPO, args.data_root, 'basic', 'EmoLabel',
                          'list_patition_label.txt')
    if osp.isfile(label_file):
        print(f'Demo data found at {args.data_root}/basic; reusing it.')
    else:
        run([py, 'tools/dataset_converters/generate_demo_rafdb.py',
             args.data_root, '--num-train', str(args.num_train),
             '--num-test', str(args.num_test)])

    work_dir = args.work_dir or osp.join(
        'work_dirs', 'demo_cpu', time.strftime('%Y%m%d_%H%M%S'))
    root = osp.join(args.data_root, 'basic')
    options = [
        f'train_dataloader.dataset.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
    ]
    if args.epochs:
        options += [f'train_cfg.max_epochs={args.epochs}']
    run([py, 'tools/train.py', CONFIG, '--work-dir', work_dir,
         '--cfg-options'] + options)

    with open(osp.join(REPO, work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    metrics_file = osp.join(work_dir, 'test_metrics.json')
    run([py, 'tools/test.py', CONFIG, checkpoint, '--work-dir', work_dir,
         '--cfg-options'] + options)
    metrics = _last_test_metrics(osp.join(REPO, work_dir))
    minutes = (time.time() - start) / 60
    print('\n' + '=' * 64)
    print(f'Demo finished in {minutes:.1f} min. Checkpoint: {checkpoint}')
    if metrics:
        print(f'Top-1 accuracy on the {args.num_test} synthetic test faces: '
              f'{metrics["accuracy/top1"]:.2f} % (chance: 14.29 %); '
              f'mean class accuracy: '
              f'{metrics.get("fer/mean_class_accuracy", float("nan")):.2f} %')
        with open(osp.join(REPO, metrics_file), 'w') as f:
            json.dump(metrics, f, indent=2)
    print('=' * 64)


def _last_test_metrics(work_dir):
    """The metrics tools/test.py logged (the newest `<time>/<time>.json`)."""
    runs = sorted(d for d in os.listdir(work_dir)
                  if osp.isdir(osp.join(work_dir, d)) and d[:8].isdigit())
    for run_dir in reversed(runs):
        path = osp.join(work_dir, run_dir, run_dir + '.json')
        if osp.isfile(path):
            with open(path) as f:
                lines = [json.loads(line) for line in f if line.strip()]
            for entry in reversed(lines):
                if 'accuracy/top1' in entry:
                    return entry
    return None


if __name__ == '__main__':
    main()
