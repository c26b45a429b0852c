"""Training-loop components: optimizer wrappers (SAM, mixed
precision on any device) and the ``torch.compile`` switch."""
from .compile import (CompileHook, compile_model, compile_options,
                      use_compile_hook)
from .optimizers import *  # noqa: F401,F403
from .optimizers import __all__ as _optimizers_all

__all__ = [
    'CompileHook', 'compile_model', 'compile_options', 'use_compile_hook',
    *_optimizers_all
]
