"""Every config in configs/ builds through mmpretrain's own entry points
(``mmpretrain.get_model`` and mmengine's ``Runner``) and runs a forward pass
on CPU, at the size its test pipeline produces."""
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from ferpretrain.analysis import get_model_complexity, infer_input_size
from ferpretrain.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                         recursive=True) if '_base_' not in p)


def test_there_are_configs():
    names = {osp.relpath(p, osp.join(REPO, 'configs')) for p in CONFIGS}
    assert {'apvit/raf.py', 'apvit/fer2013.py'} <= names


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_builds_and_runs(path, tmp_path):
    from mmengine.runner import Runner
    from mmpretrain.apis import get_model

    cfg = Config.fromfile(path)
    assert cfg.custom_imports == dict(
        imports=['ferpretrain.plugin'], allow_failed_imports=False)
    assert cfg.default_scope == 'mmpretrain'
    # _base_ files must come from this repository, never `pkg::` paths.
    with open(path) as f:
        assert '::' not in f.read()
    size = infer_input_size(cfg)
    assert size is not None, f'{path}: cannot tell the input size'
    if cfg.model.type == 'LandmarkRegressor':  # configs/landmarks/
        out_shape, pred_key, pred_shape = (2, 136), 'pred_landmarks', (68, 2)
    else:
        num_classes = cfg.model.head.num_classes
        out_shape, pred_key = (2, num_classes), 'pred_score'
        pred_shape = (num_classes, )
    model = get_model(cfg, device='cpu').eval()
    # Difference-of-Embeddings models take a (neutral, target) pair.
    faces = getattr(model, 'faces_per_input', 1)
    sample = ((faces, ) if faces > 1 else ()) + (3, *size)
    images = torch.randint(0, 256, (2, *sample), dtype=torch.uint8)
    with torch.no_grad():
        data = model.data_preprocessor(dict(inputs=list(images)))
        logits = model(data['inputs'], mode='tensor')
    assert logits.shape == out_shape

    cfg.work_dir = str(tmp_path)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        runner = Runner.from_cfg(cfg)
    runner.model.eval()
    with torch.no_grad():
        preds = runner.model.test_step(dict(inputs=list(images)))
    assert len(preds) == 2
    assert preds[0].get(pred_key).shape == pred_shape


PAPER_READMES = sorted(glob.glob(osp.join(REPO, 'configs', '*', 'README.md')))


@pytest.mark.parametrize(
    'readme', PAPER_READMES,
    ids=[osp.relpath(p, REPO) for p in PAPER_READMES])
def test_readme_model_table_matches_the_configs(readme):
    """Params and MACs in each paper README's results table are measured
    from its configs, not typed."""
    with open(readme) as f:
        lines = f.readlines()
    rows = [line for line in lines if line.startswith('| [')]
    assert rows, f'{readme} has no results table'
    # The MACs column says its convention: fvcore-style unless the header
    # says thop (POSTER V2 quotes thop figures).
    header = next(line for line in lines if line.startswith('| Config'))
    convention = 'thop' if 'thop' in header else 'fvcore'
    measured = {}  # rows of one model differ only in the data: count once
    for row in rows:
        cells = [c.strip() for c in row.strip().strip('|').split('|')]
        config = re.match(r'\[(.+?)\]', cells[0]).group(1)
        cfg = Config.fromfile(osp.join(osp.dirname(readme), config))
        size = int(cells[2].split()[-1])  # '48 -> 112' means 112
        model_cfg = cfg.model.copy()
        # Weights and class count do not change the counts to 3 digits.
        key = (model_cfg.get('type'), repr(model_cfg.get('backbone')),
               repr(model_cfg.get('neck')), size)
        if key not in measured:
            measured[key] = get_model_complexity(
                MODELS.build(cfg.model), size, convention=convention)
        result = measured[key]
        assert f'{result.params_m:.3g}' == f'{float(cells[3]):.3g}', row
        assert f'{result.gmac:.3g}' == f'{float(cells[4]):.3g}', row


def _flatten(value, prefix=''):
    """A config as {'a.b.0.c': leaf}."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)) and value:
        items = enumerate(value)
    else:
        return {prefix.rstrip('.'): value}
    out = {}
    for key, item in items:
        out.update(_flatten(item, f'{prefix}{key}.'))
    return out


# Each ablation of the shipped model's recipe (configs/iresnet/README.md,
# "What earned its place") differs from its reference in the one thing its
# name says, and in nothing else: otherwise its figure measures two things.
ABLATIONS = {
    'no-label-smoothing': ('model.head.loss.', ),
    'no-erasing': ('train_pipeline.', 'train_dataloader.dataset.pipeline.'),
    'mixup-cutmix': ('model.train_cfg.augments.', ),
    'class-balanced': ('_counts.', 'model.head.loss.class_weight.'),
    'ema': ('custom_hooks.1.', ),
    'seed1': ('randomness.seed', ),
}


@pytest.mark.parametrize('name', sorted(ABLATIONS))
def test_each_ablation_changes_one_thing(name):
    folder = osp.join(REPO, 'configs', 'iresnet', 'ablations')
    ref = Config.fromfile(osp.join(folder, 'fer2013_cpu_8e.py'))
    cfg = Config.fromfile(osp.join(folder, f'fer2013_cpu_8e_{name}.py'))
    flat_ref, flat_cfg = _flatten(ref.to_dict()), _flatten(cfg.to_dict())
    changed = {
        k for k in set(flat_ref) | set(flat_cfg)
        if flat_ref.get(k, KeyError) != flat_cfg.get(k, KeyError)
    }
    assert changed
    assert {k for k in changed
            if not k.startswith(ABLATIONS[name])} == set(), name
    if name == 'no-erasing':
        full = ref.train_dataloader.dataset.pipeline
        kept = [s for s in full if s['type'] != 'RandomErasing']
        assert cfg.train_dataloader.dataset.pipeline == kept
        assert len(kept) == len(full) - 1
