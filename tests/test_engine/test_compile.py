"""The ``compile`` switch: compiled networks compute what the eager ones do.

Each model's CPU config (the full architecture, narrowed) is compiled with
``compile_model`` and trained side by side with an eager twin from the same
weights and data: losses, gradients and eval outputs must match to float
rounding. The default backend (inductor, which generates and builds C++
kernels) is tested on APViT; the other models go through ``aot_eager``,
which traces forward and backward graphs the same way but runs them with
torch's own kernels, so the suite does not spend minutes in the C++
compiler.
"""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper

from ferpretrain.engine import (CompileHook, compile_model, compile_options,
                                use_compile_hook)

from test_amp import batch, build  # noqa: E402  (same folder)

#: Largest ``|g_compiled - g_eager| / |g_eager|`` of a parameter's gradient.
GRAD_RTOL = 1e-3
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_compile_options():
    assert compile_options(None) is None
    assert compile_options(False) is None
    assert compile_options(True) == {}
    assert compile_options(dict(backend='eager')) == dict(backend='eager')
    with pytest.raises(TypeError, match='must be True, False or a dict'):
        compile_options('inductor')
    with pytest.raises(TypeError, match='must be True, False or a dict'):
        CompileHook(compile_cfg='yes')


def test_use_compile_hook_moves_the_setting_out_of_mmengines_way():
    cfg = Config(dict(compile=dict(backend='eager'),
                      custom_hooks=[dict(type='EMAHook')]))
    assert use_compile_hook(cfg)
    # mmengine's Runner would compile train_step if the key stayed.
    assert 'compile' not in cfg
    assert cfg.custom_hooks == [
        dict(type='EMAHook'),
        dict(type='CompileHook', compile_cfg=dict(backend='eager'))
    ]
    off = Config(dict(compile=False))
    assert not use_compile_hook(off) and 'custom_hooks' not in off
    forced = Config(dict())
    assert use_compile_hook(forced, force=True)
    assert forced.custom_hooks == [dict(type='CompileHook', compile_cfg=True)]


def grads(model):
    return {
        n: p.grad.clone()
        for n, p in model.named_parameters() if p.grad is not None
    }


def check_compiled_equals_eager(name, compile_cfg, steps=2):
    eager, size = build(name)
    compiled = copy.deepcopy(eager)
    names = compile_model(compiled, compile_cfg)
    expected = ['backbone', 'neck', 'head']
    if name.startswith('poster'):
        expected.insert(0, 'landmark_backbone')
    assert sorted(names) == sorted(expected)
    # Compiled in place: the parameter names (and so checkpoints) are the
    # eager ones, without torch.compile's ``_orig_mod.`` prefix.
    assert list(compiled.state_dict()) == list(eager.state_dict())

    data = batch(size)
    for model in (eager, compiled):
        model.train()
    wrappers = [
        OptimWrapper(torch.optim.AdamW(m.parameters(), 1e-3))
        for m in (eager, compiled)
    ]
    for step in range(steps):
        logs = []
        for model, wrapper in zip((eager, compiled), wrappers):
            torch.manual_seed(step)  # the same dropping / drop-path draws
            wrapper.zero_grad()
            data_in = model.data_preprocessor(data, True)
            losses = model(**data_in, mode='loss')
            loss, _ = model.parse_losses(losses)
            loss.backward()
            logs.append((loss.detach(), grads(model)))
            wrapper.step()
        (loss_e, grads_e), (loss_c, grads_c) = logs
        torch.testing.assert_close(loss_c, loss_e, rtol=1e-4, atol=1e-5)
        assert grads_c.keys() == grads_e.keys()
        for key, expected_grad in grads_e.items():
            # Relative to the whole gradient: the compiled kernels sum in
            # another order, so single small entries differ by rounding. The
            # floor covers gradients that are zero up to rounding (a bias
            # followed by BatchNorm).
            error = (grads_c[key] - expected_grad).norm()
            assert error <= GRAD_RTOL * expected_grad.norm() + 1e-6, (
                key, float(error), float(expected_grad.norm()))

    # Adam turns rounding-level gradients (zero up to rounding) into full
    # steps of either sign, so after training the weights differ slightly;
    # the eval forward is compared from the same weights. The eager state
    # dict loads as it is: compiling in place kept the keys.
    compiled.load_state_dict(eager.state_dict())
    # The compiled path really ran: dynamo captured graphs.
    assert torch._dynamo.utils.counters['stats']['unique_graphs'] > 0
    for model in (eager, compiled):
        model.eval()
    with torch.no_grad():
        inputs = eager.data_preprocessor(data, False)['inputs']
        torch.testing.assert_close(
            compiled(inputs, mode='tensor'), eager(inputs, mode='tensor'),
            rtol=1e-4, atol=1e-5)


def test_inductor_compiled_apvit_equals_eager():
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    check_compiled_equals_eager('apvit', True)


@pytest.mark.parametrize('name', ['transfer', 'poster', 'poster_v2'])
def test_traced_models_equal_eager(name):
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    check_compiled_equals_eager(name, dict(backend='aot_eager'), steps=1)
