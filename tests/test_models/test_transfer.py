"""TransFER: LANets, Multi-Attention Dropping, Multi-head Self-Attention
Dropping, the full-size model and its pretrained initialisation."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from ferpretrain.analysis import get_model_complexity
from ferpretrain.models.necks.pooling_vit import PoolingAttention
from ferpretrain.models.utils import (LANet, MultiAttentionDropping,
                                      MultiHeadSelfAttentionDropping,
                                      random_drop_mask)
from ferpretrain.registry import MODELS
# Checkpoint layouts of the pretrained files (helpers of the IR-50 and ViT
# tests; pytest puts this folder on sys.path).
from test_apvit import _old_timm_vit_small_state
from test_iresnet import _full_state_dict, _randomise

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRANSFER = osp.join(REPO, 'configs/_base_/models/transfer_ir50_vit-s.py')


# ------------------------------------------------------------------ parts
def test_lanet_gives_one_map_in_unit_interval():
    lanet = LANet(32, reduction=16).eval()
    maps = lanet(torch.randn(2, 32, 5, 5))
    assert maps.shape == (2, 1, 5, 5)
    assert bool(((maps > 0) & (maps < 1)).all())
    with pytest.raises(ValueError, match='divisible'):
        LANet(30, reduction=16)


@pytest.mark.parametrize('num,max_dropped', [(2, 1), (8, 1), (8, 3)])
def test_random_drop_mask(num, max_dropped):
    torch.manual_seed(0)
    mask = random_drop_mask(4000, num, 0.3, max_dropped, 'cpu')
    dropped = num - mask.sum(dim=1)
    assert int(dropped.max()) <= max_dropped
    assert bool((mask.sum(dim=1) >= 1).all())  # never all
    assert (dropped > 0).float().mean().item() == pytest.approx(0.3, abs=0.03)
    # Every entry is dropped about equally often.
    per_entry = (mask == 0).float().mean(dim=0)
    assert float(per_entry.max() - per_entry.min()) < 0.03


def test_mad_is_identity_dropping_in_eval_and_drops_one_map_in_training():
    torch.manual_seed(0)
    mad = MultiAttentionDropping(32, num_lanets=2, drop_prob=1.)
    # Map 0 high everywhere, map 1 low: which one was dropped shows.
    with torch.no_grad():
        mad.lanets[0].layers[4].bias.fill_(3.)
        mad.lanets[1].layers[4].bias.fill_(-3.)
    x = torch.rand(40, 32, 4, 4) + 0.1
    mad.eval()
    maps = torch.cat(mad.attention_maps(x), dim=1)
    assert bool((maps[:, 0] > maps[:, 1]).all())
    assert torch.allclose(mad(x), x * maps[:, :1])  # max = map 0
    assert torch.equal(mad(x), mad(x))  # no randomness in eval mode

    # Training (BN statistics frozen so that the maps are comparable):
    # every sample is re-weighted by exactly one of its two maps.
    mad.train()
    for m in mad.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()
    out = mad(x)
    kept = []
    for i in range(len(x)):
        matches = [
            j for j in range(2) if torch.allclose(out[i], x[i] * maps[i, j])
        ]
        assert len(matches) == 1
        kept.append(matches[0])
    # Either map can be the dropped one.
    assert set(kept) == {0, 1}


def test_mad_drop_rate_is_the_paper_s():
    torch.manual_seed(1)
    mad = MultiAttentionDropping(16, num_lanets=2, drop_prob=0.6).train()
    with torch.no_grad():  # map 0 is the max everywhere
        mad.lanets[0].layers[4].bias.fill_(3.)
        mad.lanets[1].layers[4].bias.fill_(-3.)
    for m in mad.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()
    x = torch.rand(4000, 16, 2, 2) + 0.1
    with torch.no_grad():
        merged = x * mad.attention_maps(x)[0]
        out = mad(x)
    changed = ~torch.isclose(out, merged).flatten(1).all(dim=1)
    # The output changes when map 0 is the one dropped: p 0.6 x 1/2.
    assert changed.float().mean().item() == pytest.approx(0.3, abs=0.03)


def test_msad_drops_whole_heads_only_in_training():
    torch.manual_seed(0)
    msad = MultiHeadSelfAttentionDropping(drop_prob=1., max_dropped=1)
    heads = torch.randn(5, 8, 7, 4)
    assert torch.equal(msad.eval()(heads), heads)
    out = msad.train()(heads)
    zero_heads = (out == 0).flatten(2).all(dim=2)  # (B, heads)
    assert zero_heads.sum(dim=1).tolist() == [1] * 5
    kept = ~zero_heads
    assert torch.equal(out[kept], heads[kept])
    # Tokens are never what is dropped (the official ports' bug).
    assert bool((out != 0).any(dim=(1, 3)).all())

    torch.manual_seed(0)
    msad = MultiHeadSelfAttentionDropping(drop_prob=0.3).train()
    out = msad(torch.ones(3000, 8, 2, 2))
    rate = (out == 0).flatten(2).all(dim=2).any(dim=1).float().mean()
    assert rate.item() == pytest.approx(0.3, abs=0.03)


def test_attention_applies_msad_to_its_heads():
    torch.manual_seed(0)
    attn = PoolingAttention(16, num_heads=2,
                            head_dropping=MultiHeadSelfAttentionDropping(1.))
    x = torch.randn(3, 5, 16)
    attn.eval()
    full, _ = attn(x)
    attn.train()
    dropped, _ = attn(x)
    # Output without one head = proj of the concatenated heads with that
    # head zeroed: proj(h) - proj.weight[:, head] @ h_head.
    qkv = attn.qkv(x).reshape(3, 5, 3, 2, 8).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)
    heads = ((q @ k.transpose(-2, -1)) * attn.scale).softmax(-1) @ v
    for i in range(3):
        options = []
        for h in range(2):
            zeroed = heads[i].clone()
            zeroed[h] = 0
            options.append(attn.proj(zeroed.transpose(0, 1).reshape(5, 16)))
        assert any(torch.allclose(dropped[i], o, atol=1e-6) for o in options)
    assert not torch.allclose(full, dropped)


# ------------------------------------------------------------ full model
@pytest.fixture(scope='module')
def transfer():
    return MODELS.build(Config.fromfile(TRANSFER).model).eval()


def test_transfer_parameters_and_macs_match_the_paper(transfer):
    result = get_model_complexity(transfer, 112)
    # models.md: 65.22 M parameters, 15.30 GMAC (fvcore) at 112x112.
    assert abs(result.params_m - 65.22) / 65.22 < 0.005
    assert abs(result.gmac - 15.30) / 15.30 < 0.03
    # thop-style (modules only, no attention products), as measured on the
    # official architecture (paper-facts: 14.84).
    thop_style = get_model_complexity(transfer, 112, convention='thop')
    assert abs(thop_style.gmac - 14.84) / 14.84 < 0.01
    assert len(transfer.neck.feature_attention.lanets) == 2
    assert all(b.attn.head_dropping.drop_prob == 0.3
               for b in transfer.neck.blocks)
    assert transfer.neck.num_tokens_per_block() == [197] * 8


def test_transfer_is_deterministic_in_eval_and_random_in_training(transfer):
    x = torch.randn(2, 3, 112, 112)
    with torch.no_grad():
        a = transfer(x, mode='tensor')
        b = transfer(x, mode='tensor')
        assert torch.equal(a, b)
        # MAD and MSAD act in training: outputs change from draw to draw.
        transfer.train()
        torch.manual_seed(0)
        c = transfer(x, mode='tensor')
        torch.manual_seed(1)
        d = transfer(x, mode='tensor')
        transfer.eval()
    assert not torch.allclose(c, d)


def _small_transfer_cfg():
    cfg = Config.fromfile(TRANSFER)
    cfg.model.backbone.update(stage_channels=(8, 16, 32, 64),
                              stage_units=(2, 2, 3, 2))
    cfg.model.neck.update(in_channels=32, embed_dims=32, num_layers=2,
                          num_heads=4)
    cfg.model.neck.feature_attention.in_channels = 32
    cfg.model.head.in_channels = 32
    return cfg


def test_transfer_pretrained_initialisation(tmp_path):
    """face.evoLVe IR-50 and old-timm ViT-Small files through init_cfg."""
    cfg = _small_transfer_cfg()
    ir = MODELS.build(dict(cfg.model.backbone, num_stages=4))
    _randomise(ir)
    ir_path = tmp_path / 'backbone_ir50_ms1m_epoch120.pth'
    torch.save(_full_state_dict(ir), ir_path)
    vit_state = _old_timm_vit_small_state(MODELS.build(cfg.model.neck))
    vit_path = tmp_path / 'vit_small_p16_224-15ec54c9.pth'
    torch.save(vit_state, vit_path)

    cfg.model.backbone.init_cfg = dict(type='Pretrained',
                                       checkpoint=str(ir_path))
    cfg.model.neck.init_cfg = dict(type='Pretrained',
                                   checkpoint=str(vit_path))
    model = MODELS.build(cfg.model)
    model.init_weights()
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, ir.state_dict()[key]), key
    neck = model.neck
    assert torch.equal(neck.blocks[1].attn.qkv.weight,
                       vit_state['blocks.1.attn.qkv.weight'])
    assert torch.equal(neck.cls_pos_embed, vit_state['pos_embed'][:, :1])
    assert torch.equal(neck.patch_pos_embed, vit_state['pos_embed'][:, 1:])
    # The head starts at zero, as TransFER's.
    assert not model.head.fc.weight.any()
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 3, 112, 112),
                            mode='tensor').shape == (1, 7)
