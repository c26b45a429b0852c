"""ferpretrain.analysis.attention: the maps the attention recorder keeps
(on the 48-pixel TransFER and APViT CPU models) and their drawing."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from ferpretrain.analysis import (AttentionRecorder, cls_attention_map,
                                  draw_map_grid, load_model_for_analysis,
                                  overlay_heatmap)
from ferpretrain.analysis.attention import LABEL_HEIGHT, MIN_PANEL

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRANSFER = osp.join(REPO, 'configs', 'transfer', 'fer2013_cpu.py')
APVIT = osp.join(REPO, 'configs', 'apvit', 'fer2013_cpu.py')


def build_model(config):
    """The untrained model of ``config``, in eval mode."""
    return load_model_for_analysis(Config.fromfile(config), 'none')


@pytest.fixture(scope='module')
def transfer():
    torch.manual_seed(0)
    return build_model(TRANSFER)


def _run(model, recorder, batch=1):
    with torch.no_grad(), recorder:
        model(torch.rand(batch, 3, 48, 48) * 255, mode='tensor')


def test_transfer_maps(transfer):
    recorder = AttentionRecorder(transfer, block=-1)
    assert len(recorder.lanets) == 2 and recorder.vit is transfer.neck
    assert recorder.block == 3  # the last of 4 blocks
    _run(transfer, recorder, batch=2)
    for index in (0, 1):
        maps, extra = recorder.maps(index)
        assert list(maps) == ['lanet0', 'lanet1', 'lanet_max',
                              'cls_attention']
        for name in ('lanet0', 'lanet1'):
            np.testing.assert_array_equal(
                maps[name], recorder.lanet_maps[int(name[-1])][index, 0])
            assert maps[name].shape == (6, 6)
            assert ((maps[name] >= 0) & (maps[name] <= 1)).all()
        np.testing.assert_array_equal(
            maps['lanet_max'], np.maximum(maps['lanet0'], maps['lanet1']))
        assert maps['cls_attention'].sum() == pytest.approx(1, abs=1e-5)
        assert extra['cls_attention_kept'].all()  # TransFER pools nothing
        assert 0 < extra['cls_self_attention'] < 1
        assert int(extra['block']) == 3
    assert recorder.cls_logits.shape == (2, transfer.neck.blocks[0].attn
                                         .num_heads, 37)
    assert recorder.grid_shape == (6, 6)


def test_hooks_live_only_inside_the_context(transfer):
    recorder = AttentionRecorder(transfer, block=0)
    assert recorder.block == 0
    _run(transfer, recorder)
    first = recorder.cls_logits
    recorder.reset()
    assert recorder.cls_logits is None and recorder.lanet_maps == [None] * 2
    with torch.no_grad():  # outside: nothing is recorded
        transfer(torch.rand(1, 3, 48, 48), mode='tensor')
    assert recorder.cls_logits is None and recorder.lanet_maps == [None] * 2
    _run(transfer, recorder)
    assert recorder.cls_logits.shape == first.shape


@pytest.mark.parametrize('block', [4, -5])
def test_block_outside_the_vit(transfer, block):
    with pytest.raises(ValueError) as refused:
        AttentionRecorder(transfer, block=block)
    assert str(refused.value) == (
        f'block {block}: the ViT has 4 blocks (give -4..3).')


def test_model_without_attention_records_nothing():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3))
    recorder = AttentionRecorder(model, block=7)
    assert recorder.lanets == [] and recorder.vit is None
    assert recorder.block is None
    with recorder:
        model(torch.rand(1, 3, 8, 8))
    assert recorder.maps() == ({}, {})


def test_recovers_positions_of_pooled_tokens():
    """The positions the recorder follows are the ones the tokens came
    from: matched here exactly, token by token."""
    torch.manual_seed(0)
    model = build_model(APVIT)
    vit = model.neck
    seen = {}

    def keep_io(name):

        def hook(module, args, output):
            seen[name] = (args[0][0], output[0])

        return hook

    handles = [vit.patch_pooling.register_forward_hook(keep_io('patch'))]
    handles += [
        block.token_pooling.register_forward_hook(keep_io(i))
        for i, block in enumerate(vit.blocks)
        if block.token_pooling is not None]
    recorder = AttentionRecorder(model, block=-1)
    with torch.no_grad(), recorder:
        model(torch.rand(1, 3, 48, 48) * 255, mode='tensor')
    for handle in handles:
        handle.remove()

    def source_index(before, after):
        # Each kept token is an exact copy of one token before pooling.
        return [int((before == t).all(dim=1).nonzero()[0]) for t in after]

    positions = source_index(*seen['patch'])
    for i in range(len(vit.blocks) - 1):  # pooling before the last block
        if i in seen:
            before, after = seen[i]
            kept = source_index(before[1:], after[1:])
            positions = [positions[k] for k in kept]
    assert recorder.cls_positions[0].tolist() == positions
    assert len(positions) < vit.num_patches

    maps, extra = recorder.maps()
    assert 'lanet_max' not in maps  # APViT has no LANets
    kept = extra['cls_attention_kept']
    assert sorted(np.flatnonzero(kept)) == sorted(positions)
    assert (maps['cls_attention'][~kept] == 0).all()


def test_cls_attention_map_values():
    # Two heads over CLS + 2 patches that sit at grid cells 3 and 0.
    logits = torch.log(torch.tensor([[2., 1., 1.], [1., 1., 2.]]))
    cls_map, kept, self_weight = cls_attention_map(
        logits, torch.tensor([3, 0]), (2, 2))
    # softmax rows: (.5, .25, .25) and (.25, .25, .5); mean (.375, .25,
    # .375); patches renormalised: (.4, .6).
    np.testing.assert_allclose(cls_map, [[0.6, 0.], [0., 0.4]], atol=1e-6)
    np.testing.assert_array_equal(kept, [[True, False], [False, True]])
    assert self_weight == pytest.approx(0.375)


def test_overlay_heatmap():
    face = np.full((48, 40, 3), 100, np.uint8)
    grid = np.array([[0., 1.], [0., 0.]], np.float32)
    heat = overlay_heatmap(face, grid, alpha=1.)
    assert heat.shape == face.shape and heat.dtype == np.uint8
    # JET: red where the map is high (top right), blue where low.
    b, g, r = heat[0, -1]
    assert r > 100 and b < 50
    b, g, r = heat[-1, 0]
    assert b > 100 and r < 50
    # A constant map is drawn as its lowest colour; alpha mixes.
    flat = overlay_heatmap(face, np.full((2, 2), 0.7), alpha=1.)
    assert (flat == flat[0, 0]).all() and tuple(flat[0, 0]) == (128, 0, 0)
    np.testing.assert_array_equal(overlay_heatmap(face, grid, alpha=0.),
                                  face)


def test_draw_map_grid():
    face = np.zeros((48, 48, 3), np.uint8)
    maps = {'a': np.eye(6), 'b': np.ones((6, 6))}
    grid = draw_map_grid(face, maps, 'happy 0.90')
    # Faces smaller than MIN_PANEL are enlarged; 4-pixel gaps between.
    assert grid.shape == (LABEL_HEIGHT + MIN_PANEL, 3 * MIN_PANEL + 2 * 4,
                          3)
    big = np.zeros((200, 300, 3), np.uint8)
    assert draw_map_grid(big, {}, 't').shape == (LABEL_HEIGHT + 200, 300, 3)
