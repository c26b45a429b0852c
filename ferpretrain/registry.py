"""The registries ferpretrain registers into.

ferpretrain is a plugin: every component registers straight into
mmpretrain's registries, so that every mmpretrain tool (``Runner``,
``mmpretrain.get_model``, ``init_model``, the inferencers and the analysis
tools) resolves ferpretrain's type names without a scope prefix. A child
registry with its own scope would force every config to write
``ferpretrain.X`` (``get_model`` always builds in the ``mmpretrain`` scope).

The cost is a shared namespace: names already taken by mmpretrain (for
example ``RandomErasing``, ``VisionTransformer``, ``LabelSmoothLoss``) must
not be reused, and ``force=True`` is never used. Import the nodes from here,
so that the decision lives in one place.
"""
from mmpretrain.registry import (RUNNERS, RUNNER_CONSTRUCTORS, LOOPS, HOOKS, LOG_PROCESSORS, OPTIMIZERS, OPTIM_WRAPPERS, OPTIM_WRAPPER_CONSTRUCTORS, PARAM_SCHEDULERS, DATASETS, DATA_SAMPLERS, TRANSFORMS, MODELS, MODEL_WRAPPERS, WEIGHT_INITIALIZERS, BATCH_AUGMENTS, TASK_UTILS, TOKENIZER, METRICS, EVALUATORS, VISUALIZERS, VISBACKENDS)  # noqa: E501

__all__ = [
    'RUNNERS',
    'RUNNER_CONSTRUCTORS',
    'LOOPS',
    'HOOKS',
    'LOG_PROCESSORS',
    'OPTIMIZERS',
    'OPTIM_WRAPPERS',
    'OPTIM_WRAPPER_CONSTRUCTORS',
    'PARAM_SCHEDULERS',
    'DATASETS',
    'DATA_SAMPLERS',
    'TRANSFORMS',
    'MODELS',
    'MODEL_WRAPPERS',
    'WEIGHT_INITIALIZERS',
    'BATCH_AUGMENTS',
    'TASK_UTILS',
    'TOKENIZER',
    'METRICS',
    'EVALUATORS',
    'VISUALIZERS',
    'VISBACKENDS',
]
