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

# Checkpoint key rules moved beside their models, and the reading of
# third-party files to ``ferpretrain.utils.foreign_checkpoint``. The old
# names still resolve from here, lazily (an import at this point would be
# circular: the models import these blocks).
_MOVED = {
    'convert_poster_checkpoint': 'ferpretrain.models.classifiers.poster',
    'convert_posterv2_checkpoint': 'ferpretrain.models.classifiers.poster_v2',
    'convert_apvit_checkpoint': 'ferpretrain.models.necks.pooling_vit',
    'OpaquePickledObject': 'ferpretrain.utils.foreign_checkpoint',
    'load_posterv2_release': 'ferpretrain.utils.foreign_checkpoint',
    'group_posterv2_keys': 'ferpretrain.utils.foreign_checkpoint',
}


def __getattr__(name):
    if name in _MOVED:
        from . import _moved
        return getattr(_moved, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
