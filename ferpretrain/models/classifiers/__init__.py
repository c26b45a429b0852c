from .landmark_image import LandmarkImageClassifier
from .poster import POSTER_ARCH_DEPTHS, Poster, PosterNeck
from .poster_v2 import PosterV2, PosterV2Neck, token_embedding

__all__ = [
    'LandmarkImageClassifier', 'Poster', 'PosterNeck', 'POSTER_ARCH_DEPTHS',
    'PosterV2', 'PosterV2Neck', 'token_embedding'
]
