"""Fused attention (``F.scaled_dot_product_attention``) equals the explicit
``softmax(q k^T * scale + bias) v`` of the papers, in every module that uses
it, and the CLS logits APViT's token pooling reads are the explicit ones."""
import pytest
import torch

from ferpretrain.models.necks.pooling_vit import PoolingAttention
from ferpretrain.models.classifiers.poster_v2 import WindowCrossAttention
from ferpretrain.models.utils import MultiHeadSelfAttentionDropping


def heads_of(x, num_heads):
    b, n, c = x.shape
    return x.view(b, n, num_heads, c // num_heads).transpose(1, 2)


@pytest.mark.parametrize('qk_scale', [None, 0.3])
def test_pooling_attention_matches_explicit(qk_scale):
    torch.manual_seed(0)
    attn = PoolingAttention(32, num_heads=4, qkv_bias=True,
                            qk_scale=qk_scale).eval()
    x = torch.randn(3, 11, 32)
    out, cls_logits = attn(x)
    q, k, v = attn.qkv(x).reshape(3, 11, 3, 4, 8).permute(2, 0, 3, 1,
                                                          4).unbind(0)
    logits = q @ k.transpose(-2, -1) * (qk_scale or 8**-0.5)
    heads = logits.softmax(-1) @ v
    expected = attn.proj(heads.transpose(1, 2).reshape(3, 11, 32))
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(cls_logits, logits[:, :, 0])


def test_pooling_attention_head_dropping_acts_on_fused_heads():
    torch.manual_seed(0)
    dropping = MultiHeadSelfAttentionDropping(drop_prob=1., max_dropped=1)
    attn = PoolingAttention(16, num_heads=2, head_dropping=dropping)
    attn.train()
    x = torch.randn(4, 5, 16)
    captured = {}
    dropping.register_forward_hook(
        lambda m, i, o: captured.update(inp=i[0], out=o))
    attn(x)
    dropped = (captured['out'] == 0).flatten(2).all(-1)  # (B, heads)
    assert dropped.sum(1).tolist() == [1, 1, 1, 1]  # one head each
    assert torch.equal(captured['out'][~dropped], captured['inp'][~dropped])


def test_window_cross_attention_with_bias_matches_explicit():
    torch.manual_seed(0)
    attn = WindowCrossAttention(
        embed_dims=16, num_heads=4, window_size=3).eval()
    with torch.no_grad():
        attn.relative_position_bias_table.normal_()
    x = torch.randn(4, 9, 16)  # 2 samples x 2 windows
    query = torch.randn(2, 9, 16)
    k, v = attn.qkv(x).reshape(4, 9, 2, 4, 4).permute(2, 0, 3, 1,
                                                      4).unbind(0)
    q = heads_of(query, 4).repeat_interleave(2, dim=0)
    logits = q @ k.transpose(-2, -1) * 4**-0.5 + \
        attn.relative_position_bias()
    expected = attn.proj(
        (logits.softmax(-1) @ v).transpose(1, 2).reshape(4, 9, 16))
    torch.testing.assert_close(attn(x, query), expected)
