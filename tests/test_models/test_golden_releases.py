"""The official releases convert exactly: ferpretrain's logits equal the
official code's.

For each of six releases, ``tests/data/golden/official_logits.json`` holds
the official model's key table and the logits its official forward gives
for weights and an input anyone can draw again (``draw_release_weights``,
``golden_input``). Each test writes those weights in the release's own file
format (mmcls checkpoint, POSTER's and POSTER V2's training states with
DataParallel names, a PaddlePaddle ``.pdparams``), converts the file with
the converter a user would run, loads the output strictly into the
full-size config the converter names, and compares ferpretrain's float32
logits with the official ones, re-ordered by class name: norm-relative
difference below 1e-4 and the same arg-max. A wrongly wired layer, a
missing parameter or a wrong head order fails here.
"""
import json
import math
import os.path as osp
import pickle
import sys

import numpy as np
import pytest
import torch

from ferpretrain.utils.conversion import build_config_model

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tests', 'test_tools'))
from tool_helpers import load_tool  # noqa: E402

GOLDEN = osp.join(REPO, 'tests', 'data', 'golden', 'official_logits.json')
CONVERTERS = osp.join(REPO, 'tools', 'model_converters')


@pytest.fixture(scope='module')
def golden():
    with open(GOLDEN) as f:
        return json.load(f)


def draw_release_weights(keys, seed=0, linear_in_first=False):
    """The golden weights: one generator, the keys walked in order."""
    g = torch.Generator().manual_seed(seed)
    weights = {}
    for name, shape in keys.items():
        if name.endswith('relative_position_index'):
            continue  # computed by the model, not drawn
        if name.endswith('num_batches_tracked'):
            weights[name] = torch.zeros((), dtype=torch.long)
        elif name.endswith(('running_var', '_variance')):
            weights[name] = torch.rand(shape, generator=g) + 0.5
        elif name.endswith(('running_mean', '_mean')):
            weights[name] = torch.randn(shape, generator=g) * 0.1
        elif len(shape) == 1 and name.endswith('weight'):
            weights[name] = torch.rand(shape, generator=g) + 0.5
        elif len(shape) <= 1:
            weights[name] = torch.randn(shape, generator=g) * 0.1
        else:
            fan_in = (shape[0] if linear_in_first and len(shape) == 2 else
                      math.prod(shape[1:]))
            weights[name] = torch.randn(shape, generator=g) / math.sqrt(
                fan_in)
    return weights


def golden_input(entry):
    size = entry['input_size']
    return torch.randn((2, 3, size, size),
                       generator=torch.Generator().manual_seed(
                           entry['input_seed']))


def _relative_position_buffers(keys):
    """The official POSTER V2 state dict holds these buffers; they are
    derived (and dropped by the converter), so any long tensor will do."""
    return {
        name: torch.zeros(shape, dtype=torch.long)
        for name, shape in keys.items()
        if name.endswith('relative_position_index')
    }


class RecorderMeter:
    """Stands in for POSTER V2's ``__main__.RecorderMeter``."""

    def __init__(self):
        self.epoch_losses = np.zeros((4, 2), dtype=np.float32)


def write_release(entry, path, kind):
    """Save the golden weights as the release's own file does."""
    keys = entry['keys']
    weights = draw_release_weights(keys, entry['weights_seed'],
                                   entry.get('linear_in_first', False))
    if kind == 'mmcls':  # APViT: mmcls 0.x checkpoint, no prefix
        torch.save(dict(meta=dict(epoch=40, CLASSES=entry['head_classes']),
                        state_dict=weights), path)
    elif kind == 'poster':  # train.py / train_affect.py, DataParallel
        torch.save(dict(iter=75, model_state_dict={
            'module.' + k: v for k, v in weights.items()},
            optimizer_state_dict=dict(state={}, param_groups=[])), path)
    elif kind == 'poster_v2':  # main.py, with a RecorderMeter of __main__
        weights.update(_relative_position_buffers(keys))
        main = sys.modules['__main__']
        had = hasattr(main, 'RecorderMeter')
        old = getattr(main, 'RecorderMeter', None)
        RecorderMeter.__module__ = '__main__'
        main.RecorderMeter = RecorderMeter
        try:
            torch.save(dict(epoch=120, state_dict={
                'module.' + k: v for k, v in weights.items()},
                best_acc=torch.tensor(0.92), optimizer={},
                recorder1=RecorderMeter(), recorder=RecorderMeter()), path)
        finally:
            RecorderMeter.__module__ = __name__
            if had:
                main.RecorderMeter = old
            else:
                del main.RecorderMeter
    elif kind == 'paddle':  # paddle.save: {name: float32 ndarray} + table
        params = {k: v.numpy() for k, v in weights.items()}
        params['StructuredToParameterName@@'] = {
            k: f'param_{i}' for i, k in enumerate(params)
        }
        with open(path, 'wb') as f:
            pickle.dump(params, f, protocol=4)
    else:
        raise AssertionError(kind)


def run_converter(script, *args):
    module = load_tool(osp.join(CONVERTERS, script), script[:-3])
    module.main([str(a) for a in args])


# (golden entry, release format, converter, --dataset)
RELEASES = [
    ('apvit_rafdb', 'mmcls', 'apvit_to_ferpretrain.py', 'rafdb'),
    ('transfer_paddle_rafdb', 'paddle', 'transfer_paddle_to_ferpretrain.py',
     'rafdb'),
    ('poster_rafdb', 'poster', 'poster_to_ferpretrain.py', 'rafdb'),
    ('poster_affectnet', 'poster', 'poster_to_ferpretrain.py', 'affectnet7'),
    ('poster_v2_rafdb_7cls', 'poster_v2', 'posterv2_to_ferpretrain.py',
     'rafdb'),
    ('poster_v2_affectnet_8cls', 'poster_v2', 'posterv2_to_ferpretrain.py',
     'affectnet8'),
]


@pytest.mark.parametrize('name,kind,converter,dataset', RELEASES,
                         ids=[r[0] for r in RELEASES])
def test_release_converts_to_the_official_logits(golden, tmp_path, capsys,
                                                 name, kind, converter,
                                                 dataset):
    entry = golden[name]
    src = tmp_path / f'{name}.release'
    dst = tmp_path / f'{name}.pth'
    write_release(entry, src, kind)
    run_converter(converter, src, dst, '--dataset', dataset)
    printed = capsys.readouterr().out
    assert 'Checked: loads strictly into' in printed, printed

    out = torch.load(dst, weights_only=True)
    meta = out['meta']
    model = build_config_model(meta['config'], meta.get('cfg_options'))
    model.load_state_dict(out['state_dict'], strict=True)
    model.eval()
    with torch.no_grad():
        ours = model(golden_input(entry), mode='tensor').double()

    official = torch.tensor(entry['official_logits_float64'])
    classes = meta['dataset_meta']['classes']
    assert sorted(classes) == sorted(entry['head_classes'])
    official = official[:, [entry['head_classes'].index(c) for c in classes]]
    error = (ours - official).norm() / official.norm()
    assert error < 1e-4, f'{name}: norm-relative difference {error:.2e}'
    assert torch.equal(ours.argmax(1), official.argmax(1))
