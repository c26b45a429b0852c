from .affectnet import AffectNet
from .base_fer import (BaseFERDataset, FERAnnotationError, FERSampleError,
                       ann_source, check_images_exist, require_dir,
                       require_file)
from .categories import (AFFECTNET_CATEGORIES, AFFECTNET_CODES,
                         APVIT_RAFDB_CATEGORIES, CAERS_CATEGORIES,
                         CKPLUS_CATEGORIES, FER2013_CATEGORIES,
                         FERPLUS_CATEGORIES, JAFFE_CATEGORIES,
                         RAFDB_CATEGORIES, SFEW_CATEGORIES, ClassMatch,
                         canonical_expression, label_permutation,
                         match_classes)
from .ckplus import CKPlus
from .dataset_wrappers import ClassSubsetDataset
from .face_landmarks import LANDMARK_CSV_HEADER, FaceLandmarkDataset
from .fer2013 import FER2013
from .fer_folder import FERFolder
from .ferplus import FERPLUS_LABEL_MODES, FERPlus
from .jaffe import JAFFE
from .neutral_pairs import NeutralPairDataset
from .rafdb import RAFDB
from .samplers import ClassBalancedSampler
from .sfew import CAERS, SFEW
from .subject_split import (leave_one_subject_out, subject_folds,
                            subject_kfold)
from .synthetic_faces import (EXPRESSIONS, PAIRS_SUBJECT_PATTERN, draw_face,
                              generate_synthetic_pairs,
                              generate_synthetic_rafdb, sample_identity)
from .transforms import *  # noqa: F401,F403
from .transforms import CropFaceBox, FERRandomRotate, LoadFERImage

__all__ = [
    'BaseFERDataset', 'FERAnnotationError', 'FERSampleError', 'ann_source',
    'check_images_exist', 'require_dir', 'require_file', 'RAFDB_CATEGORIES',
    'APVIT_RAFDB_CATEGORIES', 'FER2013_CATEGORIES', 'label_permutation',
    'ClassMatch', 'canonical_expression', 'match_classes',
    'RAFDB', 'FER2013', 'FERPlus', 'FERPLUS_CATEGORIES',
    'FERPLUS_LABEL_MODES', 'AffectNet', 'AFFECTNET_CATEGORIES',
    'AFFECTNET_CODES', 'CKPlus', 'CKPLUS_CATEGORIES', 'JAFFE',
    'JAFFE_CATEGORIES', 'SFEW', 'SFEW_CATEGORIES', 'CAERS',
    'CAERS_CATEGORIES', 'FERFolder', 'ClassBalancedSampler',
    'ClassSubsetDataset', 'NeutralPairDataset',
    'subject_folds', 'subject_kfold', 'leave_one_subject_out',
    'LoadFERImage', 'FERRandomRotate', 'CropFaceBox', 'EXPRESSIONS',
    'draw_face', 'generate_synthetic_rafdb', 'generate_synthetic_pairs',
    'sample_identity', 'PAIRS_SUBJECT_PATTERN', 'FaceLandmarkDataset',
    'LANDMARK_CSV_HEADER'
]
