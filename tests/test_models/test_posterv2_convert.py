"""POSTER V2 release converter: safe reading, key mapping, the CLI.

The official-layout state dict is synthesised from ferpretrain's full model
by an inverse of the mapping written independently here (so a wrong rule in
the converter does not cancel out), plus the keys of the modules the
official model builds but never runs, with a DataParallel ``module.``
prefix. It is saved like the authors' ``main.py`` does, next to a
``RecorderMeter`` pickled from ``__main__``.
"""
import copy
import os
import os.path as osp
import re
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

from ferpretrain.datasets.categories import (AFFECTNET_CATEGORIES,
                                             RAFDB_CATEGORIES)
from ferpretrain.models.classifiers.poster_v2 import \
    convert_posterv2_checkpoint
from ferpretrain.utils.errors import (CheckpointError,
                                      CheckpointMismatchError, ConfigError)
from ferpretrain.utils.foreign_checkpoint import OpaquePickledObject
from ferpretrain.utils.foreign_checkpoint import \
    read_torch_release as load_posterv2_release
from ferpretrain.models.classifiers.poster_v2 import relative_position_index
from ferpretrain.registry import MODELS

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(__file__)), 'test_tools'))
from tool_helpers import (REPO_ROOT, explain, load_tool,  # noqa: E402
                          run_python)

CONFIG = osp.join(REPO_ROOT, 'configs', '_base_', 'models', 'poster_v2.py')
CONVERTER = osp.join(REPO_ROOT, 'tools', 'model_converters',
                     'posterv2_to_ferpretrain.py')

# ferpretrain name -> official name (inverse of the converter's table).
_TO_OFFICIAL = [
    (r'backbone\.input_layer\.(.+)', r'ir_back.input_layer.\1'),
    (r'backbone\.body\.(\d)\.(.+)',
     lambda m: f'ir_back.body{int(m[1]) + 1}.{m[2]}'),
    (r'landmark_backbone\.(conv_[345])\.(\d+\..+)',
     r'face_landback.\1.model.\2'),
    (r'landmark_backbone\.(.+)', r'face_landback.\1'),
    (r'neck\.image_downsamples\.(\d)\.(.+)',
     lambda m: f'conv{int(m[1]) + 1}.{m[2]}'),
    (r'neck\.landmark_projs\.2\.(.+)', r'last_face_conv.\1'),
    (r'neck\.cross_attns\.(\d)\.norm1\.(.+)',
     lambda m: f'window{int(m[1]) + 1}.norm.{m[2]}'),
    (r'neck\.cross_attns\.(\d)\.attn\.(.+)',
     lambda m: f'attn{int(m[1]) + 1}.{m[2]}'),
    (r'neck\.cross_attns\.(\d)\.norm2\.(.+)',
     lambda m: f'ffn{int(m[1]) + 1}.norm.{m[2]}'),
    (r'neck\.cross_attns\.(\d)\.(.+)', lambda m: f'ffn{int(m[1]) + 1}.{m[2]}'),
    (r'neck\.token_embeds\.0\.(.+)', r'embed_q.\1'),
    (r'neck\.token_embeds\.1\.(.+)', r'embed_k.\1'),
    (r'neck\.token_embeds\.2\.(.+)', r'embed_v.proj.\1'),
    (r'neck\.layers\.(.+)', r'VIT.blocks.\1'),
    (r'neck\.se\.(.+)', r'VIT.se_block.\1'),
    (r'neck\.(.+)', r'VIT.\1'),
    (r'head\.fc\.(.+)', r'VIT.head.linear.\1'),
]


def to_official(name):
    for pattern, repl in _TO_OFFICIAL:
        if re.fullmatch(pattern, name):
            return re.sub(pattern, repl, name)
    raise AssertionError(f'no inverse rule for {name}')


def never_run_keys():
    """Keys of the official modules that never run.

    Small stand-in values: the converter drops them by name (the real
    ``ir_back.output_layer.3.weight`` alone is 512 x 25088).
    """
    names = [
        'ir_back.output_layer.0.weight', 'ir_back.output_layer.0.running_mean',
        'ir_back.output_layer.3.weight', 'ir_back.output_layer.3.bias',
        'ir_back.output_layer.4.num_batches_tracked',
        'face_landback.output_layer.conv.conv.weight',
        'face_landback.output_layer.linear.weight',
        'VIT.patch_embed.proj.weight', 'VIT.patch_embed.proj.bias',
        'VIT.CON1.weight', 'VIT.IRLinear1.weight', 'VIT.IRLinear1.bias',
        'VIT.IRLinear2.weight', 'VIT.IRLinear2.bias',
        'VIT.eca_block.conv.weight'
    ]
    names += [
        f'VIT.blocks.{n}.conv.{p}' for n in (0, 1) for p in ('weight', 'bias')
    ]
    out = {name: torch.zeros(2) for name in names}
    for i, win in enumerate((28, 14, 7), 1):
        out[f'attn{i}.relative_position_index'] = relative_position_index(win)
    return out


# Pickled as ``__main__.RecorderMeter`` (the release's class); its reduce
# would run a shell command if the reader resolved it.
class RecorderMeter:

    def __init__(self, marker):
        self.marker = marker
        self.epoch_accuracy = np.zeros((3, 2), dtype=np.float32)

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


RecorderMeter.__module__ = '__main__'
RecorderMeter.__qualname__ = 'RecorderMeter'


class PlainRecorder:
    """A RecorderMeter pickled by state, as the authors' one is."""

    def __init__(self):
        self.total_epoch = 3
        self.epoch_losses = np.arange(6, dtype=np.float32).reshape(3, 2)


PlainRecorder.__module__ = '__main__'
PlainRecorder.__qualname__ = 'RecorderMeter'


@pytest.fixture(scope='module')
def model_cfg():
    return Config.fromfile(CONFIG).model


def random_state(model):
    """The model's state dict with distinct random values."""
    return {
        k: torch.randn(v.shape) if v.is_floating_point() else v.clone()
        for k, v in model.state_dict().items()
    }


@pytest.fixture(scope='module')
def reference(model_cfg):
    """A full POSTER V2's state dict with distinct random values."""
    torch.manual_seed(0)
    return random_state(MODELS.build(model_cfg))


@pytest.fixture(scope='module')
def small_cfg(model_cfg):
    """POSTER V2 with a narrow IR-50 stage 3, token width and ViT.

    The key set is the full model's (asserted): the widths change, not the
    modules, so the CLI round trip stays fast and still covers every rule.
    """
    cfg = copy.deepcopy(model_cfg)
    cfg.backbone.stage_channels = (64, 128, 64, 64)
    cfg.neck.in_channels = (64, 128, 64)
    cfg.neck.embed_dims = 64
    cfg.head.in_channels = 64
    return cfg


def official_layout(reference):
    state = {to_official(k): v for k, v in reference.items()}
    state.update(never_run_keys())
    return {'module.' + k: v for k, v in state.items()}


def save_release(path, state_dict, marker):
    # pickle looks the class up by name when saving: make
    # ``__main__.RecorderMeter`` resolve for the duration of the save.
    main = sys.modules['__main__']
    had, old = hasattr(main, 'RecorderMeter'), getattr(main, 'RecorderMeter',
                                                       None)
    main.RecorderMeter = PlainRecorder
    try:
        torch.save(
            {
                'epoch': 200,
                'state_dict': state_dict,
                'best_acc': torch.tensor(92.2),
                'recorder': PlainRecorder(),
                'evil': RecorderMeter(marker),
            }, path)
    finally:
        if had:
            main.RecorderMeter = old
        else:
            del main.RecorderMeter


def test_release_reader_runs_no_code(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'release.pth'
    save_release(path, {'module.VIT.cls_token': torch.ones(1, 1, 4)}, marker)
    with pytest.raises(Exception):  # a weights-only load refuses it
        torch.load(path, weights_only=True)
    checkpoint = load_posterv2_release(path)
    assert not marker.exists()
    evil = checkpoint['evil']
    assert isinstance(evil, OpaquePickledObject)
    assert evil.pickled_global in ('posix.system', 'nt.system')
    assert evil.args == (f'touch {marker}', )
    recorder = checkpoint['recorder']
    assert recorder.pickled_global == '__main__.RecorderMeter'
    np.testing.assert_array_equal(recorder.state['epoch_losses'],
                                  PlainRecorder().epoch_losses)
    assert torch.equal(checkpoint['state_dict']['module.VIT.cls_token'],
                       torch.ones(1, 1, 4))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_posterv2_release(tmp_path / 'missing.pth')
    (tmp_path / 'junk.pth').write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match='junk.pth'):
        load_posterv2_release(tmp_path / 'junk.pth')


def test_convert_full_key_set(reference):
    official = official_layout(reference)
    official['module.VIT.mystery.weight'] = torch.zeros(1)
    converted, dropped, unknown = convert_posterv2_checkpoint(official)
    assert unknown == ['module.VIT.mystery.weight']
    assert converted.keys() == reference.keys()
    for key, value in reference.items():
        assert converted[key] is official['module.' + to_official(key)]
    dropped_keys = sorted(k for keys in dropped.values() for k in keys)
    assert dropped_keys == sorted('module.' + k for k in never_run_keys())
    assert len(dropped) == 8  # every group listed once
    with pytest.raises(ValueError, match='both map to'):
        convert_posterv2_checkpoint({
            'VIT.norm.bias': torch.zeros(1),
            'module.VIT.norm.bias': torch.zeros(1)
        })


def config_file(tmp_path, model_cfg):
    """A config file holding ``model_cfg``, for the converter's --config."""
    path = tmp_path / 'small_posterv2.py'
    Config(dict(model=model_cfg.to_dict())).dump(str(path))
    return path


def test_converter_cli(tmp_path, reference, small_cfg):
    torch.manual_seed(1)
    small = random_state(MODELS.build(small_cfg))
    assert small.keys() == reference.keys()
    marker = tmp_path / 'pwned'
    src = tmp_path / 'raf-db-model_best.pth'
    save_release(src, official_layout(small), marker)
    dst = tmp_path / 'out' / 'posterv2.pth'
    proc = run_python(CONVERTER, src, dst, '--dataset', 'rafdb', '--config',
                      config_file(tmp_path, small_cfg), cwd=tmp_path)
    assert proc.returncode == 0, explain(proc)
    assert not marker.exists()
    assert 'VIT.IRLinear1/2 (never run)' in proc.stdout, explain(proc)
    assert 'Checked: loads strictly' in proc.stdout, explain(proc)

    out = torch.load(dst, weights_only=True)
    assert out['meta']['dataset_meta']['classes'] == list(RAFDB_CATEGORIES)
    model = MODELS.build(small_cfg)
    result = model.load_state_dict(out['state_dict'], strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for key, value in model.state_dict().items():
        assert torch.equal(value, small[key]), key


def converter_main(*args):
    """The CLI's ``main`` in-process (the refusals need no subprocess)."""
    module = load_tool(CONVERTER, 'posterv2_cli')
    return module.main([str(a) for a in args])


@pytest.mark.parametrize('dataset,classes', [
    ('rafdb', RAFDB_CATEGORIES),
    ('affectnet7', AFFECTNET_CATEGORIES[:7]),
    ('caers', ('Anger', 'Disgust', 'Fear', 'Happy', 'Neutral', 'Sad',
               'Surprise')),
])
def test_class_order_of_each_7_class_release(tmp_path, small_cfg, dataset,
                                             classes):
    """Three releases have 7 classes in three orders (ImageFolder sorts the
    folder names: 1..7, 0..6, class names): --dataset names it, and a
    7-class file without it is refused."""
    torch.manual_seed(2)
    src = tmp_path / 'release.pth'
    save_release(src, official_layout(random_state(MODELS.build(small_cfg))),
                 tmp_path / 'pwned')
    config = config_file(tmp_path, small_cfg)
    with pytest.raises(ConfigError,
                       match=r'(?s)3 POSTER V2 releases have 7 classes.*'
                       'cannot be read from the file'):
        converter_main(src, tmp_path / 'x.pth', '--config', config)
    dst = tmp_path / f'{dataset}.pth'
    converter_main(src, dst, '--dataset', dataset, '--config', config)
    meta = torch.load(dst, weights_only=True)['meta']
    assert meta['dataset_meta']['classes'] == list(classes)
    assert meta['release'] == dataset


def test_converter_refusals_and_8_classes(tmp_path, small_cfg):
    cfg = copy.deepcopy(small_cfg)
    cfg.head.num_classes = 8
    torch.manual_seed(3)
    state = official_layout(random_state(MODELS.build(cfg)))
    state['module.VIT.odd.weight'] = torch.zeros(2)
    src = tmp_path / 'affectnet-8.pth'
    save_release(src, state, tmp_path / 'pwned')
    dst = tmp_path / 'out.pth'
    config = config_file(tmp_path, small_cfg)  # 7 classes: set from --classes
    with pytest.raises(CheckpointError, match=r'keys match no .*VIT\.odd'):
        converter_main(src, dst, '--config', config)
    with pytest.raises(ConfigError, match='has 7 classes, but this file'):
        converter_main(src, dst, '--dataset', 'rafdb', '--allow-unknown')
    converter_main(src, dst, '--allow-unknown', '--config', config)
    assert not (tmp_path / 'pwned').exists()
    out = torch.load(dst, weights_only=True)
    assert out['meta']['dataset_meta']['classes'] == list(AFFECTNET_CATEGORIES)
    assert out['meta']['cfg_options'] == {'model.head.num_classes': 8}
    assert torch.equal(out['state_dict']['head.fc.weight'],
                       state['module.VIT.head.linear.weight'])
    with pytest.raises(ConfigError, match='--overwrite'):
        converter_main(src, dst, '--allow-unknown')
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        converter_main(tmp_path / 'missing.pth', tmp_path / 'x.pth')
    torch.save({'state_dict': {'x': torch.zeros(1)}}, tmp_path / 'other.pth')
    with pytest.raises(CheckpointError, match=r'other\.pth.*no classifier'):
        converter_main(tmp_path / 'other.pth', tmp_path / 'x.pth',
                       '--allow-unknown')
    with pytest.raises(CheckpointMismatchError, match='Nothing was written'):
        converter_main(src, tmp_path / 'y.pth', '--allow-unknown')
