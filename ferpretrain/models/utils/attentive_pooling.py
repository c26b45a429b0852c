"""Attentive pooling of APViT (Xue et al., "Vision Transformer with
Attentive Pooling for Robust Facial Expression Recognition", IEEE TAC 2022).

Both poolings are parameter-free: they keep the tokens that an attention
score ranks highest and drop the rest, so later layers spend their compute on
the informative parts of the face and ignore occluded or background patches.

- :class:`AttentivePatchPooling` (APP) ranks the CNN patch tokens by the
  L1 norm of their projected feature (the sum over channels of the absolute
  value) and keeps ``num_keep`` of them.
- :class:`AttentiveTokenPooling` (ATP) ranks the tokens inside a transformer
  block by how much the CLS token attends to them: the pre-softmax scaled
  attention logits of the CLS query row, summed over heads. The CLS token is
  always kept.

Choices the paper leaves open, settled as the authors' code does:

- kept tokens stay in their original (spatial) order, not in score order,
  so that position embeddings and any later spatial reasoning stay aligned;
- ATP keeps ``max(int((N - 1) * keep_rate), 1)`` non-CLS tokens of N, which
  gives APViT's token counts 161 -> 145 -> 130 -> 117 -> 105;
- ties are broken by ``torch.topk``.
"""
from typing import Optional

import torch
import torch.nn as nn

from ferpretrain.registry import MODELS


def keep_topk_tokens(tokens: torch.Tensor, scores: torch.Tensor,
                     num_keep: int) -> torch.Tensor:
    """Keep the ``num_keep`` highest-scoring tokens, in their original order.

    Args:
        tokens (Tensor): (B, N, C).
        scores (Tensor): (B, N), higher is kept first.
        num_keep (int): Tokens to keep, 1 <= num_keep <= N.

    Returns:
        Tensor: (B, num_keep, C).
    """
    if num_keep >= tokens.shape[1]:
        return tokens
    index = scores.topk(num_keep, dim=1, sorted=False).indices
    index = index.sort(dim=1).values
    return tokens.gather(1, index.unsqueeze(-1).expand(-1, -1,
                                                       tokens.shape[-1]))


@MODELS.register_module()
class AttentivePatchPooling(nn.Module):
    """Attentive Patch Pooling (APP) of APViT.

    Scores each patch token by the sum over channels of the absolute value of
    its feature (``score='sum_abs'``, the paper's choice) and keeps the top
    ``num_keep`` patches in spatial order. APViT scores the projected CNN
    features *before* the position embedding is added, then pools the tokens
    *after* adding it: pass the pre-embedding tokens as ``score_source``.

    Args:
        num_keep (int): Patches to keep (APViT: 160 of 196).
        score (str): ``'sum_abs'`` (L1 norm, default) or ``'sum_sq'``
            (squared L2 norm).

    Shapes:
        tokens (B, N, C), score_source (B, N, C) -> (B, num_keep, C).
    """

    def __init__(self, num_keep: int, score: str = 'sum_abs'):
        super().__init__()
        if num_keep < 1:
            raise ValueError(
                f'AttentivePatchPooling: num_keep must be >= 1, got '
                f'{num_keep}.')
        if score not in ('sum_abs', 'sum_sq'):
            raise ValueError(
                "AttentivePatchPooling: score must be 'sum_abs' or "
                f"'sum_sq', got {score!r}.")
        self.num_keep = num_keep
        self.score = score

    def patch_scores(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, C) -> (B, N) patch scores."""
        if self.score == 'sum_abs':
            return x.abs().sum(dim=-1)
        return x.pow(2).sum(dim=-1)

    def forward(self,
                tokens: torch.Tensor,
                score_source: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.num_keep > tokens.shape[1]:
            raise ValueError(
                f'AttentivePatchPooling: cannot keep {self.num_keep} of '
                f'{tokens.shape[1]} patches; lower num_keep.')
        source = tokens if score_source is None else score_source
        return keep_topk_tokens(tokens, self.patch_scores(source),
                                self.num_keep)

    def extra_repr(self) -> str:
        return f'num_keep={self.num_keep}, score={self.score!r}'


@MODELS.register_module()
class AttentiveTokenPooling(nn.Module):
    """Attentive Token Pooling (ATP) of APViT.

    Keeps the CLS token (index 0) and the ``int((N - 1) * keep_rate)`` other
    tokens that the CLS query attends to most, measured on the pre-softmax
    scaled attention logits summed over heads. In APViT it runs inside a
    block after the attention residual and before the MLP.

    Args:
        keep_rate (float): Fraction of the non-CLS tokens to keep, in (0, 1].
            1 disables pooling.

    Shapes:
        tokens (B, N, C), cls_attn_logits (B, heads, N) -> (B, N', C) with
        N' = 1 + max(int((N - 1) * keep_rate), 1).
    """

    def __init__(self, keep_rate: float):
        super().__init__()
        if not 0 < keep_rate <= 1:
            raise ValueError('AttentiveTokenPooling: keep_rate must be in '
                             f'(0, 1], got {keep_rate}.')
        self.keep_rate = keep_rate

    def num_kept(self, num_tokens: int) -> int:
        """Tokens left (CLS included) from ``num_tokens`` (CLS included)."""
        if self.keep_rate >= 1:
            return num_tokens
        return 1 + max(int((num_tokens - 1) * self.keep_rate), 1)

    def forward(self, tokens: torch.Tensor,
                cls_attn_logits: torch.Tensor) -> torch.Tensor:
        num_keep = self.num_kept(tokens.shape[1]) - 1
        if num_keep + 1 >= tokens.shape[1]:
            return tokens
        scores = cls_attn_logits.sum(dim=1)[:, 1:]  # (B, N - 1)
        kept = keep_topk_tokens(tokens[:, 1:], scores, num_keep)
        return torch.cat([tokens[:, :1], kept], dim=1)

    def extra_repr(self) -> str:
        return f'keep_rate={self.keep_rate}'
