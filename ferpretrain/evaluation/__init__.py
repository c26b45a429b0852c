from .cross_dataset import (ClassMatch, CrossDatasetEvaluator,
                            canonical_expression, match_classes)
from .cross_dataset_config import (add_cross_dataset_arguments,
                                   check_cross_dataset_args,
                                   enable_class_matching, parse_class_map,
                                   read_model_classes, use_class_matching,
                                   use_test_data)
from .metrics import *  # noqa: F401,F403

__all__ = [
    'ClassMatch', 'CrossDatasetEvaluator', 'canonical_expression',
    'match_classes', 'enable_class_matching', 'parse_class_map',
    'read_model_classes', 'use_class_matching', 'use_test_data',
    'add_cross_dataset_arguments', 'check_cross_dataset_args'
]
