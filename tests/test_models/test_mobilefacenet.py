"""MobileFaceNet: shapes, size, freezing, upstream checkpoints, converter."""
import argparse
import logging
import os
import os.path as osp
import re
import runpy
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
from mmengine.logging import MMLogger

from ferpretrain.models.backbones import (MOBILEFACENET_OUT_NAMES,
                                          MobileFaceNet,
                                          convert_mobilefacenet_keys)
from ferpretrain.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONVERTER = osp.join(REPO, 'tools', 'model_converters',
                     'mobilefacenet_to_ferpretrain.py')
ALL_POINTS = tuple(range(len(MOBILEFACENET_OUT_NAMES)))


def _upstream_key_names():
    """State-dict names of upstream ``MobileFaceNet([112, 112], 136)``.

    Written out from the module definition in cunjian/pytorch_face_landmark
    (also POSTER's and POSTER V2's ``models/mobilefacenet.py``), not from
    ferpretrain's mapping, so the two are checked against each other.
    """

    bn_names = ('weight', 'bias', 'running_mean', 'running_var',
                'num_batches_tracked')

    def block(name, act=True):  # Conv_block, or Linear_block if not act
        names = [f'{name}.conv.weight'] + [f'{name}.bn.{t}' for t in bn_names]
        return names + ([f'{name}.prelu.weight'] if act else [])

    def depth_wise(name):
        return (block(f'{name}.conv') + block(f'{name}.conv_dw') +
                block(f'{name}.project', act=False))

    names = block('conv1') + block('conv2_dw')
    stages = (('conv_23', 'conv_3', 4), ('conv_34', 'conv_4', 6),
              ('conv_45', 'conv_5', 2))
    for down, residual, units in stages:
        names += depth_wise(down)
        for i in range(units):
            names += depth_wise(f'{residual}.model.{i}')
    names += block('conv_6_sep')
    # The GDC output layer: conv_6_dw, flatten, linear, bn (BatchNorm1d).
    names += block('output_layer.conv_6_dw', act=False)
    names += ['output_layer.linear.weight']
    names += [f'output_layer.bn.{t}' for t in bn_names]
    return names


def _to_upstream(name):
    name = re.sub(r'^(conv_[345])\.(\d+)\.', r'\1.model.\2.', name)
    return re.sub(r'^landmark_head\.', 'output_layer.', name)


def _random_full_model():
    model = MobileFaceNet(out_indices=ALL_POINTS, with_landmark_head=True)
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.rand_like(t) + 0.5)
    return model


def _upstream_checkpoint(model, dataparallel=False):
    """A training checkpoint as cunjian's script saves it (``.pth.tar``)."""
    prefix = 'module.' if dataparallel else ''
    state = {
        prefix + _to_upstream(k): v.clone()
        for k, v in model.state_dict().items()
    }
    return dict(
        epoch=57,
        state_dict=state,
        best_prec1=torch.tensor(0.031),
        optimizer=dict(state={}, param_groups=[dict(lr=1e-3, params=[0])]))


@pytest.fixture
def log_lines():
    """Messages logged to mmengine's current logger during the test."""
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


def test_feature_shapes_for_112_input():
    model = MobileFaceNet(out_indices=ALL_POINTS)
    outs = model(torch.randn(2, 3, 112, 112))
    assert [tuple(o.shape[1:]) for o in outs] == [(64, 56, 56), (64, 28, 28),
                                                  (128, 14, 14),
                                                  (128, 7, 7), (512, 7, 7)]
    # POSTER V2's queries; POSTER's default single map.
    poster_v2 = MobileFaceNet(out_indices=(1, 2, 4))
    assert poster_v2.out_channels == (64, 128, 512)
    assert [tuple(o.shape[1:])
            for o in poster_v2(torch.randn(1, 3, 112, 112))
            ] == [(64, 28, 28), (128, 14, 14), (512, 7, 7)]
    (feat, ) = MobileFaceNet()(torch.randn(1, 3, 112, 112))
    assert feat.shape == (1, 512, 7, 7)


def test_parameter_count_and_only_what_runs_is_built():
    full = MobileFaceNet(out_indices=ALL_POINTS, with_landmark_head=True)
    n_full = sum(p.numel() for p in full.parameters())
    # paper-facts: MobileFaceNet 1.01 M in POSTER V2 (with its 136 head).
    assert n_full == 1_007_248 and abs(n_full / 1.01e6 - 1) < 0.01
    assert [_to_upstream(k) for k in full.state_dict()
            ] == _upstream_key_names()

    features = MODELS.build(dict(type='MobileFaceNet', out_indices=(1, 2, 4)))
    assert features.landmark_head is None
    assert sum(p.numel() for p in features.parameters()) == 911_232
    early = MobileFaceNet(out_indices=(1, ))
    assert early.built_layers == ['conv1', 'conv2_dw', 'conv_23', 'conv_3']
    assert not hasattr(early, 'conv_34') and not hasattr(early, 'conv_6_sep')


def test_landmark_head_output():
    model = MobileFaceNet(out_indices=(4, ), with_landmark_head=True).eval()
    feat, landmarks = model(torch.randn(2, 3, 112, 112))
    assert feat.shape == (2, 512, 7, 7) and landmarks.shape == (2, 136)
    points = model.predict_landmarks(torch.randn(2, 3, 112, 112))
    assert points.shape == (2, 68, 2)
    with pytest.raises(ValueError, match='112x112'):
        model(torch.randn(1, 3, 96, 96))
    with pytest.raises(RuntimeError, match='with_landmark_head'):
        MobileFaceNet().predict_landmarks(torch.randn(1, 3, 112, 112))
    # Without the head, other sizes divisible by 16 work.
    assert MobileFaceNet()(torch.randn(1, 3, 96, 96))[0].shape[-1] == 6


def test_input_size_sets_the_landmark_head_kernel():
    model = MobileFaceNet(
        out_indices=ALL_POINTS, with_landmark_head=True, input_size=64).eval()
    assert model.input_size == 64
    assert model.landmark_head.map_size == 4
    assert model.landmark_head.conv_6_dw.conv.kernel_size == (4, 4)
    outs = model(torch.randn(2, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [(64, 32, 32), (64, 16, 16),
                                                  (128, 8, 8), (128, 4, 4),
                                                  (512, 4, 4), (136, )]
    points = model.predict_landmarks(torch.randn(3, 3, 64, 64))
    assert points.shape == (3, 68, 2)
    # Only the GDC kernel changes: 512 x (49 - 16) fewer weights.
    n_64 = sum(p.numel() for p in model.parameters())
    assert n_64 == 1_007_248 - 512 * (49 - 16)
    # A head built for 64 refuses 112, and says which size it needs.
    with pytest.raises(ValueError, match='64x64 input.*input_size'):
        model(torch.randn(1, 3, 112, 112))
    # The default stays upstream's 112 (the released weights' size).
    assert MobileFaceNet(with_landmark_head=True).landmark_head.map_size == 7
    # input_size does not matter to the features.
    assert MobileFaceNet(input_size=64)(torch.randn(1, 3, 112,
                                                    112))[0].shape[-1] == 7


@pytest.mark.parametrize('size', [0, 8, 100, 63.9, True, '64'])
def test_invalid_input_size_is_explained(size):
    with pytest.raises(ValueError, match='input_size must be a positive '
                       'multiple of 16'):
        MobileFaceNet(with_landmark_head=True, input_size=size)


def test_invalid_out_indices_are_explained():
    with pytest.raises(ValueError, match='out_indices'):
        MobileFaceNet(out_indices=(5, ))
    with pytest.raises(ValueError, match='out_indices'):
        MobileFaceNet(out_indices=())


class _WithLandmarkBranch(nn.Module):
    """A frozen landmark branch next to a trainable image branch."""

    def __init__(self):
        super().__init__()
        self.landmark = MobileFaceNet(out_indices=(1, 2, 4), frozen=True)
        self.image = nn.Sequential(
            nn.Conv2d(3, 8, 3, 4, 1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(8 + 64 + 128 + 512, 7)

    def forward(self, x):
        pooled = [f.mean((2, 3)) for f in self.landmark(x)]
        return self.fc(torch.cat([self.image(x)] + pooled, dim=1))


def test_frozen_branch_never_moves_in_a_train_step():
    torch.manual_seed(0)
    model = _WithLandmarkBranch()
    model.train()
    # train() of the parent leaves every landmark module in eval mode.
    assert not any(m.training for m in model.landmark.modules())
    assert model.image[1].training
    assert not any(p.requires_grad for p in model.landmark.parameters())
    before = {k: v.clone() for k, v in model.landmark.state_dict().items()}
    image_before = {k: v.clone() for k, v in model.image.state_dict().items()}

    # Every parameter is handed to the optimizer, as mmengine's default
    # constructor does; weight decay and momentum must not touch the branch.
    optimizer = torch.optim.SGD(
        model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(4, 3, 112, 112) * 3 + 2
    for _ in range(2):
        loss = nn.functional.cross_entropy(model(x), torch.arange(4))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for key, value in model.landmark.state_dict().items():
        assert torch.equal(value, before[key]), key
    image_after = model.image.state_dict()
    assert not torch.equal(image_after['0.weight'], image_before['0.weight'])
    assert not torch.equal(image_after['1.running_mean'],
                           image_before['1.running_mean'])
    model.train(False)
    model.train()
    assert not model.landmark.training and not model.landmark.conv1.bn.training


def test_frozen_without_weights_warns(log_lines):
    MobileFaceNet(frozen=True).init_weights()
    assert any('features stay random' in line for line in log_lines)


def test_norm_eval_keeps_bn_in_eval_but_weights_trainable():
    model = MobileFaceNet(norm_eval=True).train()
    assert model.training and not model.conv_4[0].conv.bn.training
    assert all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize('layout', ['upstream', 'DataParallel', 'ours'])
def test_checkpoint_layouts_load_with_no_key_left(tmp_path, log_lines,
                                                  layout):
    source = _random_full_model()
    if layout == 'ours':
        checkpoint = dict(state_dict=dict(source.state_dict()))
    else:
        checkpoint = _upstream_checkpoint(
            source, dataparallel=layout == 'DataParallel')
    path = tmp_path / 'mobilefacenet_model_best.pth.tar'
    torch.save(checkpoint, path)
    state = checkpoint['state_dict']

    # POSTER V2's use: features only, through init_cfg.
    target = MobileFaceNet(
        out_indices=(1, 2, 4),
        frozen=True,
        init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    target.init_weights()
    for key, value in target.state_dict().items():
        assert torch.equal(value, source.state_dict()[key]), key
    assert any('landmark head: False' in line and 'skipped' in line
               for line in log_lines), log_lines
    assert not any('features stay random' in line for line in log_lines)

    # The same conversion as a strict load: nothing missing or unexpected,
    # and exactly the landmark head's 12 tensors reported as unbuilt.
    converted, dropped = convert_mobilefacenet_keys(
        state, False, target.built_layers)
    result = target.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    head = {k for k in state if 'output_layer' in k or 'landmark_head' in k}
    assert set(dropped) == head and len(head) == 12

    # With the head everything is used; a shallower model reports the rest.
    full = MobileFaceNet(out_indices=ALL_POINTS, with_landmark_head=True)
    converted, dropped = convert_mobilefacenet_keys(state, True)
    assert not dropped
    result = full.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(full.landmark_head.linear.weight,
                       source.landmark_head.linear.weight)
    early = MobileFaceNet(out_indices=(1, ))
    early.load_state_dict(state, strict=True)
    assert torch.equal(early.conv_3[3].project.bn.running_var,
                       source.conv_3[3].project.bn.running_var)


def test_unknown_keys_are_reported_not_dropped():
    state = dict(MobileFaceNet().state_dict())
    state['fc.weight'] = torch.zeros(1)
    result = MobileFaceNet().load_state_dict(state, strict=False)
    assert result.unexpected_keys == ['fc.weight']


def _run_converter(monkeypatch, *args):
    monkeypatch.setattr(sys, 'argv', [CONVERTER, *map(str, args)])
    runpy.run_path(CONVERTER, run_name='__main__')


def test_converter_cli(tmp_path):
    source = _random_full_model()
    src = tmp_path / 'mobilefacenet_model_best.pth.tar'
    dst = tmp_path / 'out' / 'mobilefacenet_landmark68.pth'
    torch.save(_upstream_checkpoint(source, dataparallel=True), src)
    env = dict(os.environ)
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    proc = subprocess.run([sys.executable, CONVERTER,
                           str(src), str(dst)],
                          cwd=REPO,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'not kept (training state): epoch, best_prec1, optimizer' in \
        proc.stdout, proc.stdout
    assert 'Checked: loads strictly into the landmark_backbone' in proc.stdout
    converted = torch.load(dst, weights_only=True)
    assert converted['meta']['with_landmark_head']
    full = MobileFaceNet(out_indices=ALL_POINTS, with_landmark_head=True)
    result = full.load_state_dict(converted['state_dict'], strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for key, value in full.state_dict().items():
        assert torch.equal(value, source.state_dict()[key]), key


class _Evil:
    """Would run a shell command if unpickled for real."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_converter_reads_foreign_objects_without_running_them(
        tmp_path, monkeypatch, capsys):
    source = _random_full_model()
    checkpoint = _upstream_checkpoint(source)
    # Objects outside the allow-list, as training scripts store their
    # argparse namespace; and one whose unpickling would run a command.
    checkpoint['args'] = argparse.Namespace(lr=0.001)
    marker = tmp_path / 'pwned'
    checkpoint['evil'] = _Evil(marker)
    src = tmp_path / 'foreign.pth.tar'
    dst = tmp_path / 'converted.pth'
    torch.save(checkpoint, src)
    _run_converter(monkeypatch, src, dst, '--without-landmark-head')
    assert not marker.exists()
    out = capsys.readouterr().out
    assert 'not kept (training state):' in out and 'args, evil' in out
    assert 'output_layer (landmark regressor' in out, out
    state = torch.load(dst, weights_only=True)['state_dict']
    assert not any(k.startswith('landmark_head') for k in state)
    result = MobileFaceNet(out_indices=(1, 2, 4)).load_state_dict(
        state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys

    with pytest.raises(SystemExit):
        _run_converter(monkeypatch, src, dst)
    assert '--overwrite' in capsys.readouterr().err


def test_converter_refuses_another_architecture(tmp_path, monkeypatch,
                                                capsys):
    state = _upstream_checkpoint(_random_full_model())['state_dict']
    del state['conv_6_sep.conv.weight']
    state['fc.weight'] = torch.zeros(3)
    src = tmp_path / 'other.pth.tar'
    torch.save(dict(state_dict=state), src)
    with pytest.raises(SystemExit) as refused:
        _run_converter(monkeypatch, src, tmp_path / 'x.pth')
    assert refused.value.code == 1
    message = capsys.readouterr().err
    assert 'conv_6_sep.conv.weight' in message and 'fc.weight' in message
    assert 'Traceback' not in message and 'Nothing was written' in message
    assert not (tmp_path / 'x.pth').exists()


def test_missing_landmark_checkpoint_says_how_to_get_one(tmp_path):
    model = MobileFaceNet(
        frozen=True,
        init_cfg=dict(
            type='Pretrained', checkpoint=str(tmp_path / 'landmarks.pth')))
    with pytest.raises(FileNotFoundError,
                       match=r'landmarks\.pth.*configs/landmarks'):
        model.init_weights()
