"""tools/train.py, tools/test.py and tools/dist_train.sh, run as a user would.

Each run is a subprocess with this interpreter on a tiny ResNet and a folder
of 16 random PNGs in ``tmp_path`` (see ``tool_helpers.py``). The runs take
about a minute in all on two CPU cores.
"""
import fractions
import os
import os.path as osp
import pickle
import re
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
                          explain, free_port, load_tool, run, run_python,
                          tool_env,
                          write_config, write_image_folder)

from ferpretrain.utils import load_checkpoint_file  # noqa: E402
from ferpretrain.utils.errors import ConfigError  # noqa: E402


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
    assert 'Memory allocator: glibc' in out  # tune_malloc ran
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


def test_train_amp_runs_bf16_on_cpu(project, tmp_path):
    root, config = project
    work_dir = tmp_path / 'amp'
    proc = run_python(TRAIN_PY, config, '--amp', '--work-dir', work_dir,
                      '--cfg-options', 'train_cfg.max_epochs=1', cwd=root)
    assert proc.returncode == 0, explain(proc)
    dumped = (work_dir / 'tiny.py').read_text()
    assert "type='MixedPrecisionOptimWrapper'" in dumped
    assert "dtype='bfloat16'" in dumped
    ckpt = _safe_load(work_dir / 'epoch_1.pth')
    # bf16: the scaler is disabled and keeps no state.
    assert not ckpt['optimizer'].get('loss_scaler')


def test_train_compile_compiles_the_networks(project, tmp_path):
    root, config = project
    work_dir = tmp_path / 'compiled'
    # backend=eager: dynamo captures the graphs (what the switch controls)
    # without minutes of C++ compilation; tests/test_engine/test_compile.py
    # checks the default backend's numbers.
    proc = run_python(
        TRAIN_PY, config, '--compile', '--work-dir', work_dir,
        '--cfg-options', 'train_cfg.max_epochs=1', 'compile.backend=eager',
        cwd=root)
    assert proc.returncode == 0, explain(proc)
    assert "torch.compile({'backend': 'eager'}) on backbone, head" \
        in proc.stdout, proc.stdout[-3000:]
    assert 'accuracy/top1' in proc.stdout  # validation ran compiled too
    dumped = Config.fromfile(str(work_dir / 'tiny.py'))
    # The setting became ferpretrain's hook, not mmengine's train_step one.
    assert 'compile' not in dumped
    assert dumped.custom_hooks[-1] == dict(
        type='CompileHook', compile_cfg=dict(backend='eager'))
    # Compiled in place: the checkpoint has the eager parameter names.
    state = _safe_load(work_dir / 'epoch_1.pth')['state_dict']
    assert not [k for k in state if '_orig_mod' in k]

    train = load_tool(TRAIN_PY, 'ferp_tools_train')
    with pytest.raises(ConfigError, match='must be True, False or a dict'):
        train.merge_args(
            Config.fromfile(config),
            train.parse_args([config, '--cfg-options', 'compile=fast']))


def test_refuses_fresh_run_over_checkpoints(project, trained):
    train = load_tool(TRAIN_PY, 'ferp_tools_train')
    with pytest.raises(ConfigError, match='Refusing to start a new training'):
        train.main([project[1], '--work-dir', str(trained[0])])


def test_train_argument_merging(project, tmp_path):
    train = load_tool(TRAIN_PY, 'ferp_tools_train')
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
    # --amp trains in bf16 on any device (mmengine's AmpOptimWrapper would
    # assert a GPU).
    assert cfg.optim_wrapper.type == 'MixedPrecisionOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'bfloat16'

    # --auto-scale-lr without a base batch size says what is missing.
    cfg = Config.fromfile(config)
    cfg.auto_scale_lr = None
    with pytest.raises(ConfigError, match='base_batch_size'):
        train.merge_args(cfg, train.parse_args([config, '--auto-scale-lr']))


def test_train_trust_checkpoint_names_resume_path(project, tmp_path,
                                                  monkeypatch):
    from ferpretrain.engine import trust_named_checkpoints
    from ferpretrain.utils import TRUSTED_CHECKPOINTS_ENV
    monkeypatch.setenv(TRUSTED_CHECKPOINTS_ENV, '')
    train = load_tool(TRAIN_PY, 'ferp_tools_train')
    ckpt = tmp_path / 'given.pth'
    args = train.parse_args(
        [project[1], '--resume', str(ckpt), '--trust-checkpoint'])
    cfg = train.merge_args(Config.fromfile(project[1]), args)
    trust_named_checkpoints(cfg)
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


def test_test_amp_and_compile_on_cpu(project, trained, tmp_path):
    root, config = project

    def predictions(name, *extra):
        out = tmp_path / f'{name}.pkl'
        proc = run_python(
            TEST_PY, config, trained[0] / 'epoch_2.pth', '--work-dir',
            tmp_path / name, '--out', out, *extra, cwd=root)
        assert proc.returncode == 0, explain(proc)
        with open(out, 'rb') as f:
            preds = pickle.load(f)
        return proc.stdout, preds

    _, fp32 = predictions('fp32')
    out, bf16 = predictions('bf16', '--amp', '--compile', '--cfg-options',
                            'compile.backend=eager')
    assert "torch.compile({'backend': 'eager'})" in out
    scores32 = torch.stack([p['pred_score'].float() for p in fp32])
    scores16 = torch.stack([p['pred_score'].float() for p in bf16])
    # bf16 ran (the scores carry its rounding, 2-3 significant digits) and
    # changes no prediction of this model.
    assert not torch.equal(scores16, scores32)
    torch.testing.assert_close(scores16, scores32, rtol=0.05, atol=0.01)
    assert [p['pred_label'] for p in bf16] == [p['pred_label'] for p in fp32]


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


CROSS_DATA_TEMPLATE = """\
# Another dataset: FERFolder, classes in another order and spelling, plus a
# class the tiny model lacks.
test_dataloader = dict(
    batch_size=8, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='FERFolder', data_root={root!r}, split='test',
        classes=('Sadness', 'Surprise', 'Happiness'), test_mode=True,
        pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')]))
test_evaluator = [dict(type='Accuracy', topk=(1, )), dict(type='FERMetric')]
"""


@pytest.fixture(scope='module')
def cross_data(project):
    """The tiny images again, as a FERFolder test split whose classes are
    (Sadness, Surprise, Happiness): the model's (happy, sad) re-ordered and
    re-spelled, plus 3 Surprise images the model cannot predict."""
    root, _ = project
    cross = root / 'cross'
    for src, dst in (('happy', 'happiness'), ('sad', 'sadness')):
        shutil.copytree(root / 'data' / src, cross / 'test' / dst)
    (cross / 'test' / 'surprise').mkdir()
    for i in range(3):
        shutil.copy(root / 'data' / 'happy' / f'{i:03d}.png',
                    cross / 'test' / 'surprise' / f'{i:03d}.png')
    config = root / 'cross_data.py'
    config.write_text(CROSS_DATA_TEMPLATE.format(root=str(cross)))
    return config


def _test_metrics(project, checkpoint, tmp_path, name, *extra):
    root, config = project
    out = tmp_path / f'{name}.json'
    proc = run_python(
        TEST_PY, config, checkpoint, '--work-dir', tmp_path / name, '--out',
        out, '--out-item', 'metrics', *extra, cwd=root)
    assert proc.returncode == 0, explain(proc)
    return mmengine.load(str(out)), proc.stdout


def test_test_cross_dataset_maps_classes_by_name(project, trained,
                                                 cross_data, tmp_path):
    checkpoint = trained[0] / 'epoch_2.pth'
    same, _ = _test_metrics(project, checkpoint, tmp_path, 'same')
    cross, out = _test_metrics(project, checkpoint, tmp_path, 'cross',
                               '--test-data', cross_data)
    # The same 16 images and the same model: matched by name, the accuracy
    # cannot move (compared by index, happy/sad would swap). The 3 Surprise
    # images are left out, not counted as errors.
    assert same['accuracy/top1'] > 75  # else a swap would not show
    assert cross['accuracy/top1'] == pytest.approx(same['accuracy/top1'])
    assert cross['fer/accuracy'] == pytest.approx(same['accuracy/top1'])
    assert cross['classes'] == ['Sadness', 'Surprise', 'Happiness']
    matrix = cross['fer/confusion_matrix']
    assert len(matrix) == 3 and sum(map(sum, matrix)) == 16
    assert matrix[1] == [0, 0, 0]  # Surprise: no sample kept
    assert sum(matrix[0]) == 8 and sum(matrix[2]) == 8
    assert all(row[1] == 0 for row in matrix)  # never predicted
    assert cross['cross_dataset/test_only'] == ['Surprise']
    assert cross['cross_dataset/model_classes'] == ['happy', 'sad']
    assert cross['cross_dataset/model_only'] == []
    # Reported, not hidden.
    assert re.search(r'Surprise +<- \(none: the model lacks this class\)',
                     out), out[-3000:]
    assert 'left out 3 of 19 samples' in out, out[-3000:]


def test_test_data_keeps_the_model_pipeline(project, cross_data):
    from ferpretrain.evaluation import use_test_data
    root, config = project
    for data_pipeline, expected in ((False, 'model'), (True, 'data')):
        cfg = Config.fromfile(config)
        cfg.test_dataloader.dataset.pipeline = [dict(type='model')]
        data_cfg = Config.fromfile(cross_data)
        data_cfg.test_dataloader.dataset.pipeline = [dict(type='data')]
        data_file = root / f'cross_{expected}.py'
        data_cfg.dump(str(data_file))
        use_test_data(cfg, str(data_file), data_pipeline)
        dataset = cfg.test_dataloader.dataset
        assert dataset.type == 'FERFolder'
        assert dataset.pipeline == [dict(type=expected)]
        assert [m['type'] for m in cfg.test_evaluator] == [
            'Accuracy', 'FERMetric'
        ]


def test_test_cross_dataset_needs_class_names(project, trained, cross_data,
                                              tmp_path):
    root, config = project
    ckpt = _safe_load(trained[0] / 'epoch_2.pth')
    del ckpt['meta']['dataset_meta']
    bare = tmp_path / 'bare.pth'
    torch.save(ckpt, bare)
    proc = run_python(TEST_PY, config, bare, '--test-data', cross_data,
                      '--work-dir', tmp_path / 'wd', cwd=root)
    assert proc.returncode != 0
    assert 'carries no class names' in proc.stdout, explain(proc)
    assert '--model-classes' in proc.stdout
    # Given by hand (in head order), it works; an explicit merge grades
    # Surprise with the model's happy class.
    metrics, out = _test_metrics(project, bare, tmp_path, 'named',
                                 '--test-data', cross_data,
                                 '--model-classes', 'Happy,Sad',
                                 '--class-map', 'surprise=happy')
    assert metrics['cross_dataset/test_only'] == []
    assert sum(map(sum, metrics['fer/confusion_matrix'])) == 19
    assert '(merged by class_map)' in out
    # Opting out compares indices, as mmpretrain does: all 19 images, no
    # mapping.
    metrics, _ = _test_metrics(project, bare, tmp_path, 'by_index',
                               '--test-data', cross_data,
                               '--no-class-matching')
    assert sum(map(sum, metrics['fer/confusion_matrix'])) == 19
    assert not any(k.startswith('cross_dataset/') for k in metrics)


# ---------------------------------------------------------------------------
# Distributed on CPU
# ---------------------------------------------------------------------------
def test_cpu_wrapper_cfg_keeps_config_choices():
    from ferpretrain.engine.dist import _cpu_model_wrapper_cfg
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
    from ferpretrain.engine import setup_cpu_distributed
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
