"""Helpers for the tool tests: a tiny image folder, a tiny config, runs.

Everything is written under a test's ``tmp_path``; the config only uses
mmpretrain components (plus ``custom_imports`` of ferpretrain), so the tool
tests do not depend on the models and datasets being written alongside.
"""
import os
import os.path as osp
import socket
import subprocess
import sys

import numpy as np

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN_PY = osp.join(REPO_ROOT, 'tools', 'train.py')
TEST_PY = osp.join(REPO_ROOT, 'tools', 'test.py')
DIST_TRAIN_SH = osp.join(REPO_ROOT, 'tools', 'dist_train.sh')
DIST_TEST_SH = osp.join(REPO_ROOT, 'tools', 'dist_test.sh')

CLASSES = ('happy', 'sad')


def write_image_folder(root, per_class=8, size=32, seed=0):
    """``root/<class>/<i>.png`` with random images, brighter for class 0.

    The brightness gap makes the two classes learnable, so accuracy moves
    away from chance after a few iterations (not asserted: it is a smoke
    test).
    """
    import cv2
    rng = np.random.default_rng(seed)
    for label, name in enumerate(CLASSES):
        folder = osp.join(root, name)
        os.makedirs(folder, exist_ok=True)
        low, high = (128, 256) if label == 0 else (0, 128)
        for i in range(per_class):
            img = rng.integers(low, high, (size, size, 3), dtype=np.uint8)
            assert cv2.imwrite(osp.join(folder, f'{i:03d}.png'), img)
    return root


CONFIG_TEMPLATE = '''\
# A tiny classifier for the tool tests: mmpretrain components only.
default_scope = 'mmpretrain'
custom_imports = dict(
    imports=['ferpretrain.plugin'], allow_failed_imports=False)

data_root = {data_root!r}
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet', depth=18, stem_channels=8, base_channels=8,
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead', num_classes=2, in_channels=64,
        loss=dict(type='CrossEntropyLoss'), topk=(1, )))
data_preprocessor = dict(
    num_classes=2, mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5],
    to_rgb=True)

pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
dataset = dict(type='CustomDataset', data_root=data_root, pipeline=pipeline)
train_dataloader = dict(
    batch_size=4, num_workers=0, dataset=dataset,
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=8, num_workers=0, dataset=dataset,
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.5, by_epoch=True, begin=0, end=1),
    dict(type='CosineAnnealingLR', T_max=3, by_epoch=True, begin=1, end=4),
]
train_cfg = dict(by_epoch=True, max_epochs={max_epochs}, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=4)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=1),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False))
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
visualizer = dict(
    type='UniversalVisualizer', vis_backends=[dict(type='LocalVisBackend')])
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
'''


def write_config(path, data_root, max_epochs=2):
    with open(path, 'w') as f:
        f.write(CONFIG_TEMPLATE.format(
            data_root=str(data_root), max_epochs=max_epochs))
    return str(path)


def free_port():
    """A port that was free a moment ago (for torchrun's rendezvous)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def tool_env(**extra):
    """The environment for a tool run: this interpreter, few threads."""
    env = dict(os.environ)
    # Two processes share two cores in the distributed test; more threads
    # only make them fight.
    env.setdefault('OMP_NUM_THREADS', '1')
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (REPO_ROOT, env.get('PYTHONPATH')) if p)
    env['PYTHON'] = sys.executable
    env.pop('FERPRETRAIN_TRUSTED_CHECKPOINTS', None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(cmd, cwd, timeout=300, env=None):
    """Run a command; return the CompletedProcess with text output."""
    return subprocess.run(
        cmd,
        cwd=str(cwd),
        env=env if env is not None else tool_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout)


def run_python(script, *args, cwd, timeout=300, env=None):
    return run([sys.executable, script, *map(str, args)], cwd, timeout, env)


def load_tool(path, name):
    """Import a tool script as module ``name`` (to call it in-process).

    The one way the tests load a tool (the tools are scripts, not a
    package). The module is registered in ``sys.modules`` first, as
    importlib's recipe does, so that pickle finds its functions by name
    (the worker processes of ``prepare_faces`` and ``label_landmarks``).
    """
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def explain(proc):
    """The tail of a run's output, for assertion messages."""
    return f'exit {proc.returncode}; output tail:\n{proc.stdout[-6000:]}'
