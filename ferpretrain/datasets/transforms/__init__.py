from ferpretrain.utils.compat import install_mmcv_fixes
from .face_crop import CropFaceBox
from .loading import LoadFERImage
from .processing import FERRandomRotate

# mmpretrain's ColorJitter (hue) crashes with numpy 2 without it.
install_mmcv_fixes()

__all__ = ['CropFaceBox', 'LoadFERImage', 'FERRandomRotate']
