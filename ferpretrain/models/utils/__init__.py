"""Blocks that several model families share. A block only one paper uses
lives in that paper's module (``classifiers/poster.py``,
``classifiers/poster_v2.py``, ``necks/pooling_vit.py``)."""
from .attention_dropping import (LANet, MultiAttentionDropping,
                                 MultiHeadSelfAttentionDropping,
                                 random_drop_mask)
from .attentive_pooling import (AttentivePatchPooling, AttentiveTokenPooling,
                                keep_topk_tokens)
from .embedding_difference import EmbeddingDifference
from .pair_data_preprocessor import PairDataPreprocessor
from .se_block import SEBlock

__all__ = [
    'AttentivePatchPooling', 'AttentiveTokenPooling', 'keep_topk_tokens',
    'LANet', 'MultiAttentionDropping', 'MultiHeadSelfAttentionDropping',
    'random_drop_mask', 'SEBlock', 'EmbeddingDifference',
    'PairDataPreprocessor'
]


def __getattr__(name):
    # POSTER's and POSTER V2's blocks and the old converter functions moved
    # (ferpretrain._moved says where); the old names warn and keep working.
    from ferpretrain._moved import moved_attribute
    return moved_attribute(__name__, name)
