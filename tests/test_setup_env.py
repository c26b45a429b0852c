"""Importing ferpretrain registers and does nothing else; the old import
paths of moved names keep working and say where the names went."""
import importlib
import subprocess
import sys
import textwrap
import warnings

import pytest
import torch

_PATCHES = textwrap.dedent('''
    import mmcv
    from mmengine.runner.checkpoint import CheckpointLoader
    def patched():
        return (CheckpointLoader._schemes.get('').__module__
                == 'ferpretrain.utils.checkpoint',
                mmcv.adjust_hue.__module__ == 'ferpretrain.utils.compat')
''')


def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, '-c', _PATCHES + code],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


def test_import_registers_and_patches_nothing():
    out = _run(textwrap.dedent('''
        import ferpretrain
        from mmpretrain.registry import DATASETS, MODELS
        assert MODELS.get('PosterV2') and DATASETS.get('RAFDB')
        print(patched())
    '''))
    assert out == '(False, False)'


def test_register_all_modules_installs_both_patches_once():
    out = _run(textwrap.dedent('''
        import ferpretrain
        from mmengine.registry import DefaultScope
        ferpretrain.register_all_modules()
        ferpretrain.register_all_modules()  # idempotent
        print(patched() + (DefaultScope.get_current_instance().scope_name, ))
    '''))
    assert out == "(True, True, 'mmpretrain')"


def test_the_config_entry_point_installs_the_patches():
    """``custom_imports=dict(imports=['ferpretrain.plugin'])`` is how
    configs reach mmpretrain's and other projects' tools."""
    out = _run(textwrap.dedent('''
        from mmengine.config import Config
        cfg = Config.fromfile('configs/apvit/raf.py')
        assert cfg.custom_imports.imports == ['ferpretrain.plugin']
        from mmengine.utils import import_modules_from_strings
        import_modules_from_strings(**cfg.custom_imports)
        print(patched())
    '''))
    assert out == '(True, True)'


@pytest.mark.parametrize('old, name, new', [
    ('ferpretrain.models.utils.cross_fusion', 'CrossFusionBlock',
     'ferpretrain.models.classifiers.poster'),
    ('ferpretrain.models.utils.cross_attention', 'relative_position_index',
     'ferpretrain.models.classifiers.poster_v2'),
    ('ferpretrain.utils.runner', 'KeepExistingConfigRunner',
     'ferpretrain.engine.runner'),
    ('ferpretrain.utils.dist', 'setup_cpu_distributed',
     'ferpretrain.engine.dist'),
    ('ferpretrain.utils.malloc', 'tune_malloc', 'ferpretrain.engine.malloc'),
    ('ferpretrain.models.utils.poster_convert', 'convert_poster_checkpoint',
     'ferpretrain.models.classifiers.poster'),
])
def test_old_module_paths_resolve_with_a_pointer(old, name, new):
    module = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=new.replace('.', r'\.')):
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(new), name)
    with pytest.raises(AttributeError, match=f'{old} moved'):
        getattr(module, 'no_such_name')


@pytest.mark.parametrize('package, name, new', [
    ('ferpretrain.models.utils', 'PyramidCrossFusion',
     'ferpretrain.models.classifiers.poster'),
    ('ferpretrain.models.utils', 'WindowCrossAttentionBlock',
     'ferpretrain.models.classifiers.poster_v2'),
    ('ferpretrain.utils', 'tune_malloc', 'ferpretrain.engine.malloc'),
    ('ferpretrain.utils', 'MALLOC_ENV', 'ferpretrain.engine.malloc'),
])
def test_old_package_names_resolve_with_a_pointer(package, name, new):
    with pytest.warns(DeprecationWarning, match=new.replace('.', r'\.')):
        value = getattr(importlib.import_module(package), name)
    assert value is getattr(importlib.import_module(new), name)


def test_unknown_package_names_still_raise():
    import ferpretrain.utils
    with pytest.raises(AttributeError, match='no attribute'):
        ferpretrain.utils.no_such_name  # noqa: B018


@pytest.mark.parametrize('cls, new, old', [
    ('poster.CrossAttention', dict(embed_dims=16), dict(dims=16)),
    ('poster.CrossFusionBlock',
     dict(embed_dims=16, num_tokens=3, drop_rate=0.1, attn_drop_rate=0.1,
          drop_path_rate=0.1),
     dict(dims=16, num_tokens=3, drop=0.1, attn_drop=0.1, drop_path=0.1)),
    ('poster.PyramidCrossFusion',
     dict(embed_dims=(16, 8), num_tokens=3, drop_path_rate=0.1,
          num_heads=2),
     dict(dims=(16, 8), num_tokens=3, drop_path=0.1, num_heads=2)),
    ('poster_v2.WindowCrossAttention',
     dict(embed_dims=8, num_heads=2, window_size=3),
     dict(dim=8, num_heads=2, window_size=3)),
    ('poster_v2.WindowCrossAttentionBlock',
     dict(embed_dims=8, num_heads=2, window_size=3, drop_rate=0.1,
          attn_drop_rate=0.1, drop_path_rate=0.1),
     dict(dim=8, num_heads=2, window_size=3, drop=0.1, attn_drop=0.1,
          drop_path=0.1)),
    ('poster_v2.PosterV2Neck',
     dict(in_channels=(8, 8, 8), landmark_channels=(8, 8, 8),
          num_heads=(2, 2, 2), window_sizes=(4, 2, 1), embed_dims=16,
          num_layers=1, vit_num_heads=2),
     dict(dims=(8, 8, 8), landmark_channels=(8, 8, 8), num_heads=(2, 2, 2),
          window_sizes=(4, 2, 1), embed_dims=16, num_layers=1,
          vit_num_heads=2)),
])
def test_old_argument_names_build_the_same_module(cls, new, old):
    """Constructor arguments use mmpretrain's names; configs written with
    the old ones build the same module, with a warning."""
    module, name = cls.split('.')
    klass = getattr(
        importlib.import_module(f'ferpretrain.models.classifiers.{module}'),
        name)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        current = klass(**new)
    torch.manual_seed(0)
    with pytest.warns(DeprecationWarning, match='is deprecated'):
        legacy = klass(**old)
    assert current.state_dict().keys() == legacy.state_dict().keys()
    for key, value in current.state_dict().items():
        assert torch.equal(value, legacy.state_dict()[key]), key
    assert repr(current) == repr(legacy)
