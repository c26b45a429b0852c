from .doe import DifferenceOfEmbeddings, EmotionIdentityClassifier
from .fervt import (GridAttentionResNet, GridWiseAttention,
                    SemanticTokenizer, SemanticTokenTransformer)
from .landmark_image import LandmarkImageClassifier
from .poster import (POSTER_ARCH_DEPTHS, CrossAttention, CrossFusionBlock,
                     Poster, PosterNeck, PyramidCrossFusion,
                     convert_poster_checkpoint, embedding_downsample,
                     poster_network_from_keys)
from .poster_v2 import (PosterV2, PosterV2Neck, WindowCrossAttention,
                        WindowCrossAttentionBlock,
                        convert_posterv2_checkpoint, token_embedding)
from .vit_se import LayoutAwareViT, SENeck, convert_vit_keys, vit_key_layout

__all__ = [
    'DifferenceOfEmbeddings', 'EmotionIdentityClassifier',
    'GridWiseAttention', 'GridAttentionResNet', 'SemanticTokenizer',
    'SemanticTokenTransformer', 'LayoutAwareViT', 'SENeck',
    'convert_vit_keys', 'vit_key_layout',
    'LandmarkImageClassifier', 'Poster', 'PosterNeck', 'POSTER_ARCH_DEPTHS',
    'CrossAttention', 'CrossFusionBlock', 'PyramidCrossFusion',
    'embedding_downsample', 'PosterV2', 'PosterV2Neck',
    'WindowCrossAttention', 'WindowCrossAttentionBlock', 'token_embedding',
    'convert_poster_checkpoint', 'poster_network_from_keys',
    'convert_posterv2_checkpoint'
]
