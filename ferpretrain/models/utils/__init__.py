from .attentive_pooling import (AttentivePatchPooling, AttentiveTokenPooling,
                                keep_topk_tokens)

__all__ = [
    'AttentivePatchPooling', 'AttentiveTokenPooling', 'keep_topk_tokens'
]
