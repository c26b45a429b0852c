"""POSTER V2 (Mao et al., arXiv 2301.12149) at full size, and its two small
modules: window cross-attention with unprojected queries and the SE block.

Reference sizes (docs/reference/paper-facts.md, measured with thop 0.1.1 on
the official code): 43.72 M parameters and 8.48 GMAC at 224. That 43.72 M
*includes* the frozen MobileFaceNet (thop counts frozen modules; 1.01 M
there, with the landmark head the official forward runs and discards).
ferpretrain does not build that head (-0.10 M) but counts the bare
``nn.Parameter`` s thop skips (position embedding, CLS, bias tables, layer
scales: +0.12 M), so 43.75 M here.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from ferpretrain.analysis import get_model_complexity
from ferpretrain.models.classifiers.poster_v2 import (
    WindowCrossAttention, WindowCrossAttentionBlock)
from ferpretrain.models.utils import SEBlock
from ferpretrain.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def poster_v2():
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/models/poster_v2.py'))
    model = MODELS.build(cfg.model)
    model.eval()
    return model


def test_poster_v2_parameters_and_macs_match_the_paper(poster_v2):
    result = get_model_complexity(poster_v2, 224, convention='thop')
    assert abs(result.params_m - 43.72) / 43.72 < 0.03
    assert abs(result.gmac - 8.48) / 8.48 < 0.03
    # The frozen landmark branch, without its unused head.
    landmark = sum(p.numel() for p in poster_v2.landmark_backbone.parameters())
    assert landmark == 911232


def test_poster_v2_forward_shapes(poster_v2):
    inputs = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        feats = poster_v2.extract_feat(inputs, stage='backbone')
        assert [tuple(f.shape[1:]) for f in feats] == [(64, 56, 56),
                                                       (128, 28, 28),
                                                       (256, 14, 14),
                                                       (64, 28, 28),
                                                       (128, 14, 14),
                                                       (512, 7, 7)]
        image_feats, landmark_feats = feats[:3], feats[3:]
        tokens = poster_v2.neck.forward_tokens(image_feats, landmark_feats)
        assert [tuple(t.shape) for t in tokens] == [(2, 49, 768)] * 3
        assert poster_v2.neck.pos_embed.shape == (1, 148, 768)
        (cls_feat, ) = poster_v2.neck(image_feats, landmark_feats)
        assert cls_feat.shape == (2, 768)
        assert poster_v2(inputs, mode='tensor').shape == (2, 7)


def test_poster_v2_landmark_branch_stays_frozen(poster_v2):
    poster_v2.train()
    try:
        branch = poster_v2.landmark_backbone
        assert not any(p.requires_grad for p in branch.parameters())
        assert not any(m.training for m in branch.modules()
                       if isinstance(m, torch.nn.BatchNorm2d))
        assert poster_v2.neck.training
    finally:
        poster_v2.eval()


def test_window_cross_attention_does_not_project_queries():
    torch.manual_seed(0)
    attn = WindowCrossAttention(embed_dims=8, num_heads=2, window_size=3)
    # No query projection: the key/value linear is 8 -> 16.
    assert attn.qkv.weight.shape == (16, 8)
    assert attn.relative_position_bias_table.shape == (25, 2)
    assert attn.relative_position_index.shape == (9, 9)
    assert attn.relative_position_bias().shape == (2, 9, 9)
    x, q = torch.randn(2, 9, 8), torch.randn(2, 9, 8)

    # With values the identity and a zero bias, the output before the
    # projection is softmax(q k^T / sqrt(d)) k, computed here by hand.
    with torch.no_grad():
        attn.qkv.weight.copy_(torch.cat([torch.eye(8), torch.eye(8)]))
        attn.qkv.bias.zero_()
        attn.relative_position_bias_table.zero_()
        attn.proj.weight.copy_(torch.eye(8))
        attn.proj.bias.zero_()
        out = attn(x, q)
        qh = q.view(2, 9, 2, 4).transpose(1, 2)
        kh = x.view(2, 9, 2, 4).transpose(1, 2)
        weights = (qh @ kh.transpose(-2, -1) * 4**-0.5).softmax(-1)
        expected = (weights @ kh).transpose(1, 2).reshape(2, 9, 8)
        torch.testing.assert_close(out, expected)
        # Queries only change the weights: a query of zeros averages values.
        torch.testing.assert_close(
            attn(x, torch.zeros_like(q)),
            x.mean(1, keepdim=True).expand_as(x))


def test_window_cross_attention_block_layer_scale_and_windows():
    block = WindowCrossAttentionBlock(embed_dims=8, num_heads=2, window_size=3)
    assert torch.all(block.gamma1 == 1e-5) and torch.all(block.gamma2 == 1e-5)
    x, q = torch.randn(2, 8, 6, 6), torch.randn(2, 8, 3, 3)
    assert block(x, q).shape == (2, 8, 6, 6)  # 4 windows share the query
    with pytest.raises(ValueError, match='whole number'):
        block(torch.randn(2, 8, 5, 5), q)
    with pytest.raises(ValueError, match='one 3x3 window'):
        block(x, torch.randn(2, 8, 6, 6))


def test_se_block_matches_poster_se_block():
    se = SEBlock(768)
    # Two 768 x 768 linears with bias, no reduction (official SE_block).
    assert sum(p.numel() for p in se.parameters()) == 1181184
    x = torch.randn(4, 768)
    gate = torch.sigmoid(se.linear2(torch.relu(se.linear1(x))))
    torch.testing.assert_close(se(x), x * gate)


@pytest.mark.parametrize('name', [
    'WindowCrossAttention', 'WindowCrossAttentionBlock', 'SEBlock',
    'PosterV2Neck', 'PosterV2'
])
def test_poster_v2_components_are_registered(name):
    assert MODELS.get(name) is not None


def test_relative_position_index_literal_values():
    """Swin's convention, written out: entry (i, j) is
    ``(dy + w - 1) * (2w - 1) + (dx + w - 1)`` for the offset of query i
    from key j; swapped axes or a wrong offset change these numbers."""
    from ferpretrain.models.classifiers.poster_v2 import \
        relative_position_index
    assert relative_position_index(2).tolist() == [[4, 3, 1, 0],
                                                   [5, 4, 2, 1],
                                                   [7, 6, 4, 3],
                                                   [8, 7, 5, 4]]
    index = relative_position_index(3)
    assert index.shape == (9, 9) and index.dtype == torch.long
    assert index.diagonal().tolist() == [12] * 9  # zero offset: the centre
    # Query (0, 0) against key (2, 2): offset (-2, -2) -> 0; the reverse
    # -> (2 + 2) * 5 + (2 + 2) = 24; query (0, 1) against key (1, 0):
    # offset (-1, +1) -> 1 * 5 + 3 = 8.
    assert (index[0, 8], index[8, 0], index[1, 3]) == (0, 24, 8)
