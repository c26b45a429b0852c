from .attention_dropping import (LANet, MultiAttentionDropping,
                                 MultiHeadSelfAttentionDropping,
                                 random_drop_mask)
from .attentive_pooling import (AttentivePatchPooling, AttentiveTokenPooling,
                                keep_topk_tokens)
from .cross_attention import WindowCrossAttention, WindowCrossAttentionBlock
from .se_block import SEBlock

__all__ = [
    'AttentivePatchPooling', 'AttentiveTokenPooling', 'keep_topk_tokens',
    'LANet', 'MultiAttentionDropping', 'MultiHeadSelfAttentionDropping',
    'random_drop_mask', 'SEBlock', 'WindowCrossAttention',
    'WindowCrossAttentionBlock'
]
