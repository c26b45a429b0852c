from .poster_v2 import PosterV2, PosterV2Neck, token_embedding

__all__ = ['PosterV2', 'PosterV2Neck', 'token_embedding']
