from .face_crop import CropFaceBox
from .landmark_flip import (FLIP_PERMUTATION_68, LandmarkRandomFlip,
                            flip_landmarks)
from .loading import LoadFERImage
from .processing import AddGaussianNoise, FERRandomRotate

__all__ = [
    'AddGaussianNoise', 'CropFaceBox', 'LoadFERImage', 'FERRandomRotate',
    'LandmarkRandomFlip', 'FLIP_PERMUTATION_68',
    'flip_landmarks'
]
