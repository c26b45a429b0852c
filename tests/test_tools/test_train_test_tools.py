"""tools/train.py, tools/test.py and tools/dist_train.sh, run as a user would.

Each run is a subprocess with this interpreter on a tiny ResNet and a folder
of 16 random PNGs in ``tmp_path`` (see ``tool_helpers.py``). The runs take
about a minute in all on two CPU cores.
"""
import fractions
import importlib.util
import os
import os.path as osp
import pickle
import shutil
import sys

import mmengine
import pytest
import torch
from mmengine.config import Config

# The helpers sit next to this file; pytest's default import mode puts this
# folder on sys.path, --import-mode=importlib does not.
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from tool_helpers import (DIST_TRAIN_SH, TEST_PY, TRAIN_PY,  # noqa: E402
                          explain, free_port, run, run_python, tool_env,
                          write_config, write_image_folder)

from ferpretrain.utils import load_checkpoint_file  # noqa: E402


def _load_tool(path, name):
    """Import a tool script as a module (for its argument handling)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _ShellPayload:
    """Runs ``touch MARKER`` if a plain unpickler loads it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


@pytest.fixture(scope='module')
def project(tmp_path_factory):
    """A data folder and a 2-epoch config."""
    root = tmp_path_factory.mktemp('tools')
    write_image_folder(str(root / 'data'))
    config = write_config(root / 'tiny.py', root / 'data', max_epochs=2)
    return root, config


@pytest.fixture(scope='module')
def trained(project):
    """A work directory after ``tools/train.py`` ran 2 epochs."""
    root, config = project
    work_dir = root / 'work_dir'
    proc = run_python(TRAIN_PY, config, '--work-dir', work_dir, cwd=root)
    assert proc.returncode == 0, explain(proc)
    return work_dir, proc.stdout


def _safe_load(path):
    # A checkpoint the tools wrote must load without trust.
    return load_checkpoint_file(str(path), trust=False)


# ---------------------------------------------------------------------------
# train.py
# ---------------------------------------------------------------------------
def test_train(trained):
    work_dir, out = trained
    for name in ('epoch_1.pth', 'epoch_2.pth', 'last_checkpoint', 'tiny.py'):
        assert (work_dir / name).exists(), name
    assert 'Epoch(train) [2][4/4]' in out
    assert 'accuracy/top1' in out
    assert f'Work directory (checkpoints): {work_dir}' in out
    ckpt = _safe_load(work_dir / 'epoch_2.pth')
    assert ckpt['meta']['epoch'] == 2
    assert ckpt['param_schedulers'][1]['T_max'] == 3  # CosineAnnealingLR


def test_resume_auto(project, trained, tmp_path):
    root, config = project
    work_dir = tmp_path / 'resumed'
    shutil.copytree(trained[0], work_dir)
    # last_checkpoint holds an absolute path into the original directory.
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_2.pth'))
    dump = (work_dir / 'tiny.py').read_bytes()

    proc = run_python(
        TRAIN_PY, config, '--work-dir', work_dir, '--resume',
        '--cfg-options', 'train_cfg.max_epochs=3', cwd=root)
    assert proc.returncode == 0, explain(proc)
    assert 'resumed epoch: 2' in proc.stdout
    assert 'Epoch(train) [3][4/4]' in proc.stdout
    assert 'Epoch(train) [1]' not in proc.stdout
    assert _safe_load(work_dir / 'epoch_3.pth')['meta']['epoch'] == 3
    # The first run's config dump is kept; this run's went to its log dir.
    assert (work_dir / 'tiny.py').read_bytes() == dump


def test_refuses_fresh_run_over_checkpoints(project, trained):
    train = _load_tool(TRAIN_PY, 'ferp_tools_train')
    with pytest.raises(SystemExit, match='Refusing to start a new training'):
        train.main([project[1], '--work-dir', str(trained[0])])


def test_train_argument_merging(project, tmp_path):
    train = _load_tool(TRAIN_PY, 'ferp_tools_train')
    config = project[1]

    args = train.parse_args([config, '--resume'])
    assert args.resume == 'auto'
    cfg = train.merge_args(Config.fromfile(config), args)
    assert cfg.resume is True and cfg.load_from is None
    assert cfg.work_dir == osp.join('./work_dirs', 'tiny')

    ckpt = str(tmp_path / 'x.pth')
    args = train.parse_args([
        config, '--resume', ckpt, '--auto-scale-lr', '--no-validate',
        '--amp', '--work-dir', str(tmp_path)
    ])
    cfg = train.merge_args(Config.fromfile(config), args)
    assert cfg.resume is True and cfg.load_from == ckpt
    assert cfg.auto_scale_lr.enable is True
    assert cfg.val_dataloader is None and cfg.val_cfg is None
    # num_workers=0: persistent workers would make torch refuse to start.
    assert cfg.train_dataloader.persistent_workers is False
    if not torch.cuda.is_available():
        # AmpOptimWrapper asserts a GPU: --amp is dropped with a warning.
        assert cfg.optim_wrapper.get('type', 'OptimWrapper') != \
            'AmpOptimWrapper'

    # --auto-scale-lr without a base batch size says what is missing.
    cfg = Config.fromfile(config)
    cfg.auto_scale_lr = None
    with pytest.raises(SystemExit, match='base_batch_size'):
        train.merge_args(cfg, train.parse_args([config, '--auto-scale-lr']))


def test_train_trust_checkpoint_names_resume_path(project, tmp_path,
                                                  monkeypatch):
    from ferpretrain.utils import TRUSTED_CHECKPOINTS_ENV
    monkeypatch.setenv(TRUSTED_CHECKPOINTS_ENV, '')
    train = _load_tool(TRAIN_PY, 'ferp_tools_train')
    ckpt = tmp_path / 'given.pth'
    args = train.parse_args(
        [project[1], '--resume', str(ckpt), '--trust-checkpoint'])
    cfg = train.merge_args(Config.fromfile(project[1]), args)
    train.trust_named_checkpoints(cfg)
    # Through the environment, so that torchrun children inherit it.
    assert os.environ[TRUSTED_CHECKPOINTS_ENV] == osp.realpath(ckpt)


# ---------------------------------------------------------------------------
# test.py
# ---------------------------------------------------------------------------
def test_test_dumps_predictions(project, trained, tmp_path):
    root, config = project
    out = tmp_path / 'preds.pkl'
    proc = run_python(
        TEST_PY, config, trained[0] / 'epoch_2.pth', '--work-dir',
        tmp_path / 'test_wd', '--out', out, cwd=root)
    assert proc.returncode == 0, explain(proc)
    assert 'accuracy/top1' in proc.stdout
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 16
    assert {'pred_label', 'pred_score', 'gt_label'} <= set(preds[0])


def _checkpoint_with(trained, tmp_path, name, extra):
    ckpt = _safe_load(trained[0] / 'epoch_2.pth')
    ckpt['meta']['extra'] = extra
    path = tmp_path / name
    torch.save(ckpt, path)
    return path


def test_test_refuses_malicious_checkpoint(project, trained, tmp_path):
    root, config = project
    marker = tmp_path / 'MARKER'
    evil = _checkpoint_with(trained, tmp_path, 'evil.pth',
                            _ShellPayload(str(marker)))
    proc = run_python(
        TEST_PY, config, evil, '--work-dir', tmp_path / 'wd', cwd=root)
    assert proc.returncode != 0, explain(proc)
    assert not marker.exists()
    assert 'Refused to load the checkpoint' in proc.stdout, explain(proc)
    assert str(evil) in proc.stdout
    assert 'posix.system' in proc.stdout or 'os.system' in proc.stdout
    assert '--trust-checkpoint' in proc.stdout
    # The clear message, not a traceback.
    assert 'Traceback' not in proc.stdout, explain(proc)


def test_test_trusts_foreign_checkpoint_on_request(project, trained,
                                                   tmp_path):
    root, config = project
    foreign = _checkpoint_with(trained, tmp_path, 'foreign.pth',
                               fractions.Fraction(1, 3))
    out = tmp_path / 'metrics.json'
    proc = run_python(
        TEST_PY, config, foreign, '--trust-checkpoint', '--work-dir',
        tmp_path / 'wd', '--out', out, '--out-item', 'metrics', cwd=root)
    assert proc.returncode == 0, explain(proc)
    assert '--trust-checkpoint: ' in proc.stdout
    assert 'accuracy/top1' in mmengine.load(str(out))


# ---------------------------------------------------------------------------
# Distributed on CPU
# ---------------------------------------------------------------------------
def test_cpu_wrapper_cfg_keeps_config_choices():
    from ferpretrain.utils.dist import _cpu_model_wrapper_cfg
    cfg = Config(dict(find_unused_parameters=True))
    assert _cpu_model_wrapper_cfg(cfg) == dict(
        type='MMDistributedDataParallel', device_ids=None,
        broadcast_buffers=False, find_unused_parameters=True)
    cfg = Config(dict(model_wrapper_cfg=dict(
        type='MMDistributedDataParallel', broadcast_buffers=True)))
    wrapper = _cpu_model_wrapper_cfg(cfg)
    assert wrapper['broadcast_buffers'] is True
    assert wrapper['device_ids'] is None


def test_no_launcher_changes_nothing():
    from ferpretrain.utils import setup_cpu_distributed
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    assert setup_cpu_distributed(cfg, 'none') is False
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'
    assert 'model_wrapper_cfg' not in cfg


@pytest.mark.skipif(
    torch.cuda.is_available(), reason='the CPU/gloo path is for no GPU')
def test_dist_train_two_cpu_processes(project, tmp_path):
    root, config = project
    work_dir = tmp_path / 'dist'
    proc = run(['bash', DIST_TRAIN_SH, config, '2', '--work-dir',
                str(work_dir), '--cfg-options', 'train_cfg.max_epochs=1'],
               cwd=root,
               env=tool_env(PORT=free_port()))
    assert proc.returncode == 0, explain(proc)
    out = proc.stdout
    for rank in (0, 1):
        assert (f'rank {rank} of world_size 2 joins torch.distributed with '
                'the gloo backend') in out, explain(proc)
    assert "backend gloo, world_size 2" in out
    # 16 images, batch 4, two ranks: 2 iterations an epoch on each.
    assert 'Epoch(train) [1][2/2]' in out, explain(proc)
    assert _safe_load(work_dir / 'epoch_1.pth')['meta']['epoch'] == 1
