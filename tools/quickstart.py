"""The quick-start job: synthetic faces -> train -> test, on a CPU.

    python tools/quickstart.py [--data-root data/demo_rafdb] [--work-dir DIR]

1. writes the built-in demo dataset (procedurally drawn faces in RAF-DB's
   ``basic/`` layout) unless it is already there;
2. trains ``configs/apvit/demo_cpu.py`` with ``tools/train.py``;
3. tests the last checkpoint with ``tools/test.py`` and prints the accuracy;
4. classifies one synthetic test face with ``tools/demo/image_demo.py``
   (``--no-detect``: the drawn faces are aligned crops, which dlib's
   detector, trained on photographs, does not take for faces), writing
   ``<work dir>/demo/`` (the annotated face, ``predictions.json``);
5. saves the test set's confusion matrix (``confusion_matrix.png``) and the
   training loss curve (``loss.png``) into the work directory with
   mmpretrain's own analysis tools (``tools/analysis_tools/
   confusion_matrix.py`` and ``analyze_logs.py`` in the installed
   mmpretrain package's ``.mim`` folder), which read ferpretrain's configs
   and logs as they are.

Each step runs the standard tool in a subprocess, exactly as a user would
type it; the commands are printed first (quoted for a POSIX shell). Every
run gets its own work directory (``work_dirs/demo_cpu/<time>``) so earlier
runs are never overwritten. Relative ``--data-root`` and ``--work-dir`` are
taken from the repository root.

The data root reaches the tools in a small config written into the work
directory (``quickstart_config.py``: ``configs/apvit/demo_cpu.py`` as its
``_base_``, plus the data root), not through ``--cfg-options``: mmengine's
``DictAction`` deletes every space of a value, quoted or not, and splits it
at commas, so ``data_root=/home/me/My Data/basic`` would arrive as
``/home/me/MyData/basic``. A Python string literal in a config carries any
path unchanged.
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import shlex
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/apvit/demo_cpu.py'
#: The config the quick start writes into its work directory.
RUN_CONFIG = 'quickstart_config.py'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data/demo_rafdb',
                        help='where the demo dataset lives or is written '
                        '(relative: to the repository root)')
    parser.add_argument('--work-dir', default=None,
                        help='default: work_dirs/demo_cpu/<time> (relative: '
                        'to the repository root)')
    parser.add_argument('--num-train', type=int, default=1400)
    parser.add_argument('--num-test', type=int, default=350)
    parser.add_argument('--epochs', type=int, default=None,
                        help='override the config\'s max_epochs')
    return parser.parse_args()


def run(cmd):
    """Run ``cmd`` (an argument list, never a shell string) from the
    repository root; print it quoted so that it can be pasted."""
    print('\n$ ' + shlex.join(cmd), flush=True)
    subprocess.run(cmd, cwd=REPO, check=True)


def write_run_config(work_dir, data_root):
    """Write ``<work_dir>/quickstart_config.py``: the demo config reading
    the data under ``data_root`` (the ``basic`` folder). Both paths are
    absolute; returns the config's path.

    ``repr`` writes each path as a Python string literal, which keeps
    spaces, commas, quotes and backslashes as they are (see the module
    docstring for why ``--cfg-options`` cannot).
    """
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, RUN_CONFIG)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(
            '# Written by tools/quickstart.py: the demo config with the data '
            'root\n# of this run (set here: --cfg-options would delete the '
            'spaces of a path).\n'
            f'_base_ = [{osp.join(REPO, CONFIG)!r}]\n'
            f'data_root = {data_root!r}\n'
            'train_dataloader = dict(\n'
            '    dataset=dict(dataset=dict(data_root=data_root)))\n'
            'val_dataloader = dict(dataset=dict(data_root=data_root))\n'
            'test_dataloader = dict(dataset=dict(data_root=data_root))\n')
    return path


def train_command(py, config, work_dir, epochs=None):
    """The ``tools/train.py`` command of the quick start."""
    cmd = [py, 'tools/train.py', config, '--work-dir', work_dir]
    if epochs:
        cmd += ['--cfg-options', f'train_cfg.max_epochs={epochs}']
    return cmd


def test_command(py, config, checkpoint, work_dir):
    """The ``tools/test.py`` command of the quick start."""
    return [py, 'tools/test.py', config, checkpoint, '--work-dir', work_dir]


def main():
    args = parse_args()
    start = time.time()
    py = sys.executable
    data_root = osp.abspath(osp.join(REPO, args.data_root))
    label_file = osp.join(data_root, 'basic', 'EmoLabel',
                          'list_patition_label.txt')
    if osp.isfile(label_file):
        print(f'Demo data found at {data_root}/basic; reusing it.')
    else:
        run([py, 'tools/dataset_converters/generate_demo_rafdb.py',
             data_root, '--num-train', str(args.num_train),
             '--num-test', str(args.num_test)])

    work_dir = osp.abspath(osp.join(REPO, args.work_dir or osp.join(
        'work_dirs', 'demo_cpu', time.strftime('%Y%m%d_%H%M%S'))))
    config = write_run_config(work_dir, osp.join(data_root, 'basic'))
    run(train_command(py, config, work_dir, args.epochs))

    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    metrics_file = osp.join(work_dir, 'test_metrics.json')
    run(test_command(py, config, checkpoint, work_dir))
    metrics = _last_test_metrics(work_dir)
    scalars = _training_scalars(work_dir)

    basic_root = osp.join(data_root, 'basic')
    image, truth = first_test_face(basic_root)
    demo_dir = osp.join(work_dir, 'demo')
    run(demo_command(py, config, checkpoint, image, demo_dir))
    with open(osp.join(demo_dir, 'predictions.json')) as f:
        (face, ) = json.load(f)[0]['faces']
    confusion_png = osp.join(work_dir, 'confusion_matrix.png')
    run(confusion_matrix_command(py, config, checkpoint, confusion_png))
    loss_png = osp.join(work_dir, 'loss.png')
    if scalars:
        run(loss_curve_command(py, scalars, loss_png))

    minutes = (time.time() - start) / 60
    print('\n' + '=' * 64)
    print(f'Demo finished in {minutes:.1f} min. Checkpoint: {checkpoint}')
    if metrics:
        print(f'Top-1 accuracy on the {count_test_faces(basic_root)} '
              'synthetic test faces: '
              f'{metrics["accuracy/top1"]:.2f} % (chance: 14.29 %); '
              f'mean class accuracy: '
              f'{metrics.get("fer/mean_class_accuracy", float("nan")):.2f} %')
        with open(metrics_file, 'w') as f:
            json.dump(metrics, f, indent=2)
    print(f'Image demo on {osp.basename(image)} (drawn as {truth}): '
          f'{face["label"]} ({face["score"]:.2f}); annotated face and '
          f'predictions.json in {demo_dir}')
    print(f'Confusion matrix: {confusion_png}')
    if scalars:
        print(f'Loss curve: {loss_png}')
    print('=' * 64)


def demo_command(py, config, checkpoint, image, out_dir):
    """The ``tools/demo/image_demo.py`` command: one aligned drawn face."""
    return [py, 'tools/demo/image_demo.py', image, config, checkpoint,
            '--out-dir', out_dir, '--no-detect']


def mmpretrain_tool(name):
    """The path of mmpretrain's ``tools/analysis_tools/<name>``, shipped in
    the installed package's ``.mim`` folder (found without importing
    mmpretrain)."""
    spec = importlib.util.find_spec('mmpretrain')
    if spec is None or not spec.submodule_search_locations:
        sys.exit('mmpretrain is not installed: pip install -e .')
    path = osp.join(spec.submodule_search_locations[0], '.mim', 'tools',
                    'analysis_tools', name)
    if not osp.isfile(path):
        sys.exit(f'{path}: missing from the installed mmpretrain; '
                 'reinstall it (pip install --force-reinstall mmpretrain)')
    return path


def confusion_matrix_command(py, config, checkpoint, png):
    """mmpretrain's ``confusion_matrix.py``: tests ``checkpoint`` again and
    draws the matrix (with the counts) into ``png``."""
    return [py, mmpretrain_tool('confusion_matrix.py'), config, checkpoint,
            '--show-path', png, '--include-values']


def loss_curve_command(py, scalars, png):
    """mmpretrain's ``analyze_logs.py plot_curve`` on the training run's
    ``vis_data/scalars.json``: the loss by iteration."""
    return [py, mmpretrain_tool('analyze_logs.py'), 'plot_curve', scalars,
            '--keys', 'loss', '--out', png]


def first_test_face(basic_root):
    """``(image path, label name)`` of the first test face in the label
    file, in RAF-DB's layout (``Image/aligned/test_0001_aligned.jpg``)."""
    from ferpretrain.datasets import RAFDB_CATEGORIES
    label_file = osp.join(basic_root, 'EmoLabel', 'list_patition_label.txt')
    with open(label_file) as f:
        for line in f:
            fields = line.split()
            if len(fields) == 2 and fields[0].startswith('test_'):
                stem = osp.splitext(fields[0])[0]
                image = osp.join(basic_root, 'Image', 'aligned',
                                 f'{stem}_aligned.jpg')
                return image, RAFDB_CATEGORIES[int(fields[1]) - 1]
    sys.exit(f'{label_file}: no test face listed')


def count_test_faces(basic_root):
    label_file = osp.join(basic_root, 'EmoLabel', 'list_patition_label.txt')
    with open(label_file) as f:
        return sum(line.startswith('test_') for line in f)


def _training_scalars(work_dir):
    """``<work_dir>/<time>/vis_data/scalars.json`` of the training run (the
    oldest run folder: tools/test.py adds newer ones)."""
    runs = sorted(d for d in os.listdir(work_dir)
                  if osp.isfile(osp.join(work_dir, d, 'vis_data',
                                         'scalars.json')))
    return osp.join(work_dir, runs[0], 'vis_data',
                    'scalars.json') if runs else None


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
