"""Training-loop components: optimizer wrappers (SAM, mixed
precision on any device), the ``torch.compile`` switch and the hook that
makes resumed runs reproduce uninterrupted ones."""
from .compile import (CompileHook, compile_model, compile_options,
                      use_compile_hook)
from .hooks import ReproducibleRandomnessHook, use_reproducible_randomness
from .optimizers import *  # noqa: F401,F403
from .optimizers import __all__ as _optimizers_all

__all__ = [
    'CompileHook', 'compile_model', 'compile_options', 'use_compile_hook',
    'ReproducibleRandomnessHook', 'use_reproducible_randomness',
    *_optimizers_all
]
