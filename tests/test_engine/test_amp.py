"""Mixed precision on CPU: bf16 autocast trains every model like fp32.

Each model's CPU config (the full architectures, narrowed) runs a few
optimizer steps from the same weights and data in float32 and under
bfloat16 autocast; the losses must agree within ``LOSS_RTOL``. bf16 keeps 8
bits of mantissa (about 2-3 significant digits), the master weights stay
fp32, so over a few steps the losses differ by a fraction of a percent.
"""
import copy
import glob
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmpretrain.structures import DataSample

from ferpretrain.engine import (MixedPrecisionOptimWrapper, SAMOptimWrapper,
                                autocast_context)
from ferpretrain.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: Largest relative difference of a step's loss, bf16 against fp32.
LOSS_RTOL = 0.02
STEPS = 3
CONFIGS = {
    'apvit': ('configs/apvit/fer2013_cpu.py', 48),
    'transfer': ('configs/transfer/fer2013_cpu.py', 48),
    'poster': ('configs/poster/fer2013_cpu.py', 64),
    'poster_v2': ('configs/poster_v2/fer2013_cpu.py', 64),
}


def build(name):
    path, size = CONFIGS[name]
    cfg = Config.fromfile(osp.join(REPO, path))
    if 'landmark_backbone' in cfg.model:
        cfg.model.landmark_backbone.init_cfg = None  # no file in tests
    cfg.model.data_preprocessor = cfg.data_preprocessor
    torch.manual_seed(0)
    return MODELS.build(cfg.model), size


def batch(size, n=8):
    gen = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (n, 3, size, size), generator=gen,
                           dtype=torch.uint8)
    return dict(inputs=list(images),
                data_samples=[DataSample().set_gt_label(i % 7)
                              for i in range(n)])


def train_losses(model, wrapper, size):
    data = batch(size)
    losses = []
    for step in range(STEPS):
        torch.manual_seed(step)  # the same dropping / drop-path draws
        log = model.train_step(data, wrapper)
        losses.append(float(torch.as_tensor(log['loss']).detach()))
    return losses


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_bf16_training_matches_fp32(name):
    model, size = build(name)
    twin = copy.deepcopy(model)
    model.train()
    twin.train()
    fp32 = train_losses(
        model, OptimWrapper(torch.optim.AdamW(model.parameters(), 1e-3)),
        size)
    bf16 = train_losses(
        twin,
        MixedPrecisionOptimWrapper(
            torch.optim.AdamW(twin.parameters(), 1e-3), dtype='bfloat16'),
        size)
    for a, b in zip(fp32, bf16):
        assert abs(a - b) <= LOSS_RTOL * abs(a), (fp32, bf16)
    # Master weights stay float32.
    assert all(p.dtype == torch.float32 for p in twin.parameters())


def test_autocast_really_runs_bf16_and_sam_uses_it():
    model, size = build('poster_v2')
    model.train()
    dtypes = []
    hook = model.neck.layers[0].mlp.fc1.register_forward_hook(
        lambda m, i, o: dtypes.append(o.dtype))
    wrapper = SAMOptimWrapper(
        torch.optim.Adam(
            [p for p in model.parameters() if p.requires_grad], 1e-4),
        dtype='bfloat16')
    model.train_step(batch(size), wrapper)
    hook.remove()
    # Both SAM passes ran under bf16 autocast.
    assert dtypes == [torch.bfloat16, torch.bfloat16]


def test_dtype_errors_and_state():
    linear = nn.Linear(4, 2)
    with pytest.raises(ValueError, match='needs a GPU'):
        with autocast_context(linear, torch.float16):
            pass
    with pytest.raises(ValueError, match='one of'):
        MixedPrecisionOptimWrapper(
            torch.optim.SGD(linear.parameters(), 0.1), dtype='int8')
    with pytest.raises(ValueError, match='needs a dtype'):
        MixedPrecisionOptimWrapper(
            torch.optim.SGD(linear.parameters(), 0.1), dtype=None)
    with pytest.raises(ValueError, match="dtype='bfloat16' mixed"):
        SAMOptimWrapper(
            torch.optim.SGD(linear.parameters(), 0.1), dtype='float16')
    wrapper = MixedPrecisionOptimWrapper(
        torch.optim.SGD(linear.parameters(), 0.1))
    assert not wrapper.loss_scaler.is_enabled()  # bf16: no loss scaling
    state = wrapper.state_dict()
    assert state['loss_scaler'] == {}
    wrapper.load_state_dict(state)


def test_full_precision_cfg_inverts_mixed_precision_cfg():
    from ferpretrain.engine import full_precision_cfg, mixed_precision_cfg
    plain = dict(optimizer=dict(type='AdamW', lr=1e-3),
                 clip_grad=dict(max_norm=10))
    mixed = mixed_precision_cfg(plain, 'float16')
    assert mixed['type'] == 'MixedPrecisionOptimWrapper'
    back = full_precision_cfg(mixed)
    assert back == dict(plain, type='OptimWrapper')
    sam = dict(type='SAMOptimWrapper', rho=0.05, dtype='bfloat16',
               optimizer=dict(type='Adam', lr=1e-4))
    assert full_precision_cfg(sam) == dict(
        type='SAMOptimWrapper', rho=0.05, optimizer=dict(type='Adam',
                                                         lr=1e-4))
    assert 'dtype' in sam  # a copy: the config is left as it was
    # The bf16 CPU recipe's fp32 twin trains without autocast.
    cfg = Config.fromfile(osp.join(REPO, 'configs/apvit/fer2013_cpu_bf16.py'))
    assert cfg.optim_wrapper.type == 'MixedPrecisionOptimWrapper'
    assert full_precision_cfg(cfg.optim_wrapper).type == 'OptimWrapper'


BF16_RECIPES = sorted(
    osp.relpath(p, REPO)
    for p in glob.glob(osp.join(REPO, 'configs', '*', '*_bf16.py')))


def test_there_are_bf16_recipes():
    assert {'configs/apvit/fer2013_cpu_bf16.py',
            'configs/poster_v2/fer2013_cpu_bf16.py'} <= set(BF16_RECIPES)


@pytest.mark.parametrize('path', BF16_RECIPES)
def test_bf16_recipes_train_validate_and_test_in_bf16(path):
    """A ``*_bf16.py`` recipe builds the bf16 wrapper through mmengine and
    validates and tests under autocast; its fp32 twin exists."""
    from mmengine.optim import build_optim_wrapper

    assert osp.isfile(osp.join(REPO, path.replace('_bf16.py', '.py')))
    cfg = Config.fromfile(osp.join(REPO, path))
    assert cfg.val_cfg.fp16 and cfg.test_cfg.fp16
    model = nn.Linear(4, 2)  # the wrapper's set-up does not depend on it
    wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    assert isinstance(wrapper, MixedPrecisionOptimWrapper)
    assert wrapper.cast_dtype == torch.bfloat16
    assert not wrapper.loss_scaler.is_enabled()


def test_train_amp_flag_really_trains_in_bf16(tmp_path):
    """``tools/train.py --amp`` as a user runs it: the optimizer wrapper the
    config ends up with runs the forward under bf16 autocast (and without
    the flag, in float32)."""
    import sys

    from mmengine.optim import build_optim_wrapper
    sys.path.insert(0, osp.join(REPO, 'tests', 'test_tools'))
    from tool_helpers import TRAIN_PY, load_tool, write_config
    train = load_tool(TRAIN_PY, 'train_tool')
    config = write_config(tmp_path / 'tiny.py', tmp_path)

    def forward_dtypes(*flags):
        cfg = train.merge_args(
            Config.fromfile(config),
            train.parse_args([config, '--work-dir', str(tmp_path), *flags]))
        cfg.model.data_preprocessor = cfg.data_preprocessor
        model = MODELS.build(cfg.model)
        wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
        dtypes = []
        model.head.fc.register_forward_hook(
            lambda m, i, o: dtypes.append(o.dtype))
        data = batch(32, n=4)
        for sample in data['data_samples']:
            sample.set_gt_label(sample.gt_label % 2)
        model.train_step(data, wrapper)
        return dtypes

    assert forward_dtypes('--amp') == [torch.bfloat16]
    assert forward_dtypes() == [torch.float32]
