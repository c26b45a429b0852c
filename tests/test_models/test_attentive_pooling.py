import pytest
import torch

from ferpretrain.models.utils import (AttentivePatchPooling,
                                      AttentiveTokenPooling, keep_topk_tokens)
from ferpretrain.registry import MODELS


def test_keep_topk_tokens_keeps_original_order():
    tokens = torch.arange(6.).view(1, 6, 1).repeat(1, 1, 3)
    scores = torch.tensor([[0.1, 5., 0.2, 4., 3., 0.]])
    kept = keep_topk_tokens(tokens, scores, 3)
    # Top-3 are positions 1, 3, 4: kept in spatial order, not score order.
    assert kept[0, :, 0].tolist() == [1., 3., 4.]


def test_app_scores_with_l1_norm_of_score_source():
    app = MODELS.build(dict(type='AttentivePatchPooling', num_keep=2))
    tokens = torch.zeros(2, 4, 3)
    tokens[:, :, 0] = torch.arange(4.)  # token ids
    source = torch.tensor([[[-9., 0, 0], [1, 1, 1], [0, 0, 0.5], [4, -4, 0]],
                           [[0, 0, 0], [0, 0, 0], [1, 0, 0], [0, 2, 0]]])
    out = app(tokens, source)
    assert out.shape == (2, 2, 3)
    assert out[0, :, 0].tolist() == [0., 3.]  # |.|-sums 9, 3, 0.5, 8
    assert out[1, :, 0].tolist() == [2., 3.]
    # Without a score source the tokens score themselves.
    assert app(source)[0].abs().sum(-1).tolist() == [9., 8.]


def test_app_rejects_bad_arguments():
    with pytest.raises(ValueError, match='num_keep'):
        AttentivePatchPooling(0)
    with pytest.raises(ValueError, match='score'):
        AttentivePatchPooling(3, score='max')
    with pytest.raises(ValueError, match='cannot keep 5 of 4'):
        AttentivePatchPooling(5)(torch.zeros(1, 4, 2))


@pytest.mark.parametrize('n,expected', [(161, 145), (145, 130), (130, 117),
                                        (117, 105), (3, 2)])
def test_atp_token_counts(n, expected):
    atp = AttentiveTokenPooling(0.9)
    assert atp.num_kept(n) == expected
    out = atp(torch.randn(2, n, 4), torch.randn(2, 3, n))
    assert out.shape == (2, expected, 4)


def test_atp_keeps_cls_and_uses_summed_head_logits():
    atp = AttentiveTokenPooling(0.5)
    tokens = torch.arange(5.).view(1, 5, 1)
    logits = torch.zeros(1, 2, 5)
    # Head sums: token1 = 1, token2 = 3, token3 = -1, token4 = 2. The CLS
    # column (index 0) gets the largest score but must not count twice.
    logits[0, 0] = torch.tensor([100., 2., 1., 0., 3.])
    logits[0, 1] = torch.tensor([100., -1., 2., -1., -1.])
    out = atp(tokens, logits)
    assert out[0, :, 0].tolist() == [0., 2., 4.]


def test_atp_rate_one_is_identity_and_bad_rate_rejected():
    x = torch.randn(1, 7, 2)
    assert AttentiveTokenPooling(1.)(x, torch.randn(1, 2, 7)) is x
    with pytest.raises(ValueError, match='keep_rate'):
        AttentiveTokenPooling(0.)
