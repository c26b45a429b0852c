from .attention_dropping import (LANet, MultiAttentionDropping,
                                 MultiHeadSelfAttentionDropping,
                                 random_drop_mask)
from .attentive_pooling import (AttentivePatchPooling, AttentiveTokenPooling,
                                keep_topk_tokens)
from .cross_attention import WindowCrossAttention, WindowCrossAttentionBlock
from .cross_fusion import (CrossAttention, CrossFusionBlock,
                           PyramidCrossFusion, embedding_downsample)
from .se_block import SEBlock

__all__ = [
    'AttentivePatchPooling', 'AttentiveTokenPooling', 'keep_topk_tokens',
    'CrossAttention', 'CrossFusionBlock', 'PyramidCrossFusion',
    'embedding_downsample',
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
from .poster_convert import convert_poster_checkpoint  # noqa: E402

__all__ += ['convert_poster_checkpoint']
