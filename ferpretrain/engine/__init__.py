"""Running models: the Runner ferpretrain's tools use (checkpoint loading
that says what does not fit, work directories that keep what they hold),
the command-line settings of a run (``run_config``), CPU-distributed
setup, the allocator setting for CPU training, optimizer
wrappers (SAM, mixed precision on any device), the ``torch.compile`` switch
and the hook that makes resumed runs reproduce uninterrupted ones."""
from .compile import (CompileHook, compile_model, compile_options,
                      use_compile_hook)
from .dist import setup_cpu_distributed
from .hooks import ReproducibleRandomnessHook, use_reproducible_randomness
from .malloc import MALLOC_ENV, tune_malloc
from .optimizers import *  # noqa: F401,F403
from .optimizers import __all__ as _optimizers_all
from .run_config import (add_run_arguments, check_fresh_work_dir,
                         configure_amp, configure_compile,
                         enable_auto_scale_lr, enable_tta,
                         enable_visualization, existing_checkpoints,
                         parse_run_args, set_dataloader_defaults, set_resume,
                         set_work_dir, trust_named_checkpoints)
from .runner import (CHECKPOINT_LOADING, KeepExistingConfigRunner,
                     build_runner, check_writable,
                     drop_persistent_workers_without_workers,
                     last_readable_checkpoint)

__all__ = [
    'CompileHook', 'compile_model', 'compile_options', 'use_compile_hook',
    'setup_cpu_distributed', 'ReproducibleRandomnessHook',
    'use_reproducible_randomness', 'MALLOC_ENV', 'tune_malloc',
    'CHECKPOINT_LOADING', 'KeepExistingConfigRunner', 'build_runner',
    'check_writable', 'drop_persistent_workers_without_workers',
    'last_readable_checkpoint', 'add_run_arguments', 'parse_run_args',
    'set_work_dir', 'set_resume', 'enable_auto_scale_lr', 'configure_amp',
    'configure_compile', 'set_dataloader_defaults', 'enable_tta',
    'enable_visualization', 'existing_checkpoints', 'check_fresh_work_dir',
    'trust_named_checkpoints',
    *_optimizers_all
]
