from .face_crop import CropFaceBox
from .loading import LoadFERImage
from .processing import FERRandomRotate

__all__ = ['CropFaceBox', 'LoadFERImage', 'FERRandomRotate']
