from .amp import (MixedPrecisionOptimWrapper, autocast_context,
                  full_precision_cfg, mixed_precision_cfg, resolve_amp_dtype)
from .sam import SAMOptimWrapper, sam_perturbation

__all__ = [
    'MixedPrecisionOptimWrapper', 'SAMOptimWrapper', 'autocast_context',
    'full_precision_cfg', 'mixed_precision_cfg', 'resolve_amp_dtype',
    'sam_perturbation'
]
