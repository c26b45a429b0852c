"""SAMOptimWrapper against a hand-written two-step SAM + Adam reference.

The model is a plain mmpretrain ``ImageClassifier`` (LeNet-5 backbone, no
dropout or BatchNorm, so both passes are deterministic); the reference uses
only torch: autograd gradients, ``e(w)``, perturbed gradients and Adam's
update written out.
"""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.dataset import pseudo_collate
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch.func import functional_call

from ferpretrain.engine import SAMOptimWrapper

NUM_CLASSES = 3
LR = 1e-2
# Larger than POSTER's 0.05 so that e(w) visibly changes the updates of a
# model this small (Adam's first step only sees the sign of the gradient).
RHO = 0.5
# Adam divides by sqrt(v) + eps: with torch's 1e-8, a gradient that is ~0 up
# to float32 rounding (the two paths reduce the loss in a different order)
# turns a 1-ulp difference into a visible step. A larger eps keeps the
# comparison about SAM, not about rounding.
ADAM_EPS = 1e-3


def build_model():
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='LeNet5'),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead', num_classes=NUM_CLASSES,
                in_channels=120)))
    model.init_weights()
    return model


def make_batches(num_batches, batch_size=4):
    """Raw dataloader batches (``pseudo_collate`` of packed samples)."""
    gen = torch.Generator().manual_seed(1)
    samples = [
        dict(
            inputs=torch.randn(1, 32, 32, generator=gen),
            data_samples=DataSample().set_gt_label(i % NUM_CLASSES))
        for i in range(num_batches * batch_size)
    ]
    return [
        pseudo_collate(samples[i:i + batch_size])
        for i in range(0, len(samples), batch_size)
    ]


def sam_cfg(**kwargs):
    cfg = dict(
        type='SAMOptimWrapper',
        rho=RHO,
        optimizer=dict(type='Adam', lr=LR, eps=ADAM_EPS))
    cfg.update(kwargs)
    return cfg


def reference_sam_adam(model,
                       batches,
                       lrs,
                       rho,
                       adaptive=False,
                       betas=(0.9, 0.999),
                       eps=ADAM_EPS):
    """Two-step SAM (or ASAM) with a hand-written Adam, torch only.

    Returns the parameters after one update per batch, ``lrs[i]`` being the
    learning rate of update ``i``.
    """
    model = copy.deepcopy(model)
    names = [n for n, _ in model.named_parameters()]
    weights = [p.detach().clone() for _, p in model.named_parameters()]
    exp_avg = [torch.zeros_like(w) for w in weights]
    exp_avg_sq = [torch.zeros_like(w) for w in weights]

    def grads_at(ws, batch):
        ws = [w.detach().requires_grad_() for w in ws]
        inputs = torch.stack(batch['inputs'])
        labels = torch.cat([s.gt_label for s in batch['data_samples']])
        logits = functional_call(model, dict(zip(names, ws)), (inputs, ),
                                 dict(mode='tensor'))
        return torch.autograd.grad(F.cross_entropy(logits, labels), ws)

    for t, (batch, lr) in enumerate(zip(batches, lrs), start=1):
        g = grads_at(weights, batch)
        if adaptive:  # ASAM: rho * w^2 g / ||w g||
            norm = torch.sqrt(
                sum(((w.abs() * gi)**2).sum() for w, gi in zip(weights, g)))
            e = [
                rho * w * w * gi / (norm + 1e-12) for w, gi in zip(weights, g)
            ]
        else:  # SAM: rho g / ||g||
            norm = torch.sqrt(sum((gi**2).sum() for gi in g))
            e = [rho * gi / (norm + 1e-12) for gi in g]
        g_sam = grads_at([w + ei for w, ei in zip(weights, e)], batch)
        for i, gi in enumerate(g_sam):
            exp_avg[i] = betas[0] * exp_avg[i] + (1 - betas[0]) * gi
            exp_avg_sq[i] = betas[1] * exp_avg_sq[i] + (1 - betas[1]) * gi**2
            m_hat = exp_avg[i] / (1 - betas[0]**t)
            v_hat = exp_avg_sq[i] / (1 - betas[1]**t)
            weights[i] = weights[i] - lr * m_hat / (v_hat.sqrt() + eps)
    return weights


def assert_params_equal(model, weights, atol=1e-6):
    for p, w in zip(model.parameters(), weights):
        torch.testing.assert_close(p.detach(), w, atol=atol, rtol=0)


@pytest.mark.parametrize('adaptive', [False, True])
def test_train_step_matches_reference(adaptive):
    """mmengine's own ``BaseModel.train_step`` drives both SAM passes."""
    model = build_model()
    batches = make_batches(3)
    expected = reference_sam_adam(model, batches, [LR] * 3, RHO, adaptive)
    plain_adam = reference_sam_adam(model, batches, [LR] * 3, 0.0)

    optim_wrapper = build_optim_wrapper(model, sam_cfg(adaptive=adaptive))
    assert isinstance(optim_wrapper, SAMOptimWrapper)
    for batch in batches:
        log_vars = model.train_step(batch, optim_wrapper)
    assert set(log_vars) == {'loss'}
    assert_params_equal(model, expected)
    # The test is sensitive to e(w): SAM lands far from plain Adam.
    diff = max(
        (w1 - w2).abs().max().item() for w1, w2 in zip(expected, plain_adam))
    assert diff > 1e-3
    scalars = optim_wrapper.message_hub.log_scalars
    assert 'train/sam_loss_perturbed' in scalars
    assert 'train/sam_grad_norm' in scalars


def test_explicit_closure_equals_captured_batch():
    """A custom train_step can hand the closure over itself."""
    model = build_model()
    batch = make_batches(1)[0]
    expected = reference_sam_adam(model, [batch], [LR], RHO)
    optim_wrapper = build_optim_wrapper(model, sam_cfg())

    def loss_fn():
        data = model.data_preprocessor(batch, True)
        return model.parse_losses(model(**data, mode='loss'))[0]

    optim_wrapper.update_params(loss_fn(), closure=loss_fn)
    assert_params_equal(model, expected)


def test_missing_closure_is_a_clear_error():
    model = build_model()
    before = copy.deepcopy(model.state_dict())
    optim_wrapper = build_optim_wrapper(model, sam_cfg())
    data = model.data_preprocessor(make_batches(1)[0], True)
    # The loss is computed outside optim_context: no batch is recorded.
    loss, _ = model.parse_losses(model(**data, mode='loss'))
    with pytest.raises(RuntimeError, match=r'optim_context.*closure=fn'):
        optim_wrapper.update_params(loss)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])
    assert not optim_wrapper.optimizer.state  # no step was taken


def test_refuses_plain_step_and_accumulation():
    model = build_model()
    optim_wrapper = build_optim_wrapper(model, sam_cfg())
    with pytest.raises(RuntimeError, match='update_params'):
        optim_wrapper.step()
    with pytest.raises(ValueError, match='accumulative_counts'):
        build_optim_wrapper(model, sam_cfg(accumulative_counts=2))


def test_error_in_second_pass_restores_weights():
    model = build_model()
    before = [p.detach().clone() for p in model.parameters()]
    optim_wrapper = build_optim_wrapper(model, sam_cfg())
    data = model.data_preprocessor(make_batches(1)[0], True)
    loss, _ = model.parse_losses(model(**data, mode='loss'))

    def failing_closure():
        raise KeyError('boom')

    with pytest.raises(KeyError):
        optim_wrapper.update_params(loss, closure=failing_closure)
    assert_params_equal(model, before, atol=0)


def test_runner_with_lr_scheduler(tmp_path):
    """Two epochs of a real Runner; ExponentialLR steps the base Adam."""
    model = build_model()
    batches = make_batches(2)
    gamma = 0.5
    # Two epochs over the same two batches; the lr decays after epoch 1.
    expected = reference_sam_adam(model, batches * 2,
                                  [LR, LR, LR * gamma, LR * gamma], RHO)
    samples = [
        dict(inputs=inp, data_samples=ds) for batch in batches
        for inp, ds in zip(batch['inputs'], batch['data_samples'])
    ]
    loader = torch.utils.data.DataLoader(
        samples, batch_size=4, shuffle=False, collate_fn=pseudo_collate)
    runner = Runner(
        model=model,
        work_dir=str(tmp_path),
        train_dataloader=loader,
        train_cfg=dict(by_epoch=True, max_epochs=2),
        optim_wrapper=sam_cfg(),
        param_scheduler=dict(type='ExponentialLR', gamma=gamma, by_epoch=True),
        default_hooks=dict(checkpoint=None),
        default_scope='mmpretrain',
        log_level='WARNING')
    runner.train()
    assert_params_equal(model, expected)
    # The scheduler acts on the base Adam. (The Runner sets its default
    # `end` to max_epochs, so only the decay after epoch 1 applies.)
    optim_wrapper = runner.optim_wrapper
    assert optim_wrapper.get_lr()['lr'] == [pytest.approx(LR * gamma)]
    assert optim_wrapper.optimizer.param_groups[0]['lr'] == pytest.approx(
        LR * gamma)
    # Exactly one base-optimizer step per SAM iteration.
    assert runner.iter == 4
    adam_state = optim_wrapper.optimizer.state[next(model.parameters())]
    assert int(adam_state['step']) == 4


@pytest.mark.parametrize('sync_first_pass', [True, False])
def test_ddp_syncs_the_intended_passes(tmp_path, sync_first_pass):
    """One-process gloo DDP: count the gradient all-reduces of each pass.

    With one process the all-reduce is an identity, so the result must equal
    the reference; a communication hook counts the buckets DDP reduced.
    """
    import torch.distributed as dist
    dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path}/store', rank=0, world_size=1)
    try:
        model = build_model()
        batch = make_batches(1)[0]
        expected = reference_sam_adam(model, [batch], [LR], RHO)
        ddp = MMDistributedDataParallel(module=model, device_ids=None)
        calls = []

        def counting_hook(state, bucket):
            calls.append(1)
            fut = torch.futures.Future()
            fut.set_result(bucket.buffer())
            return fut

        ddp.register_comm_hook(None, counting_hook)
        optim_wrapper = build_optim_wrapper(
            model, sam_cfg(sync_first_pass=sync_first_pass))
        ddp.train_step(batch, optim_wrapper)
        assert_params_equal(model, expected)
        # The tiny model fits one gradient bucket: one reduction per synced
        # pass, and the second pass is always synced.
        assert len(calls) == (2 if sync_first_pass else 1)
    finally:
        dist.destroy_process_group()
