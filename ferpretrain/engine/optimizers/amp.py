"""Mixed-precision training on any device: bf16 on CPU as on GPU.

mmengine's ``AmpOptimWrapper`` asserts a GPU/NPU/MLU/MUSA device when it is
built, so ``--amp`` cannot train on a CPU, although CPUs with AMX or
AVX-512-BF16 run bfloat16 matrix products several times faster than fp32
(measured on 2 cores of an AMD EPYC with AVX-512-BF16 but no AMX: 145 GFLOP/s
fp32 and 400 bf16; reported for 2 cores with AMX: about 350 and 2,000).

:class:`MixedPrecisionOptimWrapper` runs the forward pass under
``torch.autocast(device_type, dtype)`` on whatever device the run uses:

- ``bfloat16`` (the default): bf16 has fp32's exponent range, so gradients
  neither underflow nor overflow and no loss scaling is needed; the
  backward pass and the update are plain. Master weights and optimizer
  state stay fp32 (autocast only casts inside the forward).
- ``float16``: CUDA only, with a ``torch.amp.GradScaler`` (dynamic loss
  scaling by default), as mmengine's ``AmpOptimWrapper``. fp16 on CPU is
  refused: without a scaler small gradients vanish, and CPUs gain nothing
  from fp16 over bf16.

The device type is read at run time from where the model's parameters are
(CPU, CUDA, ...), so one config trains on both. :func:`autocast_context`
is the same context for other wrappers (``SAMOptimWrapper(dtype=...)``).
"""
from contextlib import contextmanager, nullcontext
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from ferpretrain.registry import OPTIM_WRAPPERS

__all__ = [
    'MixedPrecisionOptimWrapper', 'autocast_context', 'full_precision_cfg',
    'mixed_precision_cfg', 'resolve_amp_dtype'
]

_DTYPES = {'bfloat16': torch.bfloat16, 'float16': torch.float16}


def resolve_amp_dtype(
        dtype: Optional[Union[str, torch.dtype]]) -> Optional[torch.dtype]:
    """``'bfloat16'`` / ``'float16'`` (or the dtypes) -> the dtype;
    ``None`` -> ``None`` (no autocast)."""
    if dtype is None or dtype in _DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype in _DTYPES:
        return _DTYPES[dtype]
    raise ValueError(f'Mixed precision dtype must be one of '
                     f'{sorted(_DTYPES)} (or None for float32), got '
                     f'{dtype!r}.')


def model_device_type(model: nn.Module) -> str:
    """``'cpu'``, ``'cuda'``, ... of the model's first parameter."""
    for param in model.parameters():
        return param.device.type
    return 'cpu'


def autocast_context(model: nn.Module, dtype: Optional[torch.dtype]):
    """``torch.autocast`` for the model's device, or a no-op for ``None``.

    Raises:
        ValueError: float16 on a CPU (see the module docstring).
    """
    if dtype is None:
        return nullcontext()
    device_type = model_device_type(model)
    if dtype == torch.float16 and device_type == 'cpu':
        raise ValueError(
            'float16 mixed precision needs a GPU (and loss scaling); on a '
            "CPU use dtype='bfloat16' (AMX / AVX-512-BF16 run it fast).")
    return torch.autocast(device_type=device_type, dtype=dtype)


@OPTIM_WRAPPERS.register_module()
class MixedPrecisionOptimWrapper(AmpOptimWrapper):
    """mmengine's ``AmpOptimWrapper`` without its GPU-only restriction.

    Loss scaling, gradient clipping, ``state_dict`` and resuming are
    mmengine's. What differs: the constructor does not assert a GPU, bf16
    gets a *disabled* ``GradScaler`` (scaling, unscaling and its state are
    then no-ops: bf16 needs none), and autocast follows the device of the
    model's parameters, refusing fp16 on a CPU with a message.

    Args:
        optimizer (Optimizer): The optimizer (fp32 master weights).
        dtype (str | torch.dtype): ``'bfloat16'`` (default; CPU and GPU, no
            loss scaling) or ``'float16'`` (CUDA, loss scaling).
        loss_scale (str | float | dict): fp16 only: ``'dynamic'``
            (default), a static scale, or ``GradScaler`` keyword
            arguments. Ignored for bfloat16.
        **kwargs: ``OptimWrapper`` arguments (``accumulative_counts``,
            ``clip_grad``).

    Example::

        optim_wrapper = dict(type='MixedPrecisionOptimWrapper',
                             dtype='bfloat16',
                             optimizer=dict(type='AdamW', lr=1e-3))
    """

    def __init__(self,
                 optimizer,
                 dtype: Union[str, torch.dtype] = 'bfloat16',
                 loss_scale: Union[str, float, dict] = 'dynamic',
                 **kwargs):
        # AmpOptimWrapper.__init__ asserts a GPU/NPU/MLU/MUSA device; the
        # plain wrapper's constructor does the rest of its job.
        OptimWrapper.__init__(self, optimizer, **kwargs)
        self.cast_dtype = resolve_amp_dtype(dtype)
        if self.cast_dtype is None:
            raise ValueError('MixedPrecisionOptimWrapper needs a dtype; use '
                             'OptimWrapper for float32 training.')
        fp16 = self.cast_dtype == torch.float16
        self._scale_update_param = None
        if not fp16 or loss_scale == 'dynamic':
            scaler_kwargs = {}
        elif isinstance(loss_scale, float):
            scaler_kwargs = dict(init_scale=loss_scale)
            self._scale_update_param = loss_scale
        elif isinstance(loss_scale, dict):
            scaler_kwargs = dict(loss_scale)
        else:
            raise TypeError('loss_scale must be "dynamic", a float or a '
                            f'dict, got {loss_scale!r}.')
        self.loss_scaler = torch.amp.GradScaler(
            'cuda', enabled=fp16, **scaler_kwargs)

    @contextmanager
    def optim_context(self, model: nn.Module):
        # OptimWrapper's context (gradient accumulation), then autocast on
        # the model's device instead of mmengine's guess.
        with OptimWrapper.optim_context(self, model), autocast_context(
                model, self.cast_dtype):
            yield


def mixed_precision_cfg(optim_wrapper: dict, dtype: str = 'bfloat16') -> dict:
    """The mixed-precision form of an ``optim_wrapper`` config (a copy).

    A plain ``OptimWrapper`` becomes :class:`MixedPrecisionOptimWrapper`
    (fp16 gets dynamic loss scaling); ``SAMOptimWrapper`` keeps SAM with
    ``dtype`` (bfloat16 only); a mixed-precision wrapper keeps its own
    dtype if it sets one. Any other type is refused rather than silently
    replaced (``tools/train.py --amp`` and the benchmark use this).

    Raises:
        ValueError: A combination that cannot be converted (message says
            what to do).
    """
    wrapper = type(optim_wrapper)(optim_wrapper)
    kind = wrapper.get('type', 'OptimWrapper')
    if kind in ('OptimWrapper', 'mmengine.OptimWrapper'):
        wrapper['type'] = 'MixedPrecisionOptimWrapper'
        wrapper['dtype'] = dtype
        if dtype == 'float16':
            wrapper.setdefault('loss_scale', 'dynamic')
    elif kind == 'SAMOptimWrapper':
        if dtype != 'bfloat16':
            raise ValueError(
                f'{dtype} cannot be combined with SAMOptimWrapper (no loss '
                'scaling across both SAM passes); use bfloat16.')
        wrapper['dtype'] = dtype
    elif kind in ('MixedPrecisionOptimWrapper', 'AmpOptimWrapper'):
        wrapper.setdefault('dtype', dtype)
    else:
        raise ValueError(f'optim_wrapper type {kind!r} has no known mixed-'
                         'precision form; set its dtype in the config '
                         'instead.')
    return wrapper


def full_precision_cfg(optim_wrapper: dict) -> dict:
    """The float32 form of an ``optim_wrapper`` config (a copy): the inverse
    of :func:`mixed_precision_cfg`, for comparing a bf16 config with fp32
    (``benchmark.py``'s fp32 rows).

    ``MixedPrecisionOptimWrapper`` / ``AmpOptimWrapper`` become a plain
    ``OptimWrapper`` (their dtype and loss-scaling keys dropped);
    ``SAMOptimWrapper`` keeps SAM without autocast; anything else is
    returned as it is.
    """
    wrapper = type(optim_wrapper)(optim_wrapper)
    kind = wrapper.get('type', 'OptimWrapper')
    if kind in ('MixedPrecisionOptimWrapper', 'AmpOptimWrapper',
                'mmengine.AmpOptimWrapper'):
        wrapper['type'] = 'OptimWrapper'
        for key in ('dtype', 'loss_scale', 'use_fsdp'):
            wrapper.pop(key, None)
    elif kind == 'SAMOptimWrapper':
        wrapper.pop('dtype', None)
    return wrapper
