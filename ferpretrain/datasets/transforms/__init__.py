from .loading import LoadFERImage
from .processing import FERRandomRotate

__all__ = ['LoadFERImage', 'FERRandomRotate']
