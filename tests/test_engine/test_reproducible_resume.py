"""A resumed run ends exactly where the uninterrupted run ends.

Seeded and deterministic, on the built-in synthetic faces, with the demo
config's random augmentation (``configs/apvit/demo_cpu.py``), its
class-balanced dataset wrapper and its persistent dataloader workers (two
for training, two for validation), and a model with drop-path and dropout,
so that every random stream a training run uses is exercised: the
augmentation in the workers and the model's randomness in the main process.

Three ways to reach the end of epoch 2 must give bit-identical weights (every
tensor of the state dict, buffers included) and identical validation metrics:

* uninterrupted: 2 epochs in one run;
* stopped after epoch 1 (a run with ``max_epochs=1``), then resumed;
* killed with SIGKILL in the middle of epoch 2 (a subprocess), then resumed
  from the work directory (``epoch_1.pth``, as ``--resume`` does).

Every run goes through :func:`ferpretrain.engine.use_reproducible_randomness`,
as ``tools/train.py`` does. Faster tests below check the mechanism on a toy
dataset: what each worker draws in each epoch.
"""
import os
import os.path as osp
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner
from torch.utils.data import DataLoader, Dataset

from ferpretrain.datasets.synthetic_faces import generate_synthetic_rafdb
from ferpretrain.engine import use_reproducible_randomness
from ferpretrain.engine.hooks.reproducible_randomness import (
    DataRandomness, SeededPipeline, datasets_with_pipelines)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIG = osp.join(REPO_ROOT, 'configs', 'apvit', 'demo_cpu.py')
SIZE = 32  # input side: three stride-2 stages leave a 4x4 map, 16 patches


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    out = tmp_path_factory.mktemp('demo_resume')
    # 42 training faces (6 a class), repeated twice by the class-balanced
    # wrapper: 84 samples, 7 batches of 12 an epoch.
    generate_synthetic_rafdb(
        str(out), num_train=42, num_test=14, seed=3, aligned_size=SIZE,
        original_size=(48, 48))
    return osp.join(str(out), 'basic')


@pytest.fixture(autouse=True)
def restore_determinism_flags():
    """Deterministic mode is process-wide: give it back as it was."""
    algorithms = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn = (torch.backends.cudnn.deterministic,
             torch.backends.cudnn.benchmark)
    yield
    torch.use_deterministic_algorithms(algorithms, warn_only=warn_only)
    (torch.backends.cudnn.deterministic,
     torch.backends.cudnn.benchmark) = cudnn


def tiny_cfg(data_root, work_dir, name, max_epochs=2):
    """demo_cpu.py, made tiny, with stochastic depth and dropout."""
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.work_dir = str(work_dir)
    # Unique per run: mmengine keys its logger and message hub by it.
    cfg.experiment_name = name
    cfg.model.backbone.update(stage_channels=(8, 16, 32, 64),
                              channels_last=False)
    cfg.model.neck.update(
        in_channels=32, num_patches=(SIZE // 8)**2, embed_dims=32,
        num_layers=2, num_heads=2, drop_rate=0.1, drop_path_rate=0.2,
        patch_pooling=dict(type='AttentivePatchPooling', num_keep=12),
        token_keep_rates=[1., 0.9])
    cfg.model.head.in_channels = 32
    train_pipeline = [
        dict(type='LoadFERImage'),
        dict(type='FERRandomRotate', prob=0.5, degree=6.),
        dict(type='RandomResizedCrop', scale=SIZE,
             crop_ratio_range=(0.8, 1.0), aspect_ratio_range=(1., 1.)),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        dict(type='PackInputs'),
    ]
    test_pipeline = [
        dict(type='LoadFERImage'),
        dict(type='Resize', scale=(SIZE, SIZE)),
        dict(type='PackInputs'),
    ]
    train = cfg.train_dataloader
    train.update(batch_size=12, num_workers=2, persistent_workers=True,
                 collate_fn=dict(type='default_collate'))
    train.dataset.dataset.update(data_root=data_root,
                                 pipeline=train_pipeline)
    val = cfg.val_dataloader
    val.update(batch_size=14, num_workers=2, persistent_workers=True,
               collate_fn=dict(type='default_collate'))
    val.dataset.update(data_root=data_root, pipeline=test_pipeline)
    cfg.test_dataloader = val
    cfg.optim_wrapper.optimizer.lr = 2e-3
    cfg.train_cfg = dict(by_epoch=True, max_epochs=max_epochs,
                         val_interval=1)
    cfg.default_hooks.logger.interval = 1
    cfg.randomness = dict(seed=7, deterministic=True)
    use_reproducible_randomness(cfg)
    return cfg


class RecordMetrics(Hook):
    """Keeps the metrics of every validation."""

    def __init__(self):
        self.metrics = []

    def after_val_epoch(self, runner, metrics=None):
        self.metrics.append(dict(metrics or {}))


def shut_down_workers(runner):
    """Stop the persistent workers now: left to the garbage collector, their
    shutdown here waited about 5 s a worker."""
    for loop in (runner._train_loop, runner._val_loop):
        iterator = getattr(getattr(loop, 'dataloader', None), '_iterator',
                           None)
        if iterator is not None:
            iterator._shutdown_workers()


def train(cfg, resume=False):
    """Train in this process; return (state dict, last metrics)."""
    cfg.resume = resume
    runner = Runner.from_cfg(cfg)
    record = RecordMetrics()
    runner.register_hook(record, 'LOWEST')
    try:
        runner.train()
    finally:
        shut_down_workers(runner)
    state = {
        k: v.detach().clone()
        for k, v in runner.model.state_dict().items()
    }
    return state, record.metrics[-1]


def differences(a, b):
    """Largest absolute difference of each tensor that differs."""
    assert a.keys() == b.keys()
    return {
        k: (a[k].double() - b[k].double()).abs().max().item()
        for k in a if not torch.equal(a[k], b[k])
    }


def plain(metrics):
    """Metrics as comparable python values (the confusion matrix is a
    tensor)."""
    return {
        k: v.tolist() if hasattr(v, 'tolist') else v
        for k, v in metrics.items()
    }


def assert_same_run(state, metrics, ref_state, ref_metrics):
    diff = differences(state, ref_state)
    worst = max(diff.values()) if diff else 0.
    top1 = metrics['accuracy/top1'], ref_metrics['accuracy/top1']
    assert not diff, (f'{len(diff)} of {len(state)} tensors differ, up to '
                      f'{worst:.3g}; top-1 {top1[0]:.2f} vs {top1[1]:.2f}')
    assert plain(metrics) == plain(ref_metrics)


@pytest.fixture(scope='module')
def uninterrupted(demo_root, tmp_path_factory):
    work = tmp_path_factory.mktemp('uninterrupted')
    state, metrics = train(tiny_cfg(demo_root, work, 'uninterrupted'))
    assert osp.isfile(osp.join(str(work), 'epoch_2.pth'))
    return state, metrics


def test_stop_after_epoch_1_then_resume(demo_root, uninterrupted, tmp_path):
    train(tiny_cfg(demo_root, tmp_path, 'stopped', max_epochs=1))
    assert not osp.exists(osp.join(str(tmp_path), 'epoch_2.pth'))
    state, metrics = train(
        tiny_cfg(demo_root, tmp_path, 'resumed'), resume=True)
    assert_same_run(state, metrics, *uninterrupted)


# Trains the config in a process of its own and freezes after the third
# iteration of epoch 2, having said so through the marker file.
KILLED_RUN = textwrap.dedent('''
    import sys, time
    import torch
    from mmengine.config import Config
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    config, marker, threads = sys.argv[1:4]
    torch.set_num_threads(int(threads))

    class FreezeInEpoch2(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            if runner.epoch == 1 and batch_idx == 2:
                open(marker, 'w').close()
                time.sleep(600)

    runner = Runner.from_cfg(Config.fromfile(config))
    runner.register_hook(FreezeInEpoch2(), 'LOWEST')
    runner.train()
''')


def test_killed_mid_epoch_then_resume(demo_root, uninterrupted, tmp_path):
    work = tmp_path / 'work'
    cfg = tiny_cfg(demo_root, work, 'killed')
    config = str(tmp_path / 'killed_cfg.py')
    cfg.dump(config)
    script = tmp_path / 'killed_run.py'
    script.write_text(KILLED_RUN)
    marker = tmp_path / 'in_epoch_2'
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (REPO_ROOT, env.get('PYTHONPATH')) if p)
    # The same intra-op thread count as this process: float sums may
    # depend on how the work is split.
    proc = subprocess.Popen(
        [sys.executable, str(script), config, str(marker),
         str(torch.get_num_threads())],
        cwd=str(tmp_path), env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, proc.stdout.read().decode()[-4000:]
            assert time.monotonic() < deadline, 'epoch 2 never started'
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # kill -9 of the training run
        proc.wait(timeout=30)
    finally:
        # The orphaned dataloader workers of the killed run.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert osp.isfile(osp.join(str(work), 'epoch_1.pth'))
    assert not osp.exists(osp.join(str(work), 'epoch_2.pth'))

    state, metrics = train(
        tiny_cfg(demo_root, work, 'killed_resumed'), resume=True)
    assert_same_run(state, metrics, *uninterrupted)


def iter_based_cfg(data_root, work_dir, name, max_iters):
    """The same, trained by iterations (checkpoints inside the one long
    "epoch" of an iteration-based loop)."""
    cfg = tiny_cfg(data_root, work_dir, name)
    cfg.train_cfg = dict(by_epoch=False, max_iters=max_iters, val_interval=3)
    cfg.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=True)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=3, by_epoch=False)
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
             end=6)
    ]
    cfg.log_processor = dict(by_epoch=False)
    return cfg


def test_iteration_based_stop_then_resume(demo_root, tmp_path):
    reference = train(
        iter_based_cfg(demo_root, tmp_path / 'whole', 'iters_whole', 6))
    train(iter_based_cfg(demo_root, tmp_path / 'cut', 'iters_cut', 3))
    state, metrics = train(
        iter_based_cfg(demo_root, tmp_path / 'cut', 'iters_resumed', 6),
        resume=True)
    assert_same_run(state, metrics, *reference)


# -- the mechanism, on a toy dataset ------------------------------------------
def draw(results):
    """A "random transform" that returns one draw of each generator."""
    return (results['idx'], random.random(), float(np.random.rand()),
            float(torch.rand(())))


class Draws(Dataset):
    def __init__(self, n=8):
        self.n = n
        self.pipeline = draw

    def __len__(self):
        return self.n

    def __getitem__(self, idx):
        return self.pipeline(dict(idx=idx))


class Wrapper:
    """Stands for mmengine's ClassBalancedDataset and the like."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, idx):
        return self.dataset[idx]


def seeded_loader(num_workers, persistent=False, seed=5):
    dataset = Wrapper(Draws())
    randomness = DataRandomness(seed, rank=0, phase=0)
    for inner in datasets_with_pipelines(dataset):
        inner.pipeline = SeededPipeline(inner.pipeline, randomness)
    # A generator of its own, as the hook gives: iter(loader) then draws
    # its base seed from it, not from the global stream.
    loader = DataLoader(dataset, batch_size=2, num_workers=num_workers,
                        persistent_workers=persistent, collate_fn=list,
                        generator=torch.Generator())
    return loader, randomness


def epoch_draws(loader, randomness, epoch):
    randomness.start_round(epoch)
    return [sample for batch in loader for sample in batch]


def test_workers_reseed_from_seed_and_epoch_only():
    persistent, persistent_rnd = seeded_loader(2, persistent=True)
    seen = [epoch_draws(persistent, persistent_rnd, e) for e in range(3)]
    persistent._iterator._shutdown_workers()
    # A resumed run: fresh workers that start at epoch 2.
    fresh, fresh_rnd = seeded_loader(2, persistent=True)
    assert epoch_draws(fresh, fresh_rnd, 2) == seen[2]
    fresh._iterator._shutdown_workers()
    # Non-persistent workers draw the same, and no longer repeat epochs.
    again, again_rnd = seeded_loader(2)
    assert [epoch_draws(again, again_rnd, e) for e in range(3)] == seen
    assert seen[0] != seen[1] != seen[2]
    # The two workers (batches 0, 2 and 1, 3) draw different streams.
    assert seen[0][0][1:] != seen[0][2][1:]
    # Another seed, other draws.
    other, other_rnd = seeded_loader(2, seed=6)
    assert epoch_draws(other, other_rnd, 0) != seen[0]


def test_main_process_loading_leaves_the_model_stream_alone():
    one_worker, rnd = seeded_loader(1)
    expected = epoch_draws(one_worker, rnd, 1)
    in_main, main_rnd = seeded_loader(0)
    torch.manual_seed(0)
    before = (random.getstate(), np.random.get_state()[1].copy(),
              torch.get_rng_state())
    assert epoch_draws(in_main, main_rnd, 1) == expected  # worker 0's stream
    assert random.getstate() == before[0]
    assert np.array_equal(np.random.get_state()[1], before[1])
    assert torch.equal(torch.get_rng_state(), before[2])


def test_pipeline_wrapper_is_transparent():
    from mmcv.transforms import Compose
    pipeline = Compose([dict(type='mmpretrain.PackInputs')])
    wrapped = SeededPipeline(pipeline, DataRandomness(0, 0, 0))
    assert wrapped.transforms is pipeline.transforms
    assert repr(wrapped) == repr(pipeline)


def test_use_reproducible_randomness_adds_the_hook_once():
    cfg = Config(dict(custom_hooks=[dict(type='EMAHook')]))
    assert use_reproducible_randomness(cfg)
    assert cfg.custom_hooks == [
        dict(type='ReproducibleRandomnessHook'), dict(type='EMAHook')]
    assert not use_reproducible_randomness(cfg)
    assert len(cfg.custom_hooks) == 2
    empty = Config(dict())
    assert use_reproducible_randomness(empty)
    assert empty.custom_hooks == [dict(type='ReproducibleRandomnessHook')]
    runtime = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', '_base_', 'default_runtime.py'))
    assert not use_reproducible_randomness(runtime)


@pytest.mark.parametrize('resume', [False, True])
def test_a_run_without_a_seed_starts(resume):
    """default_runtime.py leaves randomness.seed None: the hook must log
    that and go on (it once passed the log level as a string, which
    crashed every unseeded training at its start)."""
    from types import SimpleNamespace

    from ferpretrain.engine.hooks import ReproducibleRandomnessHook

    dataset = SimpleNamespace(pipeline=lambda results: results)
    runner = SimpleNamespace(
        cfg=Config(dict(randomness=dict(seed=None))),
        _resume=resume,
        seed=123,
        train_loop=SimpleNamespace(
            dataloader=SimpleNamespace(dataset=dataset)),
        val_loop=None)
    ReproducibleRandomnessHook().before_train(runner)
    assert type(dataset.pipeline).__name__ == 'SeededPipeline'
