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
from .posterv2_convert import (OpaquePickledObject,  # noqa: E402
                               convert_posterv2_checkpoint,
                               group_posterv2_keys, load_posterv2_release)

__all__ += [
    'OpaquePickledObject', 'convert_posterv2_checkpoint',
    'group_posterv2_keys', 'load_posterv2_release'
]
