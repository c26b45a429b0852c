"""FER-VT: the full-size figures of configs/fervt/README.md, grid-wise
attention (identity at start, cells that inform distant cells), the ResNet
it sits in (mmpretrain's, weight for weight), the semantic tokens and the
transformer over them, checked against the computation written out."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmpretrain.models.backbones import ResNet

from ferpretrain.analysis import get_model_complexity
from ferpretrain.models.classifiers import (GridAttentionResNet,
                                            GridWiseAttention,
                                            SemanticTokenizer,
                                            SemanticTokenTransformer)
from ferpretrain.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _randomise(module, std=0.5):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * std)


def test_full_fervt_size_matches_the_readme():
    model = MODELS.build(
        Config.fromfile(osp.join(REPO, 'configs/fervt/raf.py')).model)
    model.eval()
    result = get_model_complexity(model, 224)
    # configs/fervt/README.md: 24.70 M parameters, 3.69 GMAC at 224.
    assert abs(result.params_m - 24.70) < 0.005
    assert abs(result.gmac - 3.69) < 0.005
    # ResNet-34 (21.28 M) + grid-wise attention on 64 channels.
    assert sum(p.numel() for p in model.backbone.grid_attention.parameters()
               ) == 24064
    assert model.backbone.depth == 34


def test_cpu_recipe_size_matches_the_readme():
    model = MODELS.build(
        Config.fromfile(osp.join(REPO, 'configs/fervt/fer2013_cpu.py')).model)
    model.eval()
    result = get_model_complexity(model, 48)
    # configs/fervt/README.md: 3.39 M parameters, 83.6 MMAC at 48.
    assert abs(result.params_m - 3.39) < 0.005
    assert abs(result.gmac * 1000 - 83.6) < 0.05
    feats = model.backbone(torch.zeros(1, 3, 48, 48))
    assert [tuple(f.shape[1:]) for f in feats] == [(64, 12, 12),
                                                   (128, 6, 6), (256, 3, 3)]


def test_grid_attention_starts_as_the_identity():
    gwa = GridWiseAttention(16, grid_size=4, num_heads=2)
    x = torch.randn(2, 16, 32, 32)
    assert torch.equal(gwa(x), x)


def test_grid_attention_lets_a_distant_cell_change_a_gate():
    torch.manual_seed(0)
    gwa = GridWiseAttention(8, grid_size=4, num_heads=2)
    _randomise(gwa)
    x = torch.randn(1, 8, 16, 16)
    gates = gwa.cell_weights(x)
    assert gates.shape == (1, 8, 4, 4)
    assert bool(((gates > 0) & (gates < 2)).all())
    # Change only the top-left cell: through the attention across cells,
    # the bottom-right cell's gates move too. (A shift that is the same in
    # every channel would vanish in the token LayerNorm, so each channel
    # moves by its own amount.)
    y = x.clone()
    y[..., :4, :4] += 3 * torch.randn(1, 8, 1, 1)
    moved = (gwa.cell_weights(y) - gates).abs()[0, :, 3, 3]
    assert moved.max() > 1e-3
    # Each pixel is multiplied by its own cell's gate.
    out = gwa(x)
    assert torch.allclose(out[..., 4:8, 8:12],
                          x[..., 4:8, 8:12] * gates[..., 1:2, 2:3])


def test_grid_attention_gates_follow_the_written_computation():
    torch.manual_seed(1)
    gwa = GridWiseAttention(8, grid_size=2, num_heads=2)
    _randomise(gwa)
    gwa.eval()
    x = torch.randn(2, 8, 6, 6)
    cells = x.reshape(2, 8, 2, 3, 2, 3).mean((3, 5))  # (B, C, 2, 2)
    tokens = cells.flatten(2).transpose(1, 2) + gwa.pos_embed
    normed = gwa.norm(tokens)
    qkv = F.linear(normed, gwa.attn.qkv.weight, gwa.attn.qkv.bias)
    q, k, v = qkv.reshape(2, 4, 3, 2, 4).permute(2, 0, 3, 1, 4)
    weights = (q @ k.transpose(-2, -1) / 2.).softmax(-1)  # over the cells
    mixed = (weights @ v).transpose(1, 2).reshape(2, 4, 8)
    tokens = tokens + gwa.attn.proj(mixed)
    gates = 2 * torch.sigmoid(gwa.gate(tokens)).transpose(1, 2)
    expected = x * gates.reshape(2, 8, 2, 2).repeat_interleave(
        3, 2).repeat_interleave(3, 3)
    assert torch.allclose(gwa(x), expected, atol=1e-5)


def test_grid_attention_rejects_heads_that_do_not_split_the_channels():
    with pytest.raises(ValueError, match='embed_dims 10 is not divisible'):
        GridWiseAttention(10, num_heads=4)


@pytest.mark.parametrize('depth', [18, 50])
def test_backbone_is_mmpretrain_resnet_weight_for_weight(depth):
    torch.manual_seed(0)
    ours = GridAttentionResNet(
        depth, base_channels=8, stem_channels=8, out_indices=(1, 2, 3),
        grid_attention=dict(type='GridWiseAttention', grid_size=4,
                            num_heads=2))
    plain = ResNet(depth, base_channels=8, stem_channels=8,
                   out_indices=(1, 2, 3))
    result = ours.load_state_dict(plain.state_dict(), strict=False)
    assert not result.unexpected_keys
    assert all(k.startswith('grid_attention.') for k in result.missing_keys)
    ours.eval(), plain.eval()
    x = torch.randn(2, 3, 64, 64)
    # Grid-wise attention starts as the identity: the same outputs.
    for a, b in zip(ours(x), plain(x)):
        assert torch.equal(a, b)
    # Trained, it changes them.
    _randomise(ours.grid_attention)
    assert not torch.allclose(ours(x)[0], plain(x)[0])


def test_small_input_stem_keeps_the_resolution():
    net = GridAttentionResNet(
        18, stem_channels=8, base_channels=8, small_input=True,
        strides=(2, 2, 2, 2), out_indices=(0, 1, 2, 3),
        grid_attention=dict(type='GridWiseAttention', grid_size=6,
                            num_heads=2))
    assert net.conv1.kernel_size == (3, 3) and net.conv1.stride == (1, 1)
    sizes = [f.shape[-1] for f in net(torch.zeros(1, 3, 48, 48))]
    assert sizes == [24, 12, 6, 3]
    with pytest.raises(ValueError, match='deep_stem'):
        GridAttentionResNet(18, small_input=True, deep_stem=True)


def test_backbone_without_grid_attention_is_a_plain_resnet():
    net = GridAttentionResNet(18, base_channels=8, stem_channels=8,
                              grid_attention=None)
    assert not any(k.startswith('grid_attention')
                   for k in net.state_dict())


def test_imagenet_checkpoint_loads_through_init_cfg(tmp_path):
    # An mmpretrain ImageNet classifier's checkpoint (keys backbone.*,
    # head.*), read with the prefix the pretrained config uses.
    source = ResNet(18, base_channels=8, stem_channels=8)
    _randomise(source)
    state = {f'backbone.{k}': v for k, v in source.state_dict().items()}
    state['head.fc.weight'] = torch.randn(1000, 64)
    path = tmp_path / 'resnet18_in1k.pth'
    torch.save(dict(state_dict=state, meta=dict()), path)
    net = GridAttentionResNet(
        18, base_channels=8, stem_channels=8,
        grid_attention=dict(type='GridWiseAttention', grid_size=7,
                            num_heads=2),
        init_cfg=dict(type='Pretrained', checkpoint=str(path),
                      prefix='backbone.'))
    net.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(net.state_dict()[key], value), key
    # The attention keeps its identity start under a Pretrained init_cfg.
    assert not net.grid_attention.gate.weight.any()


def test_tokenizer_is_an_attention_weighted_mean():
    torch.manual_seed(2)
    tok = SemanticTokenizer(6, 4, num_tokens=2)
    x = torch.randn(3, 6, 5, 5)
    attn = tok.spatial_attention(x)
    assert attn.shape == (3, 2, 25)
    assert torch.allclose(attn.sum(-1), torch.ones(3, 2))
    expected = tok.proj(torch.einsum('blp,bcp->blc', attn, x.flatten(2)))
    assert torch.allclose(tok(x), expected, atol=1e-6)
    # A constant map gives its constant, whatever the attention.
    flat = torch.ones(1, 6, 5, 5) * torch.arange(6.).view(1, 6, 1, 1)
    assert torch.allclose(tok(flat),
                          tok.proj(torch.arange(6.)).expand(1, 2, 4),
                          atol=1e-5)


def test_transformer_reads_cls_then_levels_in_order():
    torch.manual_seed(3)
    neck = SemanticTokenTransformer(
        in_channels=(4, 8, 16), embed_dims=8, num_layers=2, num_heads=2)
    neck.init_weights()
    neck.eval()
    maps = [torch.randn(2, c, s, s) for c, s in ((4, 8), (8, 4), (16, 2))]
    (out, ) = neck(maps)
    assert out.shape == (2, 8)
    # Written out: CLS first, each level's token in order, + positions,
    # the layers, the final norm, token 0.
    x = torch.cat([neck.cls_token.expand(2, -1, -1)] +
                  [t(m) for t, m in zip(neck.tokenizers, maps)], 1)
    x = x + neck.pos_embed
    for layer in neck.layers:
        x = layer(x)
    assert torch.allclose(out, neck.norm(x)[:, 0], atol=1e-6)
    # Every level reaches the output: flattening the middle one changes it.
    flattened = [maps[0], torch.full_like(maps[1], 0.5), maps[2]]
    assert not torch.allclose(neck(flattened)[0], out)


def test_transformer_explains_a_wrong_number_of_levels():
    neck = SemanticTokenTransformer(in_channels=(4, 8, 16), embed_dims=8,
                                    num_heads=2, num_layers=1)
    with pytest.raises(ValueError, match=r'out_indices=\(1, 2, 3\)'):
        neck((torch.zeros(1, 16, 2, 2), ))


def test_fervt_trains_end_to_end():
    cfg = Config.fromfile(osp.join(REPO, 'configs/fervt/fer2013_cpu.py'))
    model = MODELS.build(cfg.model)
    model.init_weights()
    from mmpretrain.structures import DataSample
    inputs = torch.randn(4, 3, 48, 48)
    samples = [DataSample().set_gt_label(i % 7) for i in range(4)]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model(inputs, samples, mode='loss')['loss'].backward()
    # Two parts start so that the branch before them gets no gradient at the
    # very first step: the grid-attention gate (zero, so GWA starts as the
    # identity) and each residual block's last BN (mmpretrain's
    # zero_init_residual). Their own weights do get one.
    assert model.backbone.grid_attention.gate.weight.grad.any()
    assert model.backbone.layer1[0].bn2.weight.grad.any()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    # From the second step every parameter takes part: nothing is built that
    # does not run.
    model(inputs, samples, mode='loss')['loss'].backward()
    silent = [n for n, p in model.named_parameters()
              if p.grad is None or not p.grad.any()]
    assert not silent, silent
