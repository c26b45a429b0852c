"""``torch.compile`` as a config switch: ``compile = True`` (or a dict of
``torch.compile`` options) in any ferpretrain config.

mmengine reads the same key, but its ``Runner`` compiles only
``model.train_step``: the optimizer update (and SAM's closure) inside it, and
not the validation or test forward. ferpretrain's tools compile the model's
networks instead (``backbone``, ``neck``, ``head``, POSTER's
``landmark_backbone``: every child module except the data preprocessor)
with ``nn.Module.compile``, which works in place:

- the compiled forward serves training, validation, testing, the SAM passes
  and the benchmark alike, and gradients flow through it as usual;
- parameter names and ``state_dict`` keys do not change (no ``_orig_mod.``
  prefix), so checkpoints from compiled and eager runs load into each other
  and the optimizer sees the same parameters;
- hooks that read submodules (attention visualisation, frozen-stage
  ``train()`` overrides) keep working: only ``forward`` is compiled.

The first iterations are slow (the compiler traces the model and, with the
default ``inductor`` backend, builds C++/OpenMP kernels for the CPU or Triton
kernels for the GPU); a new input shape (the last, smaller batch of an
epoch) compiles once more. Outputs equal the eager ones to floating-point
rounding (tested).
"""
from typing import Dict, List, Optional, Union

import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from ferpretrain.registry import HOOKS

# Children that are not networks: the data preprocessor normalises and
# batches inputs (cheap, and it handles lists of tensors of any size).
_SKIP_CHILDREN = ('data_preprocessor', )

CompileCfg = Union[bool, Dict, None]


def compile_options(compile_cfg: CompileCfg) -> Optional[Dict]:
    """The ``torch.compile`` keyword arguments of a ``compile`` setting, or
    ``None`` when it is off.

    Raises:
        TypeError: for anything other than a bool, ``None`` or a dict.
    """
    if compile_cfg is None or compile_cfg is False:
        return None
    if compile_cfg is True:
        return {}
    if isinstance(compile_cfg, dict):
        return dict(compile_cfg)
    raise TypeError(
        f'`compile` must be True, False or a dict of torch.compile options '
        f'(e.g. dict(backend="inductor", mode="max-autotune")), got '
        f'{compile_cfg!r}.')


def compile_model(model: nn.Module, compile_cfg: CompileCfg = True,
                  logger: str = 'current') -> List[str]:
    """Compile ``model``'s networks in place; return their names.

    Args:
        model (nn.Module): an mmengine model (``ImageClassifier`` and the
            like), possibly inside a DDP wrapper.
        compile_cfg (bool | dict | None): ``True`` for torch's defaults, a
            dict of ``torch.compile`` options, or ``False``/``None`` to do
            nothing.

    Returns:
        list[str]: the names of the compiled children (empty when off).
    """
    options = compile_options(compile_cfg)
    if options is None:
        return []
    if is_model_wrapper(model):
        model = model.module
    names = []
    for name, child in model.named_children():
        if name in _SKIP_CHILDREN or next(child.parameters(), None) is None:
            continue
        child.compile(**options)
        names.append(name)
    if not names:
        raise ValueError(
            f'compile: {type(model).__name__} has no child network to '
            'compile (it has no submodule with parameters besides the data '
            'preprocessor).')
    print_log(
        f'torch.compile({options or "defaults"}) on {", ".join(names)}: the '
        'first iterations (and each new batch shape) are slow while it '
        'compiles.',
        logger=logger)
    return names


@HOOKS.register_module()
class CompileHook(Hook):
    """Compile the model's networks before a run (train, val or test).

    ``tools/train.py`` and ``tools/test.py`` add this hook when the config
    says ``compile = True`` (or a dict of options), or with ``--compile``.
    It can also be listed directly::

        custom_hooks = [dict(type='CompileHook', compile_cfg=True)]

    Args:
        compile_cfg (bool | dict): ``True`` or ``torch.compile`` options.
    """

    # After the other hooks' ``before_run``: EMAHook deep-copies the model
    # there, and its average model should stay a plain eager copy (it only
    # lends its weights to the compiled model for validation).
    priority = 'LOW'

    def __init__(self, compile_cfg: CompileCfg = True):
        # Validate now, so a bad setting fails before any data is loaded.
        compile_options(compile_cfg)
        self.compile_cfg = compile_cfg
        self._done = False

    def before_run(self, runner) -> None:
        if self._done:
            return
        compile_model(runner.model, self.compile_cfg)
        self._done = True


def use_compile_hook(cfg, force: bool = False) -> bool:
    """Move a config's ``compile`` setting into a :class:`CompileHook`.

    mmengine's ``Runner`` would otherwise compile ``train_step`` (training
    only, optimizer update included); the hook compiles the networks for
    training, validation and testing alike. ``force`` (``--compile``) turns
    it on when the config does not.

    Returns:
        bool: whether the hook was added.
    """
    compile_cfg = cfg.pop('compile', None)
    if force and not compile_cfg:
        compile_cfg = True
    if compile_options(compile_cfg) is None:
        return False
    hooks = list(cfg.get('custom_hooks', None) or [])
    hooks.append(dict(type='CompileHook', compile_cfg=compile_cfg))
    cfg.custom_hooks = hooks
    return True
