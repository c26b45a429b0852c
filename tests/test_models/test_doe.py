"""Difference of Embeddings and its disentangled variant: sizes, the
combination formula, frozen encoders, stage 2 reading stage 1."""
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config

from ferpretrain.analysis import get_model_complexity
from ferpretrain.models.classifiers import (DifferenceOfEmbeddings,
                                            EmotionIdentityClassifier)
from ferpretrain.models.utils import EmbeddingDifference
from ferpretrain.registry import MODELS
from ferpretrain.utils.errors import CheckpointMismatchError, ConfigError

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _model_cfg(config):
    cfg = Config.fromfile(osp.join(REPO, config))
    model = cfg.model.copy()
    model['data_preprocessor'] = cfg.data_preprocessor
    return model


def _small_doe(**kwargs):
    """The DoE code with MobileNetV3-Small (a few ms a pass at 32x32)."""
    model = DifferenceOfEmbeddings(
        backbone=dict(
            type='MobileNetV3',
            arch='small',
            out_indices=(12, ),
            # momentum None: one training pass sets the statistics exactly
            norm_cfg=dict(type='BN', eps=1e-3, momentum=None)),
        head=dict(
            type='StackedLinearClsHead',
            num_classes=5,
            in_channels=2 * 576,
            mid_channels=[32, 16]),
        data_preprocessor=dict(num_classes=5),
        **kwargs)
    if 'backbone_checkpoint' not in kwargs:
        model.init_weights()
    if not model.freeze_backbone:
        # Untrained BatchNorm statistics (0, 1) make the features of a fresh
        # MobileNetV3 vanish in eval mode: set them from one batch.
        model.train()
        with torch.no_grad():
            model(torch.randn(16, 2, 3, 32, 32), mode='tensor')
        model.eval()
    return model


def _bn_stats(module):
    return {
        k: v.clone()
        for k, v in module.state_dict().items()
        if 'running_' in k or 'num_batches' in k
    }


def test_embedding_difference_formula():
    pair = torch.randn(3, 2, 4)
    out = EmbeddingDifference()(pair)
    neutral, target = pair[:, 0], pair[:, 1]
    assert torch.equal(out, torch.cat([target - neutral, target], 1))
    assert EmbeddingDifference().out_channels(4) == 8
    only = EmbeddingDifference(parts=('difference', ))(pair)
    assert torch.equal(only, target - neutral)
    with pytest.raises(ValueError, match='parts'):
        EmbeddingDifference(parts=('target', 'target'))
    with pytest.raises(ValueError, match=r'\(B, 2, D\)'):
        EmbeddingDifference()(torch.randn(3, 4))


def test_full_size_doe_matches_the_seed():
    """MobileNetV3-Large (960-d, 2.97 M without its classifier layers,
    0.22 GMAC at 224 as the MobileNetV3 paper's 219 M MAdds) twice, and the
    seed's MLP 1920-256-128-64-32-7 (0.535 M)."""
    model = MODELS.build(_model_cfg('configs/doe/ckplus.py'))
    assert isinstance(model, DifferenceOfEmbeddings)
    dims = [layer.fc.in_features for layer in model.head.layers]
    dims.append(model.head.layers[-1].fc.out_features)
    assert dims == [1920, 256, 128, 64, 32, 7]
    assert all(not isinstance(m, nn.Dropout) for m in model.head.modules())
    encoder = get_model_complexity(model.backbone, 224)
    assert round(encoder.params_m, 2) == 2.97
    assert round(encoder.gmac, 3) == 0.223
    head = sum(p.numel() for p in model.head.parameters())
    assert head == 535239
    whole = get_model_complexity(model, 224)
    assert whole.faces_per_input == 2
    assert round(whole.params_m, 2) == 3.51
    # Two faces through the encoder; the head is a rounding error.
    assert round(whole.gmac, 3) == 0.448
    # The seed freezes the ImageNet encoder.
    assert model.freeze_backbone
    assert not any(p.requires_grad for p in model.backbone.parameters())


def test_doe_logits_follow_the_formula():
    torch.manual_seed(0)
    model = _small_doe().eval()
    pairs = torch.randn(3, 2, 3, 32, 32)
    with torch.no_grad():
        logits = model(pairs, mode='tensor')
        neutral = model.neck(model.backbone(pairs[:, 0]))[-1]
        target = model.neck(model.backbone(pairs[:, 1]))[-1]
        expected = model.head(
            (torch.cat([target - neutral, target], dim=1), ))
        assert torch.allclose(logits, expected, atol=1e-5)
        # The order of the pair matters: index 0 is the neutral face.
        swapped = model(pairs.flip(1), mode='tensor')
        assert not torch.allclose(swapped, logits, atol=1e-3)
        # A target against itself: the difference is zero.
        same = torch.stack([pairs[:, 1], pairs[:, 1]], dim=1)
        alone = model.head((torch.cat([torch.zeros_like(target), target],
                                      dim=1), ))
        assert torch.allclose(model(same, mode='tensor'), alone, atol=1e-5)


def test_doe_refuses_single_faces():
    model = _small_doe().eval()
    with pytest.raises(ValueError, match='pairs of faces'):
        model(torch.randn(2, 3, 32, 32), mode='tensor')


def test_frozen_encoder_stays_fixed_while_the_head_trains():
    torch.manual_seed(0)
    model = _small_doe(freeze_backbone=True)
    model.train()
    assert not model.backbone.training
    assert all(not m.training for m in model.backbone.modules())
    assert model.head.training
    stats = _bn_stats(model.backbone)
    weights = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    head_before = [p.clone() for p in model.head.parameters()]
    optim = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.1)
    from mmpretrain.structures import DataSample
    samples = [DataSample().set_gt_label(i % 5) for i in range(4)]
    for _ in range(2):
        losses = model(torch.randn(4, 2, 3, 32, 32), samples, mode='loss')
        optim.zero_grad()
        losses['loss'].backward()
        optim.step()
    after = model.backbone.state_dict()
    assert all(torch.equal(stats[k], after[k]) for k in stats)
    assert all(torch.equal(weights[k], after[k]) for k in weights)
    assert any(not torch.equal(a, b)
               for a, b in zip(head_before, model.head.parameters()))


def test_unfrozen_encoder_trains():
    torch.manual_seed(0)
    model = _small_doe(freeze_backbone=False).train()
    stats = _bn_stats(model.backbone)
    model(torch.randn(4, 2, 3, 32, 32), mode='tensor')
    after = model.backbone.state_dict()
    assert any(not torch.equal(stats[k], after[k]) for k in stats
               if 'running_mean' in k)


def _small_stage1():
    return EmotionIdentityClassifier(
        backbone=dict(type='MobileNetV3', arch='small', out_indices=(12, )),
        identity_encoder=dict(type='VGGFace2ResNet', frozen=True),
        head=dict(
            type='StackedLinearClsHead',
            num_classes=6,
            in_channels=2048 + 576,
            mid_channels=[16]),
        data_preprocessor=dict(num_classes=6))


def test_stage1_identity_encoder_is_frozen_and_concatenated_first():
    torch.manual_seed(0)
    model = _small_stage1()
    model.train()
    assert not model.identity_encoder.training
    assert not any(p.requires_grad
                   for p in model.identity_encoder.parameters())
    assert any(p.requires_grad for p in model.backbone.parameters())
    stats = _bn_stats(model.identity_encoder)
    faces = torch.randn(2, 3, 32, 32)
    feats = model.extract_feat(faces)[0]
    after = model.identity_encoder.state_dict()
    assert all(torch.equal(stats[k], after[k]) for k in stats)
    model.eval()
    with torch.no_grad():
        feats = model.extract_feat(faces)[0]
        identity = model.neck(model.identity_encoder(faces))[-1]
        emotion = model.neck(model.backbone(faces))[-1]
    assert feats.shape == (2, 2048 + 576)
    assert torch.allclose(feats, torch.cat([identity, emotion], 1))
    with pytest.raises(ValueError, match='single faces'):
        model(torch.randn(2, 2, 3, 32, 32), mode='tensor')


def test_full_size_stage1():
    model = MODELS.build(
        _model_cfg('configs/disentangled_doe/ckplus_stage1.py'))
    assert isinstance(model, EmotionIdentityClassifier)
    assert model.head.layers[0].fc.in_features == 3008
    identity = sum(p.numel() for p in model.identity_encoder.parameters())
    assert round(identity / 1e6, 2) == 23.51


def test_stage2_reads_stage1_encoder_strictly(tmp_path):
    torch.manual_seed(0)
    stage1 = _small_stage1()
    ckpt = tmp_path / 'stage1.pth'
    torch.save({'state_dict': stage1.state_dict(), 'meta': {}}, ckpt)
    stage2 = _small_doe(freeze_backbone=True, backbone_checkpoint=str(ckpt))
    stage2.init_weights()
    ours = stage2.backbone.state_dict()
    for key, value in stage1.backbone.state_dict().items():
        assert torch.equal(ours[key], value), key
    assert not any(p.requires_grad for p in stage2.backbone.parameters())

    # Another model's file: refused, not half-loaded.
    other = tmp_path / 'other.pth'
    torch.save({'state_dict': {'head.fc.weight': torch.zeros(2, 2)}}, other)
    with pytest.raises(CheckpointMismatchError, match="no weights under"):
        _small_doe(backbone_checkpoint=str(other)).init_weights()
    # An encoder of another shape (MobileNetV3-Large vs -Small).
    big = DifferenceOfEmbeddings(
        backbone=dict(type='MobileNetV3', arch='large', out_indices=(16, )),
        head=dict(type='StackedLinearClsHead', num_classes=5,
                  in_channels=1920, mid_channels=[8]),
        backbone_checkpoint=str(ckpt))
    with pytest.raises(CheckpointMismatchError, match='do not fit'):
        big.init_weights()
    with pytest.raises(ConfigError, match='model.backbone_checkpoint'):
        _small_doe(backbone_checkpoint=str(tmp_path / 'nope.pth')) \
            .init_weights()


# ------------------------------------------------ the demo configs train
def _demo_cfg(config, data_root, work_dir):
    cfg = Config.fromfile(osp.join(REPO, config))
    cfg.work_dir = str(work_dir)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader_cfg = cfg[loader]
        loader_cfg.batch_size = 8
        loader_cfg.num_workers = 0
        loader_cfg.persistent_workers = False
        inner = loader_cfg.dataset
        while 'dataset' in inner:
            inner = inner.dataset
        inner.data_root = str(data_root)
    cfg.train_cfg.max_epochs = 1
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.max_keep_ckpts = 1
    cfg.randomness = dict(seed=0)
    return cfg


def _train(cfg):
    """Train; return the runner and the weights training started from
    (after initialisation and loading)."""
    from mmengine.hooks import Hook
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    start = {}

    class Snapshot(Hook):

        def before_train(self, runner):
            start.update({
                k: v.clone()
                for k, v in runner.model.state_dict().items()
            })

    with DefaultScope.overwrite_default_scope('mmpretrain'):
        runner = Runner.from_cfg(cfg)
    runner.register_hook(Snapshot(), 'LOWEST')
    runner.train()
    return runner, start


def test_demo_configs_train_doe_then_both_stages(tmp_path):
    """Each Difference-of-Embeddings config for the demo pairs trains a few
    iterations through mmengine's Runner; stage 2 starts from stage 1's
    checkpoint and keeps that encoder fixed."""
    from ferpretrain.datasets.synthetic_faces import generate_synthetic_pairs
    from ferpretrain.utils import register_all_modules
    register_all_modules()
    data = tmp_path / 'demo_pairs'
    # 3 training persons x 6 expressions = 18 pairs (21 faces for stage 1).
    generate_synthetic_pairs(str(data), 3, 1, size=16)

    runner, before = _train(_demo_cfg('configs/doe/demo_pairs_cpu.py', data,
                                      tmp_path / 'doe'))
    assert runner.iter == 3  # 18 pairs, batch 8
    after = runner.model.state_dict()
    assert not torch.equal(before['head.layers.0.fc.weight'],
                           after['head.layers.0.fc.weight'])
    # The demo trains its encoder (no ImageNet file here).
    assert not torch.equal(before['backbone.layer0.conv.weight'],
                           after['backbone.layer0.conv.weight'])

    doe = after
    cfg = _demo_cfg('configs/disentangled_doe/demo_pairs_stage1_cpu.py',
                    data, tmp_path / 'stage1')
    # Stage 1's emotion encoder starts from the DoE demo's encoder.
    cfg.model.backbone.init_cfg.checkpoint = str(tmp_path / 'doe' /
                                                 'epoch_1.pth')
    runner, before = _train(cfg)
    assert runner.iter == 3  # 21 faces, batch 8
    assert all(
        torch.equal(before[k], doe[k]) for k in doe
        if k.startswith('backbone.'))
    stage1 = runner.model.state_dict()
    identity = [k for k in stage1 if k.startswith('identity_encoder.')]
    assert identity and all(torch.equal(before[k], stage1[k])
                            for k in identity)
    assert not torch.equal(before['backbone.layer0.conv.weight'],
                           stage1['backbone.layer0.conv.weight'])

    cfg = _demo_cfg('configs/disentangled_doe/demo_pairs_stage2_cpu.py',
                    data, tmp_path / 'stage2')
    cfg.model.backbone_checkpoint = str(tmp_path / 'stage1' / 'epoch_1.pth')
    runner, before = _train(cfg)
    stage2 = runner.model.state_dict()
    encoder = [k for k in stage2 if k.startswith('backbone.')]
    assert all(torch.equal(stage2[k], stage1[k]) for k in encoder)
    assert not torch.equal(before['head.layers.0.fc.weight'],
                           stage2['head.layers.0.fc.weight'])


def test_head_initialisation_lets_the_mlp_learn():
    """mmpretrain's StackedLinearClsHead default, N(0, 0.01), shrinks the
    signal through the seed's five layers (logits about 40x less spread
    over inputs than with the configs' Glorot init)."""
    cfg = Config.fromfile(osp.join(REPO, 'configs/doe/ckplus.py'))
    feats = (torch.randn(64, 1920), )
    spreads = {}
    for name, init in (('config', cfg.model.head.init_cfg), ('default',
                                                             None)):
        head_cfg = cfg.model.head.copy()
        if init is None:
            head_cfg.pop('init_cfg')
        torch.manual_seed(0)
        head = MODELS.build(head_cfg)
        head.init_weights()
        with torch.no_grad():
            spreads[name] = head(feats).std(0).mean().item()
    assert spreads['config'] > 0.05
    assert spreads['config'] > 20 * spreads['default']
