from .cross_dataset import (ClassMatch, CrossDatasetEvaluator,
                            canonical_expression, match_classes)
from .metrics import *  # noqa: F401,F403

__all__ = [
    'ClassMatch', 'CrossDatasetEvaluator', 'canonical_expression',
    'match_classes'
]
