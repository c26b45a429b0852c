"""POSTERLoss against CE + 2 x LSCE written out as in POSTER's code."""
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ferpretrain.models import POSTERLoss

NUM_CLASSES = 7


def posters_lsce(logits, target, smoothing):
    """zczcwh/POSTER utils.py LabelSmoothingCrossEntropy, per sample."""
    logprobs = F.log_softmax(logits, dim=-1)
    nll = -logprobs.gather(dim=-1, index=target.unsqueeze(1)).squeeze(1)
    smooth = -logprobs.mean(dim=-1)
    return (1 - smoothing) * nll + smoothing * smooth


def scores_and_labels(n=6):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(n, NUM_CLASSES, generator=gen) * 3
    labels = torch.randint(0, NUM_CLASSES, (n, ), generator=gen)
    return logits, labels


def test_defaults_equal_ce_plus_twice_lsce():
    logits, labels = scores_and_labels()
    expected = (
        F.cross_entropy(logits, labels) +
        2 * posters_lsce(logits, labels, 0.2).mean())
    loss = MODELS.build(dict(type='POSTERLoss'))
    torch.testing.assert_close(loss(logits, labels), expected)
    # (N, 1) indices and one-hot targets give the same value.
    torch.testing.assert_close(loss(logits, labels[:, None]), expected)
    one_hot = F.one_hot(labels, NUM_CLASSES).float()
    torch.testing.assert_close(loss(logits, one_hot), expected)


def test_smoothing_is_uniform_over_all_classes():
    """POSTER's eps/C everywhere, not eps/(C-1) off the target."""
    logits, labels = scores_and_labels()
    eps = 0.2
    target = F.one_hot(labels, NUM_CLASSES) * (1 - eps) + eps / NUM_CLASSES
    by_target = -(target * F.log_softmax(logits, -1)).sum(-1).mean()
    loss = POSTERLoss(ce_weight=0.0, ls_weight=1.0, label_smooth_val=eps)
    torch.testing.assert_close(loss(logits, labels), by_target)


def test_weights_smoothing_and_reduction_are_configurable():
    logits, labels = scores_and_labels()
    weight = torch.rand(len(labels))
    loss = POSTERLoss(
        ce_weight=0.5,
        ls_weight=1.5,
        label_smooth_val=0.1,
        loss_weight=2.0,
        reduction='none')
    per_sample = 2.0 * (
        0.5 * F.cross_entropy(logits, labels, reduction='none') +
        1.5 * posters_lsce(logits, labels, 0.1))
    torch.testing.assert_close(loss(logits, labels), per_sample)
    torch.testing.assert_close(
        loss(logits, labels, weight=weight, reduction_override='sum'),
        (per_sample * weight).sum())


def test_soft_labels():
    logits, _ = scores_and_labels()
    soft = torch.softmax(torch.randn(*logits.shape), dim=-1)
    logp = F.log_softmax(logits, -1)
    smoothed = soft * 0.8 + 0.2 / NUM_CLASSES
    expected = (-(soft * logp).sum(-1) - 2 * (smoothed * logp).sum(-1)).mean()
    torch.testing.assert_close(POSTERLoss()(logits, soft), expected)


def test_gradients_flow():
    logits, labels = scores_and_labels()
    logits.requires_grad_()
    POSTERLoss()(logits, labels).backward()
    assert logits.grad is not None
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_bad_shapes_are_refused():
    logits, labels = scores_and_labels()
    with pytest.raises(ValueError, match='soft targets'):
        POSTERLoss()(logits, torch.zeros(len(labels), 3))
    with pytest.raises(ValueError, match='built for 8 classes'):
        POSTERLoss(num_classes=8)(logits, labels)


def test_as_linear_cls_head_loss():
    torch.manual_seed(0)
    head = MODELS.build(
        dict(
            type='LinearClsHead',
            num_classes=NUM_CLASSES,
            in_channels=16,
            loss=dict(type='POSTERLoss')))
    assert isinstance(head.loss_module, POSTERLoss)
    feats = torch.randn(4, 16)
    labels = torch.tensor([0, 3, 6, 2])
    samples = [DataSample().set_gt_label(int(y)) for y in labels]
    losses = head.loss((feats, ), samples)
    logits = head((feats, ))
    expected = (
        F.cross_entropy(logits, labels) +
        2 * posters_lsce(logits, labels, 0.2).mean())
    torch.testing.assert_close(losses['loss'], expected)
