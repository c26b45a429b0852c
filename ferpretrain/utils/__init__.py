"""Utilities below every other layer: safe checkpoint reading, third-party
checkpoint reading and conversion, user-facing errors, face alignment, and
:func:`register_all_modules` (the one function that prepares a process to
run ferpretrain; importing this package changes nothing outside it)."""
from .checkpoint import (TRUSTED_CHECKPOINTS_ENV, UntrustedCheckpointError,
                         checkpoint_safe_globals, find_unsafe_globals,
                         get_checkpoint_safe_globals,
                         install_safe_checkpoint_loader,
                         is_trusted_checkpoint, load_checkpoint_file,
                         load_from_local, trust_checkpoint)
from .face_alignment import (FIVE_POINT_TEMPLATE, AlignmentResult,
                             FaceAligner, FaceBox, UnreadableImageError,
                             cnn_detector_model_path, estimate_similarity,
                             five_point_model_path, read_image,
                             transform_points, warp_image)
from .setup_env import register_all_modules

__all__ = [
    'TRUSTED_CHECKPOINTS_ENV', 'UntrustedCheckpointError',
    'checkpoint_safe_globals', 'find_unsafe_globals',
    'get_checkpoint_safe_globals', 'install_safe_checkpoint_loader',
    'is_trusted_checkpoint', 'load_checkpoint_file', 'load_from_local',
    'trust_checkpoint', 'FIVE_POINT_TEMPLATE', 'AlignmentResult',
    'FaceAligner', 'FaceBox', 'UnreadableImageError', 'estimate_similarity',
    'cnn_detector_model_path', 'five_point_model_path', 'read_image',
    'transform_points', 'warp_image', 'register_all_modules'
]


def __getattr__(name):
    # setup_cpu_distributed, tune_malloc and MALLOC_ENV moved to
    # ferpretrain.engine; the old path warns and keeps working.
    from ferpretrain._moved import moved_attribute
    return moved_attribute(__name__, name)
