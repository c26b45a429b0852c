import pytest
import torch

from ferpretrain.models.backbones import IResNet, convert_iresnet_keys


def small_iresnet(**kwargs):
    kwargs.setdefault('stage_channels', (8, 16, 32, 64))
    kwargs.setdefault('stage_units', (2, 2, 3, 2))
    return IResNet(**kwargs)


def test_ir50_three_stages_shapes_and_size():
    model = IResNet(depth=50, num_stages=3, out_indices=(0, 1, 2))
    model.init_weights()
    outs = model(torch.randn(1, 3, 112, 112))
    assert [tuple(o.shape) for o in outs] == [(1, 64, 56, 56),
                                              (1, 128, 28, 28),
                                              (1, 256, 14, 14)]
    n = sum(p.numel() for p in model.parameters())
    # IR-50 stages 1-3 as in TransFER/APViT: 17.61 M parameters.
    assert abs(n / 1e6 - 17.61) < 0.01
    assert len(model.body[2]) == 14


def test_full_ir50_has_four_stages():
    outs = IResNet(depth=50)(torch.randn(1, 3, 112, 112))
    assert outs[0].shape == (1, 512, 7, 7)


def test_frozen_stages_fix_weights_and_bn_statistics():
    model = small_iresnet(num_stages=3, frozen_stages=1)
    model.train()
    assert not model.input_layer[1].training
    assert not model.body[0][0].res_layer[0].training
    assert model.body[1][0].res_layer[0].training
    assert all(not p.requires_grad for p in model.body[0].parameters())
    assert all(p.requires_grad for p in model.body[1].parameters())
    before = model.body[0][0].res_layer[0].running_mean.clone()
    model(torch.randn(2, 3, 32, 32) * 5 + 3)
    assert torch.equal(before, model.body[0][0].res_layer[0].running_mean)


def test_invalid_arguments_are_explained():
    with pytest.raises(ValueError, match='depth=18'):
        IResNet(depth=18)
    with pytest.raises(ValueError, match='out_indices'):
        IResNet(num_stages=2, out_indices=(3, ))
    with pytest.raises(ValueError, match='num_stages'):
        IResNet(num_stages=5)


def _full_state_dict(model4, with_output_layer=True):
    """A face.evoLVe style flat state dict from a 4-stage IResNet."""
    flat = {}
    offsets = [sum(model4.stage_units[:i]) for i in range(4)]
    for key, value in model4.state_dict().items():
        parts = key.split('.')
        if parts[0] == 'body':
            n = offsets[int(parts[1])] + int(parts[2])
            key = '.'.join(['body', str(n)] + parts[3:])
        flat[key] = value.clone()
    if with_output_layer:
        flat['output_layer.3.weight'] = torch.randn(4, 8)
        flat['output_layer.4.running_mean'] = torch.randn(4)
    return flat


def _randomise(module):
    with torch.no_grad():
        for t in module.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.randn_like(t))


@pytest.mark.parametrize('layout', ['face.evoLVe', 'POSTER V2', 'ours'])
def test_pretrained_layouts_load_with_no_key_left(tmp_path, layout):
    source = small_iresnet(num_stages=4)
    _randomise(source)
    if layout == 'face.evoLVe':
        state = _full_state_dict(source)
    elif layout == 'POSTER V2':
        state = {}
        for key, value in source.state_dict().items():
            parts = key.split('.')
            if parts[0] == 'body':
                key = '.'.join([f'body{int(parts[1]) + 1}'] + parts[2:])
            state[key] = value
        state['output_layer.1.weight'] = torch.randn(3)
    else:
        state = dict(source.state_dict())
    path = tmp_path / 'ir.pth'
    torch.save(dict(state_dict=state), path)

    target = small_iresnet(
        num_stages=3, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    target.init_weights()
    for key, value in target.state_dict().items():
        assert torch.equal(value, source.state_dict()[key]), key

    # The same conversion as a strict load: nothing missing, nothing
    # unexpected, once the deliberately unbuilt parts are reported.
    converted, dropped = convert_iresnet_keys(state, source.stage_units, 3)
    result = target.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert all(
        k.startswith(('output_layer', 'body.3', 'body4')) or
        k.split('.')[1] in {'7', '8'} for k in dropped)
    if layout != 'ours':
        assert any(k.startswith('output_layer') for k in dropped)
