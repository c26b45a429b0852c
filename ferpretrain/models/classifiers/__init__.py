from .landmark_image import LandmarkImageClassifier
from .poster import (POSTER_ARCH_DEPTHS, Poster, PosterNeck,
                     convert_poster_checkpoint, poster_network_from_keys)
from .poster_v2 import (PosterV2, PosterV2Neck, convert_posterv2_checkpoint,
                        token_embedding)

__all__ = [
    'LandmarkImageClassifier', 'Poster', 'PosterNeck', 'POSTER_ARCH_DEPTHS',
    'PosterV2', 'PosterV2Neck', 'token_embedding',
    'convert_poster_checkpoint', 'poster_network_from_keys',
    'convert_posterv2_checkpoint'
]
