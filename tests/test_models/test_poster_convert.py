"""POSTER (v1) checkpoint converter: key mapping and the CLI.

The official layout is synthesised from ferpretrain's model by an inverse
of the mapping written independently here (from the official module names
in zczcwh/POSTER ``models/``), plus the keys of the never-run modules, with
``DataParallel``'s ``module.`` prefix, saved as the official ``train.py``
saves (``model_state_dict`` next to the optimizer state).
"""
import copy
import os.path as osp
import re
import sys

import pytest
import torch
from mmengine.config import Config

from ferpretrain.datasets.categories import (AFFECTNET_CATEGORIES,
                                             RAFDB_CATEGORIES)
from ferpretrain.models.classifiers.poster import convert_poster_checkpoint
from ferpretrain.registry import MODELS
from ferpretrain.utils.errors import (CheckpointError,
                                      CheckpointMismatchError, ConfigError)

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(__file__)), 'test_tools'))
from tool_helpers import (REPO_ROOT, explain, load_tool,  # noqa: E402
                          run_python)

CONFIG = osp.join(REPO_ROOT, 'configs', '_base_', 'models',
                  'poster_ir50_mfn.py')
CONVERTER = osp.join(REPO_ROOT, 'tools', 'model_converters',
                     'poster_to_ferpretrain.py')

_PARTS = {
    'image_attn_norm': 'norm1', 'image_mlp_norm': 'norm2',
    'landmark_attn_norm': 'norm3', 'landmark_mlp_norm': 'norm4',
    'image_attn': 'attn_img', 'landmark_attn': 'attn_lm',
    'image_mlp': 'mlp1', 'landmark_mlp': 'mlp2', 'token_mix': 'conv'
}
_STAGE_START = (0, 3, 7)  # IR-50 units before stages 1, 2, 3


def to_official(name):
    m = re.fullmatch(r'neck\.layers\.(\d+)\.blocks\.(\d)\.(\w+)\.(.+)', name)
    if m:
        scale = 'lms'[int(m[2])]
        return (f'pyramid_fuse.blocks.{m[1]}.block_{scale}.'
                f'{_PARTS[m[3]]}.{m[4]}')
    m = re.fullmatch(r'neck\.layers\.(\d+)\.upsamples\.(\d)\.(.+)', name)
    if m:
        return f'pyramid_fuse.blocks.{m[1]}.upsample_{"ms"[int(m[2])]}.{m[3]}'
    m = re.fullmatch(r'backbone\.body\.(\d)\.(\d+)\.(.+)', name)
    if m:
        return f'ir_back.body.{_STAGE_START[int(m[1])] + int(m[2])}.{m[3]}'
    for pattern, repl in [
        (r'backbone\.(.+)', r'ir_back.\1'),
        (r'landmark_backbone\.(conv_[345])\.(\d+\..+)',
         r'face_landback.\1.model.\2'),
        (r'landmark_backbone\.(.+)', r'face_landback.\1'),
        (r'neck\.image_proj\.(.+)', r'ir_layer.\1'),
        (r'neck\.downsamples\.0\.(.+)', r'pyramid_fuse.downsample_m.\1'),
        (r'neck\.downsamples\.1\.(.+)', r'pyramid_fuse.downsample_s.\1'),
        (r'neck\.se\.(.+)', r'se_block.\1'),
        (r'neck\.(.+)', r'pyramid_fuse.\1'),
        (r'head\.fc\.(.+)', r'head.linear.\1'),
    ]:
        if re.fullmatch(pattern, name):
            return re.sub(pattern, repl, name)
    raise AssertionError(f'no inverse rule for {name}')


NEVER_RUN = [
    'ir_back.output_layer.0.weight', 'ir_back.output_layer.3.weight',
    'ir_back.output_layer.4.running_var',
    'face_landback.output_layer.conv.conv.weight',
    'face_landback.output_layer.linear.weight', 'pyramid_fuse.cls_token'
]


def random_state(model):
    return {
        k: torch.randn(v.shape) if v.is_floating_point() else v.clone()
        for k, v in model.state_dict().items()
    }


def official_layout(state):
    out = {to_official(k): v for k, v in state.items()}
    out.update({k: torch.zeros(2) for k in NEVER_RUN})
    return {'module.' + k: v for k, v in out.items()}


@pytest.fixture(scope='module')
def model_cfg():
    return Config.fromfile(CONFIG).model


def test_convert_full_key_set(model_cfg):
    torch.manual_seed(0)
    reference = random_state(MODELS.build(model_cfg))
    official = official_layout(reference)
    # The flat IR body: unit 20 is the last of stage 3.
    assert 'module.ir_back.body.20.res_layer.0.weight' in official
    official['module.pyramid_fuse.mystery'] = torch.zeros(1)
    official['module.ir_back.body.21.res_layer.0.weight'] = torch.zeros(1)
    converted, dropped, unknown = convert_poster_checkpoint(official)
    assert sorted(unknown) == [
        'module.ir_back.body.21.res_layer.0.weight',
        'module.pyramid_fuse.mystery'
    ]
    assert converted.keys() == reference.keys()
    for key in reference:
        assert converted[key] is official['module.' + to_official(key)]
    assert sorted(k for keys in dropped.values()
                  for k in keys) == sorted('module.' + k for k in NEVER_RUN)
    assert len(dropped) == 3
    with pytest.raises(ValueError, match='both map to'):
        convert_poster_checkpoint({
            'ir_layer.bias': torch.zeros(1),
            'module.ir_layer.bias': torch.zeros(1)
        })


def small_cfg(model_cfg, **neck):
    """The small arch with a narrow IR stage 3: every rule, fewer tensors.

    The token width stays 512, the landmark map's, so the landmark tokens
    enter unprojected as in POSTER (no extra ``landmark_proj``).
    """
    cfg = copy.deepcopy(model_cfg)
    cfg.backbone.stage_channels = (64, 128, 64, 64)
    cfg.neck.update(arch='small', image_token_dims=256, **neck)
    return cfg


def config_file(tmp_path, model_cfg):
    """A config file holding ``model_cfg``, for the converter's --config."""
    path = tmp_path / 'small_poster.py'
    Config(dict(model=model_cfg.to_dict())).dump(str(path))
    return path


def save_official(path, state, **extra):
    torch.save({'iter': 75, 'model_state_dict': official_layout(state),
                'optimizer_state_dict': {'state': {}, 'param_groups': []},
                **extra}, path)


def test_converter_cli_round_trip(tmp_path, model_cfg):
    cfg = small_cfg(model_cfg)
    torch.manual_seed(1)
    state = random_state(MODELS.build(cfg))
    src = tmp_path / 'epoch75_acc0.9205.pth'
    save_official(src, state)
    dst = tmp_path / 'out' / 'poster.pth'
    config = config_file(tmp_path, cfg)
    proc = run_python(CONVERTER, src, dst, '--dataset', 'rafdb', '--config',
                      config, cwd=tmp_path)
    assert proc.returncode == 0, explain(proc)
    assert 'pyramid_fuse.cls_token' in proc.stdout
    assert 'optimizer_state_dict' in proc.stdout
    assert f'Checked: loads strictly into the model of {config}' in \
        proc.stdout, explain(proc)
    out = torch.load(dst, weights_only=True)
    assert out['meta']['dataset_meta']['classes'] == list(RAFDB_CATEGORIES)
    assert out['meta']['release'] == 'rafdb'
    assert 'cfg_options' not in out['meta']
    model = MODELS.build(cfg)
    result = model.load_state_dict(out['state_dict'], strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def converter_main(*args):
    module = load_tool(CONVERTER, 'poster_cli')
    return module.main([str(a) for a in args])


def test_converter_recognises_the_affectnet_network(tmp_path, model_cfg):
    """The AffectNet release has no token-mixing convs: it is recognised
    from its keys, checked against the network without them, and says so
    when --dataset suggests the other one."""
    affect_cfg = small_cfg(model_cfg, token_mixing=False)
    affect_cfg.head.num_classes = 8
    torch.manual_seed(2)
    state = random_state(MODELS.build(affect_cfg))
    assert not any('token_mix' in k for k in state)
    src = tmp_path / 'affectnet8.pth'
    save_official(src, state)
    # A config of the RAF-DB network: the converter sees the difference.
    config = config_file(tmp_path, small_cfg(model_cfg))
    dst = tmp_path / 'affectnet8_ferpretrain.pth'
    converter_main(src, dst, '--config', config)  # 8 rows: AffectNet-8
    out = torch.load(dst, weights_only=True)
    meta = out['meta']
    assert meta['release'] == 'affectnet8'
    assert meta['dataset_meta']['classes'] == list(AFFECTNET_CATEGORIES)
    assert meta['cfg_options'] == {'model.neck.token_mixing': False,
                                   'model.head.num_classes': 8}
    model = MODELS.build(affect_cfg)
    model.load_state_dict(out['state_dict'], strict=True)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_seven_classes_need_the_release(tmp_path, model_cfg):
    cfg = small_cfg(model_cfg)
    torch.manual_seed(3)
    src = tmp_path / 'poster7.pth'
    save_official(src, random_state(MODELS.build(cfg)))
    with pytest.raises(ConfigError, match=r'cannot be read from the file'):
        converter_main(src, tmp_path / 'x.pth')
    config = config_file(tmp_path, cfg)
    dst = tmp_path / 'affectnet7.pth'
    converter_main(src, dst, '--dataset', 'affectnet7', '--config', config)
    assert torch.load(dst, weights_only=True)['meta']['dataset_meta'][
        'classes'] == list(AFFECTNET_CATEGORIES[:7])
    converter_main(src, dst, '--classes', 'a,b,c,d,e,f,g', '--config',
                   config, '--overwrite')
    meta = torch.load(dst, weights_only=True)['meta']
    assert meta['dataset_meta']['classes'] == list('abcdefg')
    assert 'release' not in meta


def test_converter_refusals(tmp_path, model_cfg):
    cfg = small_cfg(model_cfg)
    torch.manual_seed(4)
    state = official_layout(random_state(MODELS.build(cfg)))
    state['module.VIT.odd.weight'] = torch.zeros(2)
    src = tmp_path / 'odd.pth'
    torch.save({'model_state_dict': state}, src)
    dst = tmp_path / 'out.pth'
    config = config_file(tmp_path, cfg)
    with pytest.raises(CheckpointError,
                       match=r'match no POSTER rule.*VIT\.odd'):
        converter_main(src, dst, '--dataset', 'rafdb', '--config', config)
    with pytest.raises(ConfigError, match='has 8 classes, but this file'):
        converter_main(src, dst, '--dataset', 'affectnet8')
    converter_main(src, dst, '--dataset', 'rafdb', '--allow-unknown',
                   '--config', config)
    with pytest.raises(ConfigError, match='--overwrite'):
        converter_main(src, dst, '--dataset', 'rafdb')
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        converter_main(tmp_path / 'missing.pth', tmp_path / 'x.pth',
                       '--dataset', 'rafdb')
    torch.save({'model_state_dict': {'x': torch.zeros(1)}},
               tmp_path / 'other.pth')
    with pytest.raises(CheckpointError, match=r'other\.pth.*no classifier'):
        converter_main(tmp_path / 'other.pth', tmp_path / 'x.pth',
                       '--dataset', 'rafdb', '--allow-unknown')
    # The full-size RAF-DB config does not take the small network: nothing
    # is written, and the message says what to do.
    with pytest.raises(CheckpointMismatchError,
                       match=r'Nothing was written.*--config'):
        converter_main(src, tmp_path / 'y.pth', '--dataset', 'rafdb',
                       '--allow-unknown')
    assert not (tmp_path / 'y.pth').exists()
