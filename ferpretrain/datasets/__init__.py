from .base_fer import (BaseFERDataset, FERAnnotationError, FERSampleError,
                       ann_source, check_images_exist, require_dir,
                       require_file)
from .categories import (APVIT_RAFDB_CATEGORIES, FER2013_CATEGORIES,
                         RAFDB_CATEGORIES, label_permutation)
from .fer2013 import FER2013
from .rafdb import RAFDB
from .synthetic_faces import (EXPRESSIONS, draw_face,
                              generate_synthetic_rafdb)
from .transforms import *  # noqa: F401,F403
from .transforms import FERRandomRotate, LoadFERImage

__all__ = [
    'BaseFERDataset', 'FERAnnotationError', 'FERSampleError', 'ann_source',
    'check_images_exist', 'require_dir', 'require_file', 'RAFDB_CATEGORIES',
    'APVIT_RAFDB_CATEGORIES', 'FER2013_CATEGORIES', 'label_permutation',
    'RAFDB', 'FER2013', 'LoadFERImage', 'FERRandomRotate', 'EXPRESSIONS',
    'draw_face', 'generate_synthetic_rafdb'
]
