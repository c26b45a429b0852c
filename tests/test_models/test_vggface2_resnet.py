"""VGGFace2 ResNet-50 identity encoder: the published file's layout, values
against an independent Caffe-style reference, freezing, converter, bad
files."""
import logging
import os
import os.path as osp
import pickle
import struct
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.logging import MMLogger

from ferpretrain.models.backbones import (VGGFace2ResNet,
                                          convert_vggface2_keys)
from ferpretrain.registry import MODELS
from ferpretrain.utils import UntrustedCheckpointError
from ferpretrain.utils.conversion import REPO_ROOT, build_config_model
from ferpretrain.utils.errors import (CheckpointError,
                                      CheckpointMismatchError, ConfigError)
from ferpretrain.utils.foreign_checkpoint import read_pickled_arrays

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(__file__)), 'test_tools'))
from tool_helpers import load_tool  # noqa: E402

MEAN_BGR = np.array([91.4953, 103.8827, 131.0912], np.float32)
IMAGENET_MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
STAGES = ((64, 3), (128, 4), (256, 6), (512, 3))  # (width, blocks)
NUM_IDENTITIES = 8631
DOE_CONFIG = 'configs/disentangled_doe/ckplus_stage1.py'
CONVERTER = osp.join(REPO_ROOT, 'tools', 'model_converters',
                     'vggface2_to_ferpretrain.py')


_TOOL = []


def convert_main(argv):
    """The converter's ``main``, called in-process."""
    if not _TOOL:
        _TOOL.append(load_tool(CONVERTER, 'vggface2_cli'))
    return _TOOL[0].main(argv)


# ---------------------------------------------------------------------------
# The published file, written from its description (not from the model)
# ---------------------------------------------------------------------------
def _published_shapes(num_identities=NUM_IDENTITIES):
    """``{name: shape}`` of ``resnet50_ft_weight.pkl`` in file order:
    torchvision names, BatchNorm without ``num_batches_tracked``, the
    8631-identity ``fc``."""
    shapes = {}

    def bn(name, channels):
        for field in ('weight', 'bias', 'running_mean', 'running_var'):
            shapes[f'{name}.{field}'] = (channels, )

    shapes['conv1.weight'] = (64, 3, 7, 7)
    bn('bn1', 64)
    inplanes = 64
    for k, (planes, blocks) in enumerate(STAGES, start=1):
        for i in range(blocks):
            name = f'layer{k}.{i}'
            shapes[f'{name}.conv1.weight'] = (planes, inplanes, 1, 1)
            bn(f'{name}.bn1', planes)
            shapes[f'{name}.conv2.weight'] = (planes, planes, 3, 3)
            bn(f'{name}.bn2', planes)
            shapes[f'{name}.conv3.weight'] = (planes * 4, planes, 1, 1)
            bn(f'{name}.bn3', planes * 4)
            if i == 0:
                shapes[f'{name}.downsample.0.weight'] = (planes * 4,
                                                         inplanes, 1, 1)
                bn(f'{name}.downsample.1', planes * 4)
            inplanes = planes * 4
    shapes['fc.weight'] = (num_identities, 2048)
    shapes['fc.bias'] = (num_identities, )
    return shapes


def _random_weights(num_identities=NUM_IDENTITIES, seed=0):
    """Random float32 arrays in the published layout, scaled so that the
    activations stay in a sensible range through 16 residual blocks."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, shape in _published_shapes(num_identities).items():
        field = name.rsplit('.', 1)[1]
        if len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            value = rng.standard_normal(shape, np.float32) * np.float32(
                np.sqrt(2.0 / fan_in))
        elif name.startswith('fc.'):
            value = rng.standard_normal(shape, np.float32) * 0.01
        elif field == 'weight':
            # The last BN of a residual branch small, as trained nets are.
            low = 0.1 if '.bn3.' in name else 0.5
            value = rng.uniform(low, 2 * low + 0.5, shape)
        elif field == 'running_var':
            value = rng.uniform(0.5, 2.0, shape)
        else:  # bias, running_mean
            value = rng.normal(0.0, 0.2, shape)
        arrays[name] = np.asarray(value, np.float32)
    return arrays


class _Python2Pickler(pickle._Pickler):
    """Writes what Python 2's ``pickle.dump(..., protocol=2)`` wrote:
    ``str`` (here: bytes) as BINSTRING, numpy 1 module names
    (``numpy.core.multiarray._reconstruct``)."""
    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj):
        self.write(pickle.BINSTRING + struct.pack('<i', len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str

    def save_global(self, obj, name=None):
        module = getattr(obj, '__module__', None) or ''
        if module.startswith('numpy._core'):
            name = name or obj.__qualname__
            module = module.replace('numpy._core', 'numpy.core')
            self.write(pickle.GLOBAL + f'{module}\n{name}\n'.encode())
            self.memoize(obj)
            return
        super().save_global(obj, name)


def _write_python2_pickle(path, arrays):
    with open(path, 'wb') as f:
        _Python2Pickler(f, protocol=2).dump(
            {k.encode(): v
             for k, v in arrays.items()})


def _calibrate(arrays, seed=1):
    """Set the BatchNorm statistics to those of random faces, as training
    leaves them, so that activations stay near unit scale (the published
    file's statistics fit its 0..255 input the same way)."""
    ref = _reference(arrays).train()
    for m in ref.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None  # a plain average over the batches seen
    with torch.no_grad():
        ref(_vggface2_form(_faces(seed, size=112, num=4)))
    for name, value in ref.state_dict().items():
        if 'running' in name:
            arrays[name] = value.numpy().astype(np.float32)
    return arrays


@pytest.fixture(scope='module')
def weights():
    return _calibrate(_random_weights())


@pytest.fixture(scope='module')
def published(tmp_path_factory, weights):
    """``resnet50_ft_weight.pkl`` in the published layout and format."""
    path = tmp_path_factory.mktemp('vggface2') / 'resnet50_ft_weight.pkl'
    _write_python2_pickle(path, weights)
    return path


def _doe_config(folder, **encoder):
    """A config whose model has an identity encoder, as the Disentangled
    DoE configs do (only that component is built by the converter)."""
    encoder = dict(
        dict(
            type='VGGFace2ResNet',
            frozen=True,
            init_cfg=dict(
                type='Pretrained',
                checkpoint='checkpoints/vggface2_resnet50_ft.pth')),
        **encoder)
    path = folder / 'doe_stage1.py'
    path.write_text(
        "default_scope = 'mmpretrain'\n"
        f"model = dict(type='EmotionIdentityClassifier', "
        f'identity_encoder={encoder!r})\n')
    return str(path)


@pytest.fixture(scope='module')
def converted(tmp_path_factory, published):
    """The converter's output for the published file, and its summary."""
    folder = tmp_path_factory.mktemp('converted')
    dst = folder / 'checkpoints' / 'vggface2_resnet50_ft.pth'
    out = _run_and_capture(
        [str(published),
         str(dst), '--config',
         _doe_config(folder)])
    return dst, out


def _run_and_capture(argv):
    import contextlib
    import io
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        convert_main(argv)
    return buffer.getvalue()


@pytest.fixture
def log_lines():
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


# ---------------------------------------------------------------------------
# An independent reference: the Caffe ResNet-50 as cydonia999 defines it
# ---------------------------------------------------------------------------
class _RefBottleneck(nn.Module):
    """Caffe bottleneck: the stride on the first 1x1 conv."""

    def __init__(self, inplanes, planes, stride, conv2_stride=False):
        super().__init__()
        s1, s2 = (1, stride) if conv2_stride else (stride, 1)
        self.conv1 = nn.Conv2d(inplanes, planes, 1, s1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, s2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = None
        if stride != 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * 4, 1, stride, bias=False),
                nn.BatchNorm2d(planes * 4))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return torch.relu(out + shortcut)


class _RefResNet50(nn.Module):
    """``resnet50_ft``: 7x7 stem, ceil-mode unpadded max-pool, [3,4,6,3]
    Caffe bottlenecks, 8631-way fc (built so the file loads whole)."""

    def __init__(self, torchvision_pool=False, conv2_stride=False):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = (
            nn.MaxPool2d(3, 2, 1) if torchvision_pool else nn.MaxPool2d(
                3, 2, 0, ceil_mode=True))
        inplanes = 64
        for k, (planes, blocks) in enumerate(STAGES, start=1):
            stride = 1 if k == 1 else 2
            layer = [_RefBottleneck(inplanes, planes, stride, conv2_stride)]
            layer += [
                _RefBottleneck(planes * 4, planes, 1)
                for _ in range(blocks - 1)
            ]
            self.add_module(f'layer{k}', nn.Sequential(*layer))
            inplanes = planes * 4
        self.fc = nn.Linear(2048, NUM_IDENTITIES)

    def forward(self, bgr):
        """``bgr``: (B, 3, H, W), BGR 0..255 minus the mean; the layer4
        map."""
        x = self.maxpool(torch.relu(self.bn1(self.conv1(bgr))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def _reference(weights, **kwargs):
    ref = _RefResNet50(**kwargs).eval()
    result = ref.load_state_dict(
        {k: torch.from_numpy(v)
         for k, v in weights.items()}, strict=False)
    # The file covers the reference whole, counters aside.
    assert not result.unexpected_keys
    assert all(k.endswith('num_batches_tracked') for k in result.missing_keys)
    return ref


def _faces(seed=0, size=224, num=1):
    """RGB images with 0..255 values, as uint8 decoding gives them."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (num, 3, size, size), generator=g).float()


def _vggface2_form(rgb):
    """cydonia999's transform: RGB -> BGR, minus mean_bgr."""
    return rgb.flip(1) - torch.from_numpy(MEAN_BGR).view(1, 3, 1, 1)


def _imagenet_form(rgb):
    return (rgb - IMAGENET_MEAN) / IMAGENET_STD


@pytest.fixture(scope='module')
def loaded(converted):
    """VGGFace2ResNet loaded through init_cfg from the converter's file."""
    dst, _ = converted
    model = VGGFace2ResNet(
        init_cfg=dict(type='Pretrained', checkpoint=str(dst)))
    model.init_weights()
    return model


@pytest.fixture(scope='module')
def reference_output(weights):
    with torch.no_grad():
        return _reference(weights)(_vggface2_form(_faces()))


def _differs(a, b):
    return not torch.allclose(a, b, rtol=1e-3, atol=1e-3 * b.abs().max())


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------
def test_published_layout_fixture_is_the_file():
    shapes = _published_shapes()
    # 53 BatchNorms x 4 + 53 convs + fc: the key count of the real file.
    assert len(shapes) == 53 * 4 + 53 + 2 == 267
    assert shapes['fc.weight'] == (8631, 2048)
    assert 'layer4.0.downsample.1.running_var' in shapes
    assert not any('num_batches_tracked' in k for k in shapes)


def test_reader_reads_python2_and_python3_pickles(tmp_path):
    arrays = {
        'conv1.weight': np.arange(6, dtype=np.float32).reshape(1, 6),
        'bn1.running_var': np.ones(3, np.float32)
    }
    py2 = tmp_path / 'py2.pkl'
    _write_python2_pickle(py2, arrays)
    with open(py2, 'rb') as f:  # really the Python 2 layout
        raw = f.read()
    assert b'cnumpy.core.multiarray\n_reconstruct' in raw
    assert b'numpy._core' not in raw and b'_codecs' not in raw
    read = read_pickled_arrays(py2)
    assert list(read) == list(arrays)  # bytes keys read back as str
    for key, value in arrays.items():
        np.testing.assert_array_equal(read[key], value)
    for protocol in (2, 4, 5):
        path = tmp_path / f'p{protocol}.pkl'
        path.write_bytes(pickle.dumps(arrays, protocol=protocol))
        read = read_pickled_arrays(path)
        np.testing.assert_array_equal(read['conv1.weight'],
                                      arrays['conv1.weight'])


def test_converter_end_to_end_and_strict_load(converted, weights):
    dst, out = converted
    lines = out.splitlines()
    assert any('dropped    2 fc (8631-identity VGGFace2 classifier' in line
               for line in lines), out
    assert any('added     53 BatchNorm num_batches_tracked' in line
               for line in lines), out
    assert 'Checked: loads strictly into the identity_encoder' in out
    assert 'VGGFace2ResNet, 318 tensors, 23.51 M parameters' in out
    assert 'Test it with' not in out  # a component has no test command

    checkpoint = torch.load(dst, weights_only=True)
    state = checkpoint['state_dict']
    assert checkpoint['meta']['converter'] == 'vggface2_to_ferpretrain'
    assert checkpoint['meta']['converted_from'] == 'resnet50_ft_weight.pkl'
    model = VGGFace2ResNet()
    result = model.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert set(state) == set(model.state_dict())
    for key, value in weights.items():
        if not key.startswith('fc.'):
            assert torch.equal(state[key], torch.from_numpy(value)), key
    assert state['layer2.0.bn1.num_batches_tracked'].dtype == torch.long


def test_converter_refuses_to_overwrite(converted, published):
    dst, _ = converted
    with pytest.raises(ConfigError, match='--overwrite'):
        convert_main([str(published), str(dst)])


def test_init_cfg_loads_every_tensor(loaded, weights, log_lines):
    state = loaded.state_dict()
    for key, value in weights.items():
        if not key.startswith('fc.'):
            assert torch.equal(state[key], torch.from_numpy(value)), key
    # The file's own layout (numpy, fc, no counters) also loads strictly,
    # alone and under a parent's prefix, through the pre-hook.
    model = VGGFace2ResNet(frozen=False)
    result = model.load_state_dict(dict(weights), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(model.layer3[5].bn2.running_var,
                       torch.from_numpy(weights['layer3.5.bn2.running_var']))
    assert any('identity classifier' in line and 'fc.weight' in line
               for line in log_lines), log_lines
    parent = nn.Module()
    parent.identity_encoder = VGGFace2ResNet()
    parent.load_state_dict(
        {f'identity_encoder.{k}': v
         for k, v in weights.items()}, strict=True)
    assert torch.equal(parent.identity_encoder.conv1.weight,
                       torch.from_numpy(weights['conv1.weight']))


def test_convert_keys_function(weights):
    converted, dropped = convert_vggface2_keys(weights)
    assert dropped == ['fc.weight', 'fc.bias']
    assert all(isinstance(v, torch.Tensor) for v in converted.values())
    assert len(converted) == 265 + 53
    keys = list(converted)
    # Counters follow their BatchNorm.
    i = keys.index('bn1.running_var')
    assert keys[i + 1] == 'bn1.num_batches_tracked'
    # Without counters (a model whose BatchNorms have none).
    plain, _ = convert_vggface2_keys(weights, num_batches_tracked=False)
    assert len(plain) == 265
    # Other prefixes are untouched; unknown keys are kept for a strict
    # load to report.
    mixed = {'head.fc.weight': 1, 'enc.fc.bias': np.zeros(2, np.float32),
             'enc.layer5.0.conv1.weight': np.zeros(1, np.float32)}
    out, dropped = convert_vggface2_keys(mixed, prefix='enc.')
    assert dropped == ['enc.fc.bias']
    assert out['head.fc.weight'] == 1
    assert isinstance(out['enc.layer5.0.conv1.weight'], torch.Tensor)
    result = VGGFace2ResNet().load_state_dict(
        dict(weights, **{'layer5.0.conv1.weight': np.zeros(1)}),
        strict=False)
    assert result.unexpected_keys == ['layer5.0.conv1.weight']


def test_values_match_the_caffe_reference(loaded, reference_output):
    rgb = _faces()
    with torch.no_grad():
        (out, ) = loaded(_imagenet_form(rgb))
    assert out.shape == (1, 2048, 7, 7)
    ref = reference_output
    # Not a degenerate comparison: a real spread of non-zero activations.
    assert ref.abs().max() > 0.1 and (ref > 0).float().mean() > 0.1
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
    # The same through VGGFace2-form input (input_mean=None).
    raw = VGGFace2ResNet(input_mean=None)
    raw.load_state_dict(loaded.state_dict())
    with torch.no_grad():
        (out_raw, ) = raw(_vggface2_form(rgb))
    torch.testing.assert_close(out_raw, ref, rtol=1e-4, atol=1e-4)
    # BGR ImageNet-normalised input (a preprocessor without to_rgb).
    bgr = VGGFace2ResNet(
        input_mean=(103.53, 116.28, 123.675),
        input_std=(57.375, 57.12, 58.395),
        input_bgr=True)
    bgr.load_state_dict(loaded.state_dict())
    with torch.no_grad():
        (out_bgr, ) = bgr(_imagenet_form(rgb).flip(1))
    torch.testing.assert_close(out_bgr, ref, rtol=1e-4, atol=1e-4)


def test_torchvision_maxpool_gives_other_features(loaded, reference_output):
    rgb = _imagenet_form(_faces())
    planted = VGGFace2ResNet()
    planted.load_state_dict(loaded.state_dict())
    planted.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
    with torch.no_grad():
        (out, ) = planted(rgb)
    # Same shape (56x56 after the pool either way), other values.
    assert out.shape == reference_output.shape
    assert _differs(out, reference_output)


def test_reference_detects_the_planted_bugs(weights, reference_output):
    """The reference itself, with torchvision's pool or the stride on the
    3x3 conv, is far from the Caffe network: the comparison above would
    catch either slip in the encoder."""
    bgr = _vggface2_form(_faces())
    for bug in (dict(torchvision_pool=True), dict(conv2_stride=True)):
        with torch.no_grad():
            out = _reference(weights, **bug)(bgr)
        assert _differs(out, reference_output), bug


def test_stride_on_the_3x3_conv_gives_other_features(loaded,
                                                     reference_output):
    planted = VGGFace2ResNet()
    planted.load_state_dict(loaded.state_dict())
    for k in (2, 3, 4):
        block = getattr(planted, f'layer{k}')[0]
        block.conv1.stride, block.conv2.stride = (1, 1), (2, 2)
    with torch.no_grad():
        (out, ) = planted(_imagenet_form(_faces()))
    assert _differs(out, reference_output)


def test_input_adaptation_matters(loaded, reference_output):
    rgb = _faces()
    for wrong in (_imagenet_form(rgb).flip(1),  # BGR fed as RGB
                  _vggface2_form(rgb)):  # already adapted, adapted again
        with torch.no_grad():
            (out, ) = loaded(wrong)
        assert _differs(out, reference_output)


class _Parent(nn.Module):
    """A frozen identity encoder beside a trainable emotion branch."""

    def __init__(self):
        super().__init__()
        self.identity_encoder = MODELS.build(dict(type='VGGFace2ResNet'))
        self.emotion = nn.Sequential(
            nn.Conv2d(3, 8, 3, 4, 1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(2048 + 8, 7)

    def forward(self, x):
        identity = self.identity_encoder(x)[0].mean((2, 3))
        return self.fc(torch.cat([identity, self.emotion(x)], 1))


def test_frozen_encoder_never_moves_in_a_train_step():
    torch.manual_seed(0)
    model = _Parent()
    model.train()
    encoder = model.identity_encoder
    assert not any(m.training for m in encoder.modules())
    assert model.emotion[1].training
    assert not any(p.requires_grad for p in encoder.parameters())
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    optimizer = torch.optim.SGD(
        model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(4, 3, 64, 64) * 2
    for _ in range(2):
        loss = nn.functional.cross_entropy(model(x), torch.arange(4))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    for key, value in encoder.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert encoder.bn1.num_batches_tracked == 0
    model.train(False)
    model.train()
    assert not encoder.training and not encoder.layer3[2].bn2.training
    assert encoder.train() is encoder and not encoder.training


def test_unfrozen_encoder_trains():
    model = VGGFace2ResNet(frozen=False).train()
    assert model.training and model.layer1[0].bn1.training
    assert all(p.requires_grad for p in model.parameters())
    partly = VGGFace2ResNet(frozen=False, frozen_stages=1,
                            norm_eval=True).train()
    assert not partly.conv1.weight.requires_grad
    assert partly.layer2[0].conv1.weight.requires_grad
    assert not partly.layer4[0].bn1.training


def test_frozen_without_weights_warns(log_lines):
    VGGFace2ResNet().init_weights()
    assert any('identity features stay random' in line
               for line in log_lines), log_lines


def test_missing_checkpoint_says_how_to_make_it(tmp_path):
    model = VGGFace2ResNet(
        init_cfg=dict(type='Pretrained',
                      checkpoint=str(tmp_path / 'vggface2.pth')))
    with pytest.raises(FileNotFoundError,
                       match='vggface2_to_ferpretrain.py'):
        model.init_weights()


def test_parameter_count_and_shapes():
    model = VGGFace2ResNet()
    num = sum(p.numel() for p in model.parameters())
    # Independently: every weight and bias of the file except fc.
    from_file = sum(
        int(np.prod(shape)) for name, shape in _published_shapes().items()
        if not name.startswith('fc.') and 'running' not in name)
    assert num == from_file == 23_508_032
    assert f'{num / 1e6:.2f}' == '23.51'
    assert model.maxpool.padding == 0 and model.maxpool.ceil_mode
    assert model.layer2[0].conv1.stride == (2, 2)
    assert model.layer2[0].conv2.stride == (1, 1)
    # Input buffers are not persistent: not part of any checkpoint.
    assert 'input_scale' not in model.state_dict()
    all_stages = VGGFace2ResNet(out_indices=(0, 1, 2, 3))
    with torch.no_grad():
        outs = all_stages(torch.randn(1, 3, 224, 224))
    assert [tuple(o.shape[1:]) for o in outs] == [(256, 56, 56),
                                                  (512, 28, 28),
                                                  (1024, 14, 14),
                                                  (2048, 7, 7)]


def test_invalid_input_statistics_are_explained():
    with pytest.raises(ValueError, match='3 values'):
        VGGFace2ResNet(input_mean=(1.0, 2.0))
    with pytest.raises(ValueError, match='positive'):
        VGGFace2ResNet(input_std=(1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match=r'\(B, 3, H, W\)'):
        VGGFace2ResNet()(torch.zeros(1, 1, 32, 32))


# ---------------------------------------------------------------------------
# Bad files
# ---------------------------------------------------------------------------
def test_a_list_is_refused_naming_the_file(tmp_path):
    src = tmp_path / 'list.pkl'
    src.write_bytes(pickle.dumps([np.zeros(3, np.float32)], protocol=2))
    with pytest.raises(CheckpointError,
                       match=r"list\.pkl' holds a list, not the \{name: "
                       'numpy array} dict'):
        convert_main([str(src), str(tmp_path / 'out.pth')])
    assert not (tmp_path / 'out.pth').exists()


def test_an_unknown_key_is_refused_naming_it(tmp_path, weights):
    arrays = dict(weights)
    del arrays['fc.weight']  # the converter does not look at fc's size
    arrays['layer5.0.conv1.weight'] = np.zeros((8, 8, 1, 1), np.float32)
    src = tmp_path / 'other.pkl'
    src.write_bytes(pickle.dumps(arrays, protocol=4))
    with pytest.raises(CheckpointError,
                       match=r"other\.pkl.*1 keys match no VGGFace2 "
                       r"ResNet-50 rule.*'layer5\.0\.conv1\.weight'"):
        convert_main([str(src), str(tmp_path / 'out.pth'), '--config',
                      _doe_config(tmp_path)])
    assert not (tmp_path / 'out.pth').exists()


def test_a_missing_key_is_refused_naming_it(tmp_path, weights):
    arrays = {k: v for k, v in weights.items() if not k.startswith('fc.')}
    del arrays['layer3.5.bn2.running_var']
    src = tmp_path / 'incomplete.pkl'
    src.write_bytes(pickle.dumps(arrays, protocol=4))
    with pytest.raises(CheckpointMismatchError) as error:
        convert_main([str(src), str(tmp_path / 'out.pth'), '--config',
                      _doe_config(tmp_path)])
    message = str(error.value)
    assert 'incomplete.pkl' in message
    assert 'layer3.5.bn2.running_var' in message
    assert 'Nothing was written' in message
    assert not (tmp_path / 'out.pth').exists()


class _Evil:
    """Would run a shell command if unpickled for real."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_a_foreign_global_is_refused_without_running_it(tmp_path):
    marker = tmp_path / 'pwned'
    src = tmp_path / 'evil.pkl'
    src.write_bytes(
        pickle.dumps({
            'conv1.weight': np.zeros(3, np.float32),
            'bn1.weight': _Evil(marker)
        }, protocol=2))
    with pytest.raises(UntrustedCheckpointError,
                       match=r"evil\.pkl.*global '(posix|nt)\.system'"):
        convert_main([str(src), str(tmp_path / 'out.pth')])
    assert not marker.exists()
    with pytest.raises(UntrustedCheckpointError, match='evil.pkl'):
        read_pickled_arrays(src)
    assert not marker.exists()


def test_other_bad_contents_are_explained(tmp_path):
    src = tmp_path / 'values.pkl'
    src.write_bytes(pickle.dumps({'conv1.weight': 3.0}))
    with pytest.raises(CheckpointError,
                       match=r"values\.pkl': the entry 'conv1\.weight' is "
                       'a float, not a numeric numpy array'):
        read_pickled_arrays(src)
    src.write_bytes(
        pickle.dumps({'conv1.weight': np.array(['a'], dtype=object)}))
    with pytest.raises(CheckpointError, match="'conv1.weight' is a object"):
        read_pickled_arrays(src)
    truncated = tmp_path / 'truncated.pkl'
    truncated.write_bytes(
        pickle.dumps({'conv1.weight': np.zeros(64, np.float32)})[:-40])
    with pytest.raises(CheckpointError,
                       match=r"truncated\.pkl'.*ends early or is damaged"):
        read_pickled_arrays(truncated)
    empty = tmp_path / 'empty.pkl'
    empty.write_bytes(b'')
    with pytest.raises(CheckpointError, match='empty'):
        read_pickled_arrays(empty)
    with pytest.raises(FileNotFoundError, match='nothere.pkl'):
        read_pickled_arrays(tmp_path / 'nothere.pkl')


@pytest.mark.skipif(
    not osp.isfile(osp.join(REPO_ROOT, DOE_CONFIG)),
    reason=f'{DOE_CONFIG} not written yet')
def test_doe_config_has_the_converters_target():
    """The converter's default config builds a VGGFace2ResNet identity
    encoder that loads the converter's output path."""
    from ferpretrain.utils.conversion import load_config
    encoder = build_config_model(DOE_CONFIG, component='identity_encoder')
    assert isinstance(encoder, VGGFace2ResNet) and encoder.frozen
    init_cfg = load_config(DOE_CONFIG).model.identity_encoder.init_cfg
    assert init_cfg['type'] == 'Pretrained'
    assert init_cfg['checkpoint'] == 'checkpoints/vggface2_resnet50_ft.pth'
