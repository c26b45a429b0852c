"""Every metafile entry is a model name: mmpretrain and ferpretrain find it,
load its config, build it, and load weights into it strictly.

Full-size models take seconds each to build on two cores, so one reduced
model (APViT's demo, 0.39 M parameters) is built for real; every other name
is checked down to its config (it exists and loads with mmengine's
``Config``), without building.
"""
import glob
import importlib
import os
import os.path as osp
import subprocess
import sys

import mmpretrain
import pytest
import torch
import yaml
from mmengine.config import Config
from mmpretrain.apis import ModelHub

import ferpretrain
from ferpretrain.apis import model as model_api
from ferpretrain.utils import resources
from ferpretrain.utils.errors import CheckpointMismatchError, ConfigError

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: The model built for real: small and fast.
SMALL = 'apvit_reduced_1xb32-30e_demo-faces-64px-cpu'
#: A model with an official release and a converter for it.
RELEASED = 'poster-v2_ir50-mfn_1xb144-200e_rafdb-224px'


def _metafile_entries():
    """``(metafile, Name, Config)`` of every model, read with plain YAML
    (independent of the code under test)."""
    with open(osp.join(REPO, 'model-index.yml')) as f:
        imports = yaml.safe_load(f)['Import']
    entries = []
    for metafile in imports:
        with open(osp.join(REPO, metafile)) as f:
            for model in yaml.safe_load(f)['Models']:
                entries.append((metafile, model['Name'], model['Config']))
    return imports, entries


IMPORTS, ENTRIES = _metafile_entries()
NAMES = [name for _, name, _ in ENTRIES]


@pytest.fixture
def fresh_hub():
    """An empty ModelHub, as in a new process; restored afterwards."""
    flag = '_ModelHub__mmpretrain_registered'
    saved = (dict(ModelHub._models_dict), getattr(ModelHub, flag))
    ModelHub._models_dict.clear()
    setattr(ModelHub, flag, False)
    yield ModelHub
    ModelHub._models_dict.clear()
    ModelHub._models_dict.update(saved[0])
    setattr(ModelHub, flag, saved[1])


# ---------------------------------------------------------------------------
# The index itself
# ---------------------------------------------------------------------------
def test_every_metafile_is_in_the_index():
    metafiles = sorted(
        osp.relpath(p, REPO)
        for p in glob.glob(osp.join(REPO, 'configs', '*', 'metafile.yml')))
    assert sorted(IMPORTS) == metafiles


def test_every_name_is_unique_lower_case_and_names_a_config():
    lowered = [name.lower() for name in NAMES]
    assert len(set(lowered)) == len(lowered), sorted(
        {n for n in lowered if lowered.count(n) > 1})
    assert all(name == name.lower() for name in NAMES)
    missing = [(m, n, c) for m, n, c in ENTRIES
               if not osp.isfile(osp.join(REPO, c))]
    assert not missing
    assert model_api.check_model_index() == []
    assert sorted(ferpretrain.list_models()) == sorted(lowered)


def test_no_name_is_also_an_mmpretrain_name():
    """A clash would break mmpretrain's own registration."""
    own = model_api.read_model_index(
        osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'model-index.yml'))
    assert not set(own) & {name.lower() for name in NAMES}


# ---------------------------------------------------------------------------
# Registration into mmpretrain's ModelHub
# ---------------------------------------------------------------------------
def test_every_name_resolves_in_mmpretrain():
    listed = set(mmpretrain.list_models())
    assert set(NAMES) <= listed
    assert 'resnet50_8xb32_in1k' in listed  # mmpretrain's own stay
    assert mmpretrain.list_models('*apvit*')
    for metafile, name, config in ENTRIES:
        assert ModelHub.has(name)
        registered = ModelHub._models_dict[name].config
        assert registered == osp.join(resources.resource_root(), config)


@pytest.mark.parametrize('metafile, name, config', ENTRIES,
                         ids=[name for _, name, _ in ENTRIES])
def test_every_name_loads_its_config(metafile, name, config):
    metainfo = ModelHub.get(name)  # mmpretrain's lookup, config loaded
    assert isinstance(metainfo.config, Config)
    assert metainfo.config.filename == osp.join(resources.resource_root(),
                                                config)
    assert metainfo.config.model.type


def test_registration_is_lazy_and_both_indexes_stay(fresh_hub):
    """Nothing is read until mmpretrain reads its own index; then both
    are there, whichever order."""
    assert not fresh_hub.has(SMALL)
    names = mmpretrain.list_models()  # mmpretrain registers now, and ours
    assert SMALL in names and 'resnet50_8xb32_in1k' in names
    # An early, explicit registration is kept when mmpretrain reads its
    # own index later.
    fresh_hub._models_dict.clear()
    fresh_hub._ModelHub__mmpretrain_registered = False
    model_api.register_model_index()
    assert fresh_hub.has(SMALL) and not fresh_hub.has('resnet50_8xb32_in1k')
    assert {SMALL, 'resnet50_8xb32_in1k'} <= set(mmpretrain.list_models())


def test_registration_is_idempotent_also_across_reloads(fresh_hub):
    hook = ModelHub.__dict__['_register_mmpretrain_models']
    model_api.register_model_index()
    before = dict(fresh_hub._models_dict)
    model_api.register_model_index()
    reloaded = importlib.reload(model_api)
    try:
        # The reloaded module reads the index anew (new objects, same
        # files): nothing is replaced or refused, the hook not doubled.
        reloaded.register_model_index()
        assert fresh_hub._models_dict == before
        assert ModelHub.__dict__['_register_mmpretrain_models'] is hook
    finally:
        importlib.reload(model_api)


def test_a_name_taken_for_another_config_is_refused_whole(
        fresh_hub, monkeypatch):
    monkeypatch.setattr(model_api, '_WARNED', [])
    other = model_api.read_model_index()[SMALL]
    other.config = '/elsewhere/demo_cpu.py'
    fresh_hub._models_dict[SMALL] = other
    with pytest.raises(ConfigError, match='/elsewhere/demo_cpu.py'):
        model_api.register_model_index()
    assert list(fresh_hub._models_dict) == [SMALL]  # nothing half-added
    # Inside mmpretrain's own listing it is a warning, not a failure.
    fresh_hub._ModelHub__mmpretrain_registered = True
    with pytest.warns(UserWarning, match='not available in mmpretrain'):
        assert mmpretrain.list_models() == [SMALL]


# ---------------------------------------------------------------------------
# ferpretrain's own functions
# ---------------------------------------------------------------------------
def test_list_models_lists_ferpretrain_only():
    posters = ferpretrain.list_models('*poster*')
    assert posters and set(posters) <= set(NAMES)
    assert all('poster' in name for name in posters)
    assert 'resnet50_8xb32_in1k' not in ferpretrain.list_models()
    assert 'resnet50_8xb32_in1k' in ferpretrain.list_models(
        include_mmpretrain=True)
    # mmpretrain's rules: a prefix match, exclusions, tasks.
    assert ferpretrain.list_models('APVIT') == sorted(
        n for n in NAMES if n.startswith('apvit'))
    assert not any('cpu' in n for n in ferpretrain.list_models(
        '*poster*', exclude_patterns=['*cpu*']))
    with_results = ferpretrain.list_models(
        task='Facial Expression Recognition')
    without = ferpretrain.list_models(task='null')
    assert with_results and without
    assert sorted(with_results + without) == sorted(NAMES)


def _converter_output(model, path, classes):
    """What the converters write: state dict + classes in meta."""
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=list(classes)))),
               path)


def test_get_model_loads_a_checkpoint_strictly(tmp_path, monkeypatch):
    model = ferpretrain.get_model(SMALL)
    assert model._metainfo.name == SMALL and not model.training
    assert model.dataset_meta is model._dataset_meta
    with torch.no_grad():
        for param in model.parameters():
            param.normal_()
    classes = [f'class{i}' for i in range(7)]
    path = str(tmp_path / 'converted.pth')
    _converter_output(model, path, classes)

    loaded = ferpretrain.get_model(SMALL, pretrained=path)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert list(loaded.dataset_meta['classes']) == classes
    assert loaded._dataset_meta is loaded.dataset_meta
    # mmpretrain's older spelling, with a config named relative to the
    # checkout / installed package from another working directory.
    monkeypatch.chdir(tmp_path)
    again = model_api.init_model('configs/apvit/demo_cpu.py', path)
    assert list(again.dataset_meta['classes']) == classes
    assert again._metainfo is None


def test_get_model_refuses_a_checkpoint_that_does_not_fit(tmp_path):
    model = ferpretrain.get_model(SMALL)
    state = model.state_dict()
    dropped = sorted(state)[0]
    del state[dropped]
    state['neck.not_a_layer.weight'] = torch.zeros(1)
    path = str(tmp_path / 'other.pth')
    torch.save(dict(state_dict=state), path)
    with pytest.raises(CheckpointMismatchError) as info:
        ferpretrain.get_model(SMALL, pretrained=path)
    message = str(info.value)
    assert path in message and dropped in message
    assert 'neck.not_a_layer.weight' in message
    with pytest.raises(FileNotFoundError, match='nothing.pth'):
        ferpretrain.get_model(SMALL, pretrained=str(tmp_path / 'nothing.pth'))
    # Another class count: the same file, another shape.
    good = str(tmp_path / 'good.pth')
    torch.save(dict(state_dict=model.state_dict()), good)
    with pytest.raises(CheckpointMismatchError, match='another shape'):
        ferpretrain.get_model(SMALL, pretrained=good,
                              head=dict(num_classes=3))


def test_pretrained_true_without_weights_says_what_to_do():
    with pytest.raises(ConfigError) as info:
        ferpretrain.get_model(RELEASED, pretrained=True)
    message = str(info.value)
    converter = osp.join(resources.resource_root(), 'tools',
                         'model_converters', 'posterv2_to_ferpretrain.py')
    assert converter in message and osp.isfile(converter)
    assert '--dataset rafdb' in message and 'pretrained=' in message
    # No release at all: train it.
    with pytest.raises(ConfigError, match='tools/train.py'):
        ferpretrain.get_model(SMALL, pretrained=True)


def test_unknown_names_get_suggestions():
    with pytest.raises(ConfigError, match='apvit_reduced'):
        ferpretrain.get_model('apvit_reduced_demo')


# ---------------------------------------------------------------------------
# Broken indexes and the installed layout
# ---------------------------------------------------------------------------
def _write_index(folder, models):
    os.makedirs(osp.join(folder, 'configs', 'x'), exist_ok=True)
    with open(osp.join(folder, 'model-index.yml'), 'w') as f:
        yaml.safe_dump({'Import': ['configs/x/metafile.yml']}, f)
    with open(osp.join(folder, 'configs', 'x', 'metafile.yml'), 'w') as f:
        yaml.safe_dump({'Models': models}, f)
    return osp.join(folder, 'model-index.yml')


def test_a_planted_bug_is_caught(tmp_path, monkeypatch):
    """A Config that does not exist, a name twice."""
    index = _write_index(str(tmp_path), [
        dict(Name='broken_model', Config='configs/x/gone.py'),
    ])
    problems = model_api.check_model_index(index)
    assert len(problems) == 1 and 'configs/x/gone.py' in problems[0]
    monkeypatch.setattr(model_api, '_MODELS',
                        model_api.read_model_index(index))
    with pytest.raises(ConfigError, match='gone.py'):
        ferpretrain.get_model('broken_model')

    twice = _write_index(str(tmp_path / 'twice'), [
        dict(Name='same', Config='configs/x/a.py'),
        dict(Name='SAME', Config='configs/x/b.py'),
    ])
    with pytest.raises(ConfigError, match='listed twice'):
        model_api.read_model_index(twice)


def test_installed_layout_resolves_in_the_mim_folder(tmp_path, monkeypatch):
    """A wheel has no checkout: configs are found in ferpretrain/.mim."""
    package = tmp_path / 'site-packages' / 'ferpretrain'
    mim = package / '.mim'
    _write_index(str(mim), [dict(Name='m', Config='configs/x/a.py')])
    (mim / 'configs' / 'x' / 'a.py').write_text('model = dict(type="X")\n')
    monkeypatch.setattr(resources, 'PACKAGE_DIR', str(package))
    monkeypatch.setattr(resources, 'MIM_DIR', str(mim))
    monkeypatch.chdir(tmp_path)
    assert resources.resource_root() == str(mim)
    assert resources.find_config('configs/x/a.py') == str(
        mim / 'configs' / 'x' / 'a.py')
    models = model_api.read_model_index(model_api.model_index_path())
    assert models['m'].config == str(mim / 'configs' / 'x' / 'a.py')
    with pytest.raises(ConfigError, match='not found'):
        resources.find_config('configs/x/missing.py')


def test_the_wheel_gets_every_config_and_tool(tmp_path):
    """setup.py's package_data patterns, applied as setuptools applies them
    (recursive glob below the package), cover every file of configs/ and
    tools/ that git tracks."""
    setup_py = osp.join(REPO, 'setup.py')
    namespace = {'__name__': 'setup', '__file__': setup_py}
    with open(setup_py) as f:
        exec(compile(f.read(), setup_py, 'exec'), namespace)
    mim = tmp_path / 'ferpretrain' / '.mim'
    mim.mkdir(parents=True)
    for name in namespace['MIM_FILES']:
        os.symlink(osp.join(REPO, name), mim / name)
    packaged = set()
    for pattern in namespace['MIM_PATTERNS']:
        packaged |= {
            osp.relpath(p, mim)
            for p in glob.glob(osp.join(tmp_path, 'ferpretrain', pattern),
                               recursive=True)
        }
    tracked = subprocess.run(
        ['git', 'ls-files', 'configs', 'tools', 'model-index.yml'],
        cwd=REPO, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip('not a git checkout')
    files = set(tracked.stdout.split())
    assert files and files <= packaged, sorted(files - packaged)


def test_packaged_checkpoints_load_by_their_scheme(tmp_path, monkeypatch):
    """``ferpretrain://<file>`` names a checkpoint shipped in the package
    (ferpretrain/weights/): get_model loads it strictly, mmengine's loader
    (mmpretrain.get_model, a config's load_from) reads it, and a missing
    or escaping name is one clear error."""
    from mmengine.runner.checkpoint import CheckpointLoader

    from ferpretrain.utils.errors import CheckpointError
    monkeypatch.setattr(resources, 'WEIGHTS_DIR', str(tmp_path))
    model = ferpretrain.get_model(SMALL)
    with torch.no_grad():
        for param in model.parameters():
            param.normal_()
    classes = [f'class{i}' for i in range(7)]
    _converter_output(model, str(tmp_path / 'small.pth'), classes)

    loaded = ferpretrain.get_model(SMALL, pretrained='ferpretrain://small.pth')
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert list(loaded.dataset_meta['classes']) == classes
    raw = CheckpointLoader.load_checkpoint('ferpretrain://small.pth')
    assert raw['meta']['dataset_meta']['classes'] == classes
    with pytest.raises(CheckpointError, match='missing.pth: the packaged'):
        ferpretrain.get_model(SMALL, pretrained='ferpretrain://missing.pth')
    for bad in ('ferpretrain://../small.pth', 'ferpretrain://'):
        with pytest.raises(CheckpointError, match='a file name under'):
            resources.packaged_checkpoint(bad)


def test_the_inferencer_takes_model_names(tmp_path, monkeypatch):
    """A name builds its config; a name whose index entry has weights loads
    them when no checkpoint is given."""
    import warnings

    from ferpretrain.apis import FERInferencer
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        inferencer = FERInferencer(SMALL)
    assert inferencer.config_name.endswith('configs/apvit/demo_cpu.py')
    assert any('random initialisation' in str(w.message) for w in caught)

    monkeypatch.setattr(resources, 'WEIGHTS_DIR', str(tmp_path))
    model = ferpretrain.get_model(SMALL)
    classes = [f'class{i}' for i in range(7)]
    _converter_output(model, str(tmp_path / 'small.pth'), classes)
    entry = model_api._ferpretrain_models()[SMALL]
    monkeypatch.setattr(entry, 'weights', 'ferpretrain://small.pth')
    inferencer = FERInferencer(SMALL)
    assert inferencer.classes == tuple(classes)
    assert inferencer.classes_source == 'checkpoint'
    with pytest.raises(ConfigError, match='No model is named'):
        FERInferencer('apvit_no_such_model')


def test_the_wheel_ships_the_weights_and_stays_small(tmp_path):
    """A wheel built from the tracked files holds the packaged checkpoints
    (every ``ferpretrain://`` file a metafile names) and stays under 20 MB.
    Built from a copy: building in the checkout would replace the editable
    install's .mim links with copies."""
    import shutil
    import zipfile
    tracked = subprocess.run(['git', 'ls-files'], cwd=REPO,
                             capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip('not a git checkout')
    src = tmp_path / 'src'
    for name in tracked.stdout.split('\n'):
        if name and osp.isfile(osp.join(REPO, name)):
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(osp.join(REPO, name), src / name)
    build = subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '--no-deps', '-q', '-w',
         str(tmp_path / 'dist'), str(src)],
        capture_output=True, text=True, timeout=600)
    if build.returncode != 0 and 'No matching distribution' in build.stderr:
        pytest.skip('no package index to fetch the build backend from')
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel, ) = (tmp_path / 'dist').glob('ferpretrain-*.whl')
    assert osp.getsize(wheel) < 20 * 2**20, osp.getsize(wheel)
    names = set(zipfile.ZipFile(wheel).namelist())
    packaged = [
        entry.weights[len(resources.PACKAGED_SCHEME):]
        for entry in model_api._ferpretrain_models().values()
        if (entry.weights or '').startswith(resources.PACKAGED_SCHEME)
    ]
    for name in packaged:
        assert f'ferpretrain/weights/{name}' in names, name
    assert 'ferpretrain/.mim/configs/apvit/raf.py' in names
