"""Sharpness-aware minimisation (SAM) as an mmengine optimizer wrapper.

SAM (Foret, Kleiner, Mobahi, Neyshabur, "Sharpness-Aware Minimization for
Efficiently Improving Generalization", ICLR 2021, arXiv 2010.01412) minimises
the loss at the worst point of a small L2 ball around the weights. Each
iteration takes two forward-backward passes on the same mini-batch:

1. ``g = grad L(w)`` and the ascent step
   ``e(w) = rho * g / ||g||_2`` (one global norm over every parameter that
   has a gradient);
2. ``g_sam = grad L(w + e(w))``; restore ``w``; the base optimizer steps
   with ``g_sam``.

ASAM (Kwon, Kim, Park, Choi, "ASAM: Adaptive Sharpness-Aware Minimization
for Scale-Invariant Learning of Deep Neural Networks", ICML 2021,
arXiv 2102.11600) measures the ball in the scale-invariant metric
``T_w = |w|``: ``e(w) = rho * T_w^2 g / ||T_w g||_2``. ``adaptive=True``
selects it, with the element-wise ``T_w = |w|`` (no ``eta`` offset), as the
SAM file that POSTER (zczcwh/POSTER) and POSTER V2 (Talented-Q/POSTER_V2)
ship in ``data_preprocessing/sam.py``.

POSTER and POSTER V2 train with ``SAM(Adam, rho=0.05, adaptive=False)``
(lr 4e-5 and 3.5e-5 respectively, ``ExponentialLR(gamma=0.98)`` per epoch;
see ``docs/reference/paper-facts.md``).
"""
from contextlib import ExitStack, contextmanager
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper
from torch.optim import Optimizer

from ferpretrain.registry import OPTIM_WRAPPERS
from .amp import autocast_context, resolve_amp_dtype

__all__ = ['SAMOptimWrapper', 'sam_perturbation']


@torch.no_grad()
def sam_perturbation(
        params: List[torch.Tensor],
        rho: float,
        adaptive: bool = False,
        eps: float = 1e-12) -> Tuple[List[torch.Tensor], torch.Tensor]:
    """The SAM/ASAM ascent step ``e(w)`` for parameters with gradients.

    SAM (Foret et al. 2021, Eq. 2): ``e(w) = rho * g / ||g||_2``.
    ASAM (Kwon et al. 2021, with ``T_w = |w|``):
    ``e(w) = rho * w^2 * g / ||w * g||_2``.

    The norm is one global L2 norm over all ``params`` (the norm of the
    per-tensor norms), as in the paper and the POSTER code; ``eps`` (1e-12,
    the POSTER code's value) keeps a zero gradient from dividing by zero.

    Args:
        params (list[Tensor]): Parameters whose ``.grad`` is set.
        rho (float): Radius of the neighbourhood.
        adaptive (bool): ASAM instead of SAM. Defaults to False.
        eps (float): Added to the norm. Defaults to 1e-12.

    Returns:
        tuple[list[Tensor], Tensor]: ``e(w)`` for each parameter, in the
        order given, and the norm (``||g||``, or ``||w * g||`` for ASAM).
    """
    scaled = [(p.abs() * p.grad) if adaptive else p.grad for p in params]
    # Per-tensor norms are stacked on one device so that a model split over
    # devices still gets one global norm.
    device = params[0].device
    grad_norm = torch.norm(
        torch.stack([s.norm(p=2).to(device) for s in scaled]), p=2)
    scale = rho / (grad_norm + eps)
    e_ws = [(p.abs() * s if adaptive else s) * scale.to(p.device)
            for p, s in zip(params, scaled)]
    return e_ws, grad_norm


@OPTIM_WRAPPERS.register_module()
class SAMOptimWrapper(OptimWrapper):
    """Optimizer wrapper that updates with SAM or ASAM around any optimizer.

    See the module docstring for the papers. The base optimizer (``Adam`` in
    POSTER/POSTER V2) is the wrapper's ``optimizer``, so that param
    schedulers, ``get_lr()``, ``state_dict()`` and resuming act on it
    unchanged; SAM itself keeps no state between iterations.

    **Config.** Nothing but the optimizer wrapper changes; a plain
    mmpretrain ``ImageClassifier`` (or any mmengine ``BaseModel`` whose
    ``train_step`` is mmengine's) needs no subclass and no hook::

        custom_imports = dict(imports=['ferpretrain.plugin'],
                              allow_failed_imports=False)
        optim_wrapper = dict(
            type='SAMOptimWrapper', rho=0.05, adaptive=False,
            optimizer=dict(type='Adam', lr=3.5e-5))
        param_scheduler = dict(type='ExponentialLR', gamma=0.98,
                               by_epoch=True)

    **How the second pass gets its loss.** mmengine's
    ``BaseModel.train_step(data, optim_wrapper)`` computes the loss once,
    inside ``with optim_wrapper.optim_context(model):``, and then calls
    ``optim_wrapper.update_params(loss)``. This wrapper's
    :meth:`optim_context` receives that model and records the output of
    ``model.data_preprocessor`` (a forward hook that lives only while the
    context is open). :meth:`update_params` then recomputes the loss at
    ``w + e(w)`` with ``model._run_forward(captured, mode='loss')`` and
    ``parse_losses``, which is exactly what ``train_step`` ran. Recording the
    preprocessed batch, rather than preprocessing the raw batch again,
    keeps both passes on the *same* inputs even when the preprocessor is
    random (Mixup/CutMix ``batch_augments``), and costs no second
    preprocessing. A custom ``train_step`` may instead pass
    ``update_params(loss, closure=fn)``, where ``fn()`` returns the loss of
    the same batch at the current weights. With neither, ``update_params``
    raises an error that says what is missing; SAM never silently falls
    back to a plain step.

    **Choices.**

    - *Ascent step:* :func:`sam_perturbation`, one global norm over all
      parameters that have a gradient (frozen ones have none and are not
      perturbed). The weights at ``w`` are copied, not recovered by
      subtracting ``e(w)``, so the restore is exact; they are restored in a
      ``finally`` so that an error in the second pass never leaves the model
      perturbed.
    - *Which gradient steps:* only the second one, after gradient clipping
      (``clip_grad``) if configured. ``e(w)`` uses the unclipped first
      gradient (clipping by norm rescales it uniformly, which the
      normalisation removes anyway).
    - *Counting:* the iteration is counted once (``backward`` of the first
      pass increments ``_inner_count``); the second ``loss.backward()`` is
      called directly so that mmengine's iteration counter does not move
      twice.
    - *Randomness and BatchNorm:* as in the POSTER code, the second forward
      runs in train mode: dropout/drop-path draw new masks, and BatchNorm
      running statistics are updated twice per iteration.
    - *Logging:* the loss at ``w`` is what ``train_step`` logs (``loss``);
      the loss at ``w + e(w)`` and ``||g||`` (``||w g||`` for ASAM) are
      logged as ``sam_loss_perturbed`` and ``sam_grad_norm``.
    - *Gradient accumulation* (``accumulative_counts > 1``) is refused: the
      ascent step needs the full gradient of the batch before the second
      pass, so every accumulated micro-batch would have to be kept and run
      again. Raise the batch size instead.
    - *Mixed precision* is not supported (this is an fp32 ``OptimWrapper``;
      an ``AmpOptimWrapper`` would have to unscale the first gradient before
      ``e(w)``).
    - *DDP:* ``train_step`` of ``MMDistributedDataParallel`` opens
      :meth:`optim_context` with the DDP wrapper, and the second forward
      runs through that wrapper, so DDP's backward all-reduces the second
      gradients: every rank steps with the same gradient and parameters stay
      in sync. With ``sync_first_pass=True`` (default) the first backward is
      all-reduced too, so ``||g||`` and ``e(w)`` come from the global batch
      and training equals single-process SAM on the global batch (as in
      POSTER, which used one process with ``DataParallel``), for one extra
      all-reduce per iteration. ``sync_first_pass=False`` runs the first
      forward under ``no_sync``: each rank perturbs with its local gradient
      and local norm, i.e. the paper's m-sharpness with ``m`` = the per-GPU
      batch (Foret et al. Sec. 4.1), which saves that all-reduce.

    Args:
        optimizer (Optimizer): The base optimizer (built by mmengine's
            optimizer wrapper constructor from ``optimizer=dict(...)``).
        rho (float): Neighbourhood radius. Defaults to 0.05 (POSTER).
        adaptive (bool): Use ASAM. Defaults to False (POSTER).
        sync_first_pass (bool): Under DDP, all-reduce the first-pass
            gradients so that ``e(w)`` uses the global batch. Defaults to
            True. Ignored without DDP.
        accumulative_counts (int): Must be 1 (see above).
        clip_grad (dict, optional): As in ``OptimWrapper``; applied to the
            second-pass gradients only.
        dtype (str, optional): ``'bfloat16'`` runs both forward passes
            under bf16 autocast on the model's device (CPU or GPU; what
            ``tools/train.py --amp`` sets). ``None`` (default) is float32.
            float16 is refused: its loss scaling would have to span the two
            passes and the perturbation, which bf16 does not need.
    """

    def __init__(self,
                 optimizer: Optimizer,
                 rho: float = 0.05,
                 adaptive: bool = False,
                 sync_first_pass: bool = True,
                 accumulative_counts: int = 1,
                 clip_grad: Optional[dict] = None,
                 dtype: Optional[str] = None):
        if accumulative_counts != 1:
            raise ValueError(
                'SAMOptimWrapper does not support gradient accumulation '
                f'(got accumulative_counts={accumulative_counts}): SAM needs '
                'the whole batch gradient before its second pass. Remove '
                '`accumulative_counts` from `optim_wrapper` and raise the '
                'batch size instead.')
        if rho < 0:
            raise ValueError(f'rho must be non-negative, got {rho}.')
        super().__init__(optimizer, accumulative_counts=1, clip_grad=clip_grad)
        self.cast_dtype = resolve_amp_dtype(dtype)
        if self.cast_dtype == torch.float16:
            raise ValueError(
                "SAMOptimWrapper supports dtype='bfloat16' mixed precision "
                'only (float16 needs loss scaling across both SAM passes).')
        self.rho = float(rho)
        self.adaptive = bool(adaptive)
        self.sync_first_pass = bool(sync_first_pass)
        self._model: Optional[nn.Module] = None
        self._captured = None
        self._in_update = False

    def _capture_batch(self, module: nn.Module, args, output) -> None:
        """Forward hook on the data preprocessor: keep its output."""
        self._captured = output

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Record the model and its preprocessed batch for the second pass.

        Under DDP with ``sync_first_pass=False`` the first forward also runs
        under ``model.no_sync()`` (see the class docstring).
        """
        self._model, self._captured = model, None
        module = model.module if is_model_wrapper(model) else model
        preprocessor = getattr(module, 'data_preprocessor', None)
        with ExitStack() as stack:
            if isinstance(preprocessor, nn.Module):
                handle = preprocessor.register_forward_hook(
                    self._capture_batch)
                stack.callback(handle.remove)
            if not self.sync_first_pass and hasattr(model, 'no_sync'):
                stack.enter_context(model.no_sync())
            stack.enter_context(super().optim_context(model))
            stack.enter_context(autocast_context(model, self.cast_dtype))
            yield

    def _closure_from_capture(self) -> Optional[Callable[[], torch.Tensor]]:
        """The loss of the recorded batch at the current weights, if any."""
        model, data = self._model, self._captured
        if data is None or not hasattr(model, '_run_forward'):
            return None
        module = model.module if is_model_wrapper(model) else model

        def closure() -> torch.Tensor:
            # Through the (DDP) wrapper, not the bare module: DDP only
            # all-reduces the gradients of a forward it ran itself.
            with autocast_context(model, self.cast_dtype):
                losses = model._run_forward(data, mode='loss')
            loss, _ = module.parse_losses(losses)
            return loss

        return closure

    @torch.no_grad()
    def _perturb(self) -> tuple:
        """Move ``w -> w + e(w)``; return the saved weights and ``||g||``."""
        params = [
            p for group in self.optimizer.param_groups for p in group['params']
            if p.grad is not None
        ]
        if not params:
            raise RuntimeError(
                'SAMOptimWrapper: no parameter received a gradient in the '
                'first pass.')
        saved = [p.detach().clone() for p in params]
        e_ws, grad_norm = sam_perturbation(params, self.rho, self.adaptive)
        for p, e_w in zip(params, e_ws):
            p.add_(e_w)
        return list(zip(params, saved)), grad_norm

    @staticmethod
    @torch.no_grad()
    def _restore(saved: list) -> None:
        for p, w in saved:
            p.copy_(w)

    def update_params(  # type: ignore[override]
            self,
            loss: torch.Tensor,
            step_kwargs: Optional[Dict] = None,
            zero_kwargs: Optional[Dict] = None,
            closure: Optional[Callable[[], torch.Tensor]] = None) -> None:
        """One SAM update: two passes, one base-optimizer step.

        Args:
            loss (Tensor): The loss at ``w`` (from ``train_step``).
            step_kwargs (dict, optional): Passed to ``optimizer.step``.
            zero_kwargs (dict, optional): Passed to ``optimizer.zero_grad``.
            closure (callable, optional): Returns the loss of the same batch
                at the current weights; defaults to the batch recorded by
                :meth:`optim_context`.
        """
        step_kwargs = step_kwargs or {}
        zero_kwargs = zero_kwargs or {}
        closure = closure or self._closure_from_capture()
        # Drop the references now so that a failed iteration never reuses
        # the batch of an earlier one.
        self._captured = self._model = None
        if closure is None:
            raise RuntimeError(
                'SAMOptimWrapper needs to recompute the loss at the '
                'perturbed weights, but it has no batch: compute the loss '
                'inside `with optim_wrapper.optim_context(model):` through '
                '`model.data_preprocessor(data, True)` and a model with '
                '`_run_forward`/`parse_losses` (mmengine BaseModel.train_step '
                'does all of this, so a plain mmpretrain ImageClassifier '
                'needs nothing more), or pass '
                '`update_params(loss, closure=fn)` from a custom train_step, '
                'where fn() returns the loss of the same batch.')

        self.backward(loss)  # counts the iteration
        saved, grad_norm = self._perturb()
        try:
            self.zero_grad(**zero_kwargs)
            perturbed_loss = closure()
            # Not self.backward(): the iteration is already counted.
            perturbed_loss.backward()
        finally:
            self._restore(saved)
        self._in_update = True
        try:
            self.step(**step_kwargs)
        finally:
            self._in_update = False
        self.zero_grad(**zero_kwargs)
        self.message_hub.update_scalar('train/sam_loss_perturbed',
                                       float(perturbed_loss.detach()))
        self.message_hub.update_scalar('train/sam_grad_norm', float(grad_norm))

    def step(self, **kwargs) -> None:
        """Base-optimizer step; only :meth:`update_params` may call it.

        A direct ``optim_wrapper.step()`` (e.g. a custom ``train_step`` that
        calls ``backward`` and ``step`` itself) would be a plain, non-SAM
        step, so it raises instead.
        """
        if not self._in_update:
            raise RuntimeError(
                'SAMOptimWrapper.step() was called directly; a SAM update '
                'needs two passes, so call '
                '`optim_wrapper.update_params(loss)` (optionally with '
                '`closure=`) instead of backward()/step().')
        super().step(**kwargs)
