"""The README's main job and CPU distributed training, on the demo data.

Both run the real tools in subprocesses, as a user would, on a tiny copy of
the built-in synthetic dataset (the same generator as the quick start).
"""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import cv2
import pytest

from ferpretrain.datasets.synthetic_faces import generate_synthetic_rafdb

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from tool_helpers import REPO_ROOT, free_port  # noqa: E402

CONFIG = osp.join(REPO_ROOT, 'configs', 'apvit', 'demo_cpu.py')


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    out = tmp_path_factory.mktemp('demo')
    generate_synthetic_rafdb(str(out), num_train=70, num_test=35, seed=1)
    return str(out)


def _env():
    env = dict(os.environ)
    env['PYTHONPATH'] = REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env.setdefault('OMP_NUM_THREADS', '1')
    return env


def test_quickstart_generates_trains_and_tests(demo_root, tmp_path):
    work_dir = str(tmp_path / 'work')
    proc = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools', 'quickstart.py'),
         '--data-root', demo_root, '--work-dir', work_dir, '--epochs', '1'],
        cwd=REPO_ROOT, env=_env(), capture_output=True, text=True,
        timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'Demo data found' in proc.stdout  # the fixture already wrote it
    assert 'tools/train.py' in proc.stdout and 'tools/test.py' in proc.stdout
    match = re.search(r'Top-1 accuracy on the \d+ synthetic test faces: '
                      r'([\d.]+) %', proc.stdout)
    assert match, proc.stdout[-2000:]
    assert 0 <= float(match.group(1)) <= 100
    assert 'on the 35 synthetic test faces' in proc.stdout
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    # The image demo on the first test face, then mmpretrain's tools.
    assert 'tools/demo/image_demo.py' in proc.stdout
    match = re.search(r'Image demo on test_0001_aligned\.jpg \(drawn as '
                      r'(\w+)\): (\w+) \(([\d.]+)\)', proc.stdout)
    assert match, proc.stdout[-2000:]
    with open(osp.join(work_dir, 'demo', 'predictions.json')) as f:
        (record, ) = json.load(f)
    (face, ) = record['faces']
    assert face['label'] == match.group(2)
    assert record['image'].endswith('test_0001_aligned.jpg')
    for name in ('confusion_matrix.png', 'loss.png'):
        image = cv2.imread(osp.join(work_dir, name))
        assert image is not None and image.shape[0] > 100, name
        assert image.std() > 10, name  # a drawn figure, not a blank
    assert '.mim/tools/analysis_tools/confusion_matrix.py' in proc.stdout


def test_dist_train_two_cpu_processes_on_demo_data(demo_root, tmp_path):
    work_dir = str(tmp_path / 'dist')
    root = osp.join(demo_root, 'basic')
    env = _env()
    env['PORT'] = str(free_port())
    env['PYTHON'] = sys.executable
    proc = subprocess.run(
        ['bash', osp.join(REPO_ROOT, 'tools', 'dist_train.sh'), CONFIG, '2',
         '--work-dir', work_dir, '--cfg-options',
         f'train_dataloader.dataset.dataset.data_root={root}',
         f'val_dataloader.dataset.data_root={root}',
         f'test_dataloader.dataset.data_root={root}',
         'train_cfg.max_epochs=1', 'train_dataloader.num_workers=0',
         'val_dataloader.num_workers=0', 'default_hooks.logger.interval=1'],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    # channels_last weights whose strides differ from their gradients' make
    # DDP warn and copy every step (and one loaded run aborted).
    assert 'Grad strides do not match' not in out, out[-4000:]
    logs = glob.glob(osp.join(work_dir, '*', '*.log'))
    assert logs, out[-2000:]
    with open(logs[0]) as f:
        log = f.read()
    assert 'Distributed launcher: pytorch' in log
    assert 'Distributed training: True' in log
    assert re.search(r"backend'?: '?gloo", log), log[:3000]
    assert 'Epoch(train) [1]' in log
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
