"""load_strictly: the one strict loader of the inferencer, get_model's
``pretrained=`` and the ONNX export; every tensor, or nothing."""
import pytest
import torch
import torch.nn as nn

from ferpretrain.utils.errors import CheckpointError, CheckpointMismatchError
from ferpretrain.utils.load_check import load_strictly


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))


def test_loads_every_tensor_and_returns_the_meta(tmp_path):
    source, target = _model(), _model()
    with torch.no_grad():
        for p in source.parameters():
            p.add_(1.0)
    state = {f'module.{k}': v for k, v in source.state_dict().items()}
    path = tmp_path / 'ok.pth'
    torch.save(dict(state_dict=state, meta=dict(epoch=3)), str(path))
    assert load_strictly(target, str(path), 'the model') == dict(epoch=3)
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value)
    # A checkpoint already read, and a bare state dict: no meta.
    assert load_strictly(_model(), source.state_dict(), 'the model') == {}


def test_a_mismatch_loads_nothing_and_names_the_file(tmp_path):
    target = _model()
    before = {k: v.clone() for k, v in target.state_dict().items()}
    state = dict(_model().state_dict())
    state['0.weight'] = torch.zeros(5, 4)
    del state['1.bias']
    path = tmp_path / 'other.pth'
    torch.save(dict(state_dict=state), str(path))
    with pytest.raises(CheckpointMismatchError) as error:
        load_strictly(target, str(path), 'the model of x.py',
                      action='exported')
    message = str(error.value)
    assert f'{path} does not match the model of x.py' in message
    assert '0.weight: [5, 4] in the file, [3, 4] in the model' in message
    assert '1.bias' in message and 'Nothing was exported.' in message
    for key, value in target.state_dict().items():
        assert torch.equal(value, before[key])


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / 'list.pth'
    torch.save([1, 2], str(path))
    with pytest.raises(CheckpointError, match='list.pth holds a list'):
        load_strictly(_model(), str(path), 'the model')
    with pytest.raises(CheckpointError, match='its state_dict is a list'):
        load_strictly(_model(), dict(state_dict=[1]), 'the model',
                      name='mine.pth')
