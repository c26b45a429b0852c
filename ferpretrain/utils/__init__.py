"""Utilities: safe checkpoint loading, CPU-distributed setup, face alignment,
allocator settings for CPU training.

Importing this package installs the safe local checkpoint loader into
mmengine (see :mod:`ferpretrain.utils.checkpoint`), so every checkpoint load
that goes through mmengine in a process that imported ferpretrain keeps
``torch.load(weights_only=True)`` semantics and refuses foreign code.
"""
from .checkpoint import (TRUSTED_CHECKPOINTS_ENV, UntrustedCheckpointError,
                         checkpoint_safe_globals, find_unsafe_globals,
                         get_checkpoint_safe_globals,
                         install_safe_checkpoint_loader,
                         is_trusted_checkpoint, load_checkpoint_file,
                         load_from_local, trust_checkpoint)
from .dist import setup_cpu_distributed
from .face_alignment import (FIVE_POINT_TEMPLATE, AlignmentResult,
                             FaceAligner, FaceBox, UnreadableImageError,
                             estimate_similarity, five_point_model_path,
                             read_image, transform_points, warp_image)
from .malloc import MALLOC_ENV, tune_malloc

install_safe_checkpoint_loader()

__all__ = [
    'TRUSTED_CHECKPOINTS_ENV', 'UntrustedCheckpointError',
    'checkpoint_safe_globals', 'find_unsafe_globals',
    'get_checkpoint_safe_globals', 'install_safe_checkpoint_loader',
    'is_trusted_checkpoint', 'load_checkpoint_file', 'load_from_local',
    'trust_checkpoint', 'setup_cpu_distributed', 'FIVE_POINT_TEMPLATE',
    'AlignmentResult', 'FaceAligner', 'FaceBox', 'UnreadableImageError',
    'estimate_similarity', 'five_point_model_path', 'read_image',
    'transform_points', 'warp_image', 'MALLOC_ENV', 'tune_malloc'
]
