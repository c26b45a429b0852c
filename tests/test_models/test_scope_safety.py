"""Every registered ferpretrain model component builds and runs from
another project's scope with the cross-scope syntax alone.

A downstream project (mmpose, mmaction2, ...) writes
``dict(type='mmpretrain.PoolingViT', ...)`` and builds it with its own
default scope. The test plays that user with the ``mmengine`` scope (the
root, which knows no mmpretrain name), needing no downstream install:

1. it builds one model per family from the repository's configs in the
   ``mmpretrain`` scope, as the tools do, and records, for each
   ferpretrain class, the arguments its first instance was built with and
   the inputs and output of its first forward call (the model's tensor
   forward and its loss);
2. for each class, it builds ``mmpretrain.<Name>`` with those arguments
   from the ``mmengine`` scope, loads the recorded module's weights
   strictly and checks that the same inputs give the same output.

A component that builds a sub-module by bare name outside mmpretrain's
scope fails step 2 with mmengine's "is not in the mmengine::model
registry"; a class that no config reaches fails the coverage test, which
names it.
"""
import copy
import inspect
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample

from ferpretrain.analysis import infer_input_size
from ferpretrain.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# One config per model family, the CPU-sized ones where a family has one
# (the same code at a smaller size); together they reach every registered
# class but STAND_INS'.
CONFIGS = [
    'apvit/fer2013_cpu.py',
    'transfer/fer2013_cpu.py',
    'poster/fer2013_cpu.py',
    'poster_v2/fer2013_cpu.py',
    'fervt/fer2013_cpu.py',
    'vit_se/fer2013_cpu.py',
    'doe/demo_pairs_cpu.py',
    'disentangled_doe/demo_pairs_stage1_cpu.py',
    'disentangled_doe/demo_pairs_stage2_cpu.py',
    'landmarks/mobilefacenet_fer2013_64.py',
]
# A generic class that the configs use only through a subclass adding no
# behaviour of its own (POSTER adds checkpoint conversion) is built with the
# subclass's arguments and must compute what the subclass computed.
STAND_INS = {'LandmarkImageClassifier': 'Poster'}

FERPRETRAIN_CLASSES = {
    name: cls
    for name, cls in MODELS.module_dict.items()
    if cls.__module__.startswith('ferpretrain.')
}


def _init_kwargs(cls, init, args, kwargs):
    """The keyword arguments an ``init(self, *args, **kwargs)`` call stands
    for, so that a config dict can repeat it."""
    bound = inspect.signature(init).bind(None, *args, **kwargs)
    out = {}
    for name, value in list(bound.arguments.items())[1:]:
        kind = bound.signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            raise TypeError(f'{cls.__name__}.__init__ takes *{name}: a '
                            'config cannot pass positional arguments')
        if kind is inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        else:
            out[name] = value
    return out


def _tensors(tree):
    """The tensors of a nested output, in a fixed order."""
    if isinstance(tree, torch.Tensor):
        return [tree]
    if isinstance(tree, dict):
        return [t for k in sorted(tree) for t in _tensors(tree[k])]
    if isinstance(tree, (list, tuple)):
        return [t for item in tree for t in _tensors(item)]
    if isinstance(tree, DataSample):
        return _tensors(tree.to_dict())
    return []


def _record(config, monkeypatch):
    """Build and run ``config``'s model; return ``{name: (kwargs, module,
    args, kwargs_of_forward, output)}`` for the ferpretrain classes met."""
    init_kwargs = {}  # id(module) -> (class name, kwargs)

    def recording(cls, init):

        def __init__(self, *args, **kwargs):
            if id(self) not in init_kwargs and type(self) is cls:
                init_kwargs[id(self)] = copy.deepcopy(
                    _init_kwargs(cls, init, args, kwargs))
            init(self, *args, **kwargs)

        return __init__

    for cls in FERPRETRAIN_CLASSES.values():
        monkeypatch.setattr(cls, '__init__', recording(cls, cls.__init__))

    cfg = Config.fromfile(osp.join(REPO, 'configs', config))
    model_cfg = cfg.model
    if 'data_preprocessor' not in model_cfg and 'data_preprocessor' in cfg:
        model_cfg = dict(model_cfg, data_preprocessor=cfg.data_preprocessor)
    size = infer_input_size(cfg)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(model_cfg).eval()
    monkeypatch.undo()

    records = {}

    def hook(module, args, kwargs, output):
        name = type(module).__name__
        if name not in records:
            records[name] = (init_kwargs[id(module)], module,
                             copy.deepcopy(args), copy.deepcopy(kwargs),
                             copy.deepcopy(output))

    for module in model.modules():
        if type(module) in FERPRETRAIN_CLASSES.values():
            module.register_forward_hook(hook, with_kwargs=True)
    faces = getattr(model, 'faces_per_input', 1)
    sample = ((faces, ) if faces > 1 else ()) + (3, *size)
    images = torch.randint(0, 256, (2, *sample), dtype=torch.uint8)
    with torch.no_grad():
        data = model.data_preprocessor(dict(inputs=list(images)))
        model(data['inputs'], mode='tensor')
        if hasattr(model, 'head'):  # classifiers: reach the loss too
            samples = [DataSample().set_gt_label(i) for i in range(2)]
            model(data['inputs'], samples, mode='loss')
    return records


@pytest.fixture(scope='module')
def records():
    monkeypatch = pytest.MonkeyPatch()
    found = {}
    try:
        for config in CONFIGS:
            for name, record in _record(config, monkeypatch).items():
                found.setdefault(name, record)
    finally:
        monkeypatch.undo()
    return found


def test_the_configs_reach_every_registered_class(records):
    for name, stand_in in STAND_INS.items():
        assert issubclass(FERPRETRAIN_CLASSES[stand_in],
                          FERPRETRAIN_CLASSES[name])
    missing = sorted(set(FERPRETRAIN_CLASSES) - set(records) - set(STAND_INS))
    assert not missing, (
        f'{missing}: no model of CONFIGS builds and runs these classes; '
        'add a config that uses them')


@pytest.mark.parametrize('name', sorted(FERPRETRAIN_CLASSES))
def test_builds_and_runs_from_the_mmengine_scope(name, records):
    record = records.get(name) or records.get(STAND_INS.get(name))
    if record is None:
        pytest.skip(f'{name} is not reached (see the coverage test)')
    kwargs, original, args, forward_kwargs, expected = record
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmengine'):
        assert DefaultScope.get_current_instance().scope_name == 'mmengine'
        module = ROOT_MODELS.build(
            dict(type=f'mmpretrain.{name}', **copy.deepcopy(kwargs)))
    assert type(module) is FERPRETRAIN_CLASSES[name]
    module.load_state_dict(original.state_dict(), strict=True)
    module.eval()
    with torch.no_grad():
        output = module(*copy.deepcopy(args), **copy.deepcopy(forward_kwargs))
    expected, output = _tensors(expected), _tensors(output)
    assert expected and len(output) == len(expected), name
    for want, got in zip(expected, output):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
