"""Parameter and FLOP counting of whole models (backbone, neck and head).

mmpretrain's ``get_flops.py`` counts only ``extract_feat``; FER papers quote
the whole network, so this counts ``model(inputs, mode='tensor')``.

Conventions (papers differ; say which one a number uses):

- ``gmac``: fvcore-style multiply-accumulates from ``mmengine.analysis``
  (convolutions, linear layers, the attention matrix products, norms;
  ``F.scaled_dot_product_attention`` counts as its two products, so fused
  and explicit attention give the same figure). This is the convention of
  the TransFER / APViT figures (15.30 / 12.67 GMAC).
- ``convention='thop'``: the ``thop.profile`` count of the original
  ``thop`` package (0.1.1; ``ultralytics-thop`` 2.x counts more ops):
  multiply-accumulates of modules (convolutions, linear layers, norms)
  only, so the attention matrix products ``q @ k`` and ``attn @ v`` are
  *not* counted. POSTER V2 quotes its 8.4 G in this convention
  (``compute_param_flop`` of the official code calls thop); TransFER and
  APViT come to 14.84 and 12.40 G in it.
- ``params``: every parameter of the built model, in both conventions.
  ferpretrain never builds modules that do not run, so nothing idle is
  counted. thop's own parameter count differs: it counts every module the
  model holds (idle ones included) and skips bare ``nn.Parameter`` s (CLS
  tokens, position embeddings), which is why POSTER V2's 43.72 M reads
  43.75 M here.
"""
from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape
from mmengine.logging import MMLogger


class _TensorMode(nn.Module):
    """Runs a classifier end to end (``mode='tensor'``) for tracing."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, inputs):
        return self.model(inputs, mode='tensor')


@dataclass
class ModelComplexity:
    params: int
    macs: int
    input_shape: Tuple[int, ...]
    unsupported_ops: Dict[str, int] = field(default_factory=dict)
    convention: str = 'fvcore'
    faces_per_input: int = 1

    @property
    def params_m(self) -> float:
        return self.params / 1e6

    @property
    def gmac(self) -> float:
        return self.macs / 1e9

    def __str__(self) -> str:
        faces = (f' x {self.faces_per_input} faces (one sample)'
                 if self.faces_per_input > 1 else '')
        return (f'input shape: {tuple(self.input_shape)}{faces}\n'
                f'parameters: {_fmt(self.params_m)} M\n'
                f'MACs: {_fmt(self.gmac)} G ({self.convention}-style, '
                f'whole model; '
                f'FLOPs = 2 x MACs = {_fmt(2 * self.gmac)} G)')


def _fmt(value: float) -> str:
    # Two decimals for paper-sized figures, three significant digits below 1
    # so that reduced models do not print as 0.00.
    return f'{value:.2f}' if value >= 1 else f'{value:.3g}'


def sdpa_flop_jit(inputs, outputs) -> int:
    """fvcore-style MACs of ``F.scaled_dot_product_attention``.

    The two matrix products an explicit attention would count (``q @ k^T``
    and ``attn @ v``): ``batch * L * S * (E + Ev)`` for queries
    ``(..., L, E)``, keys ``(..., S, E)`` and values ``(..., S, Ev)``. The
    softmax is not counted, as fvcore does not count it for the explicit
    form either, so a fused attention and its explicit form count the same.
    """
    q, k, v = (get_shape(val) for val in inputs[:3])
    batch = 1
    for dim in q[:-2]:
        batch *= dim
    return batch * q[-2] * k[-2] * (q[-1] + v[-1])


def get_model_complexity(model: nn.Module,
                         input_shape: Union[int, Sequence[int]] = 112,
                         convention: str = 'fvcore') -> ModelComplexity:
    """Count the parameters and MACs of a whole classifier.

    Args:
        model (nn.Module): An mmpretrain classifier (``forward(inputs,
            mode='tensor')``) or any module taking one image batch.
        input_shape (int | Sequence[int]): ``S`` for 3xSxS, ``(H, W)`` or
            ``(C, H, W)``; batch size 1.
        convention (str): ``'fvcore'`` (default; counts the attention
            matrix products) or ``'thop'`` (modules only), see the module
            docstring.

    A model that takes several faces a sample (``faces_per_input``, e.g.
    2 for the Difference-of-Embeddings models: a neutral face and a
    target) is counted on one such sample, ``(1, faces, C, H, W)``.
    """
    if convention not in ('fvcore', 'thop'):
        raise ValueError(f"convention must be 'fvcore' or 'thop', got "
                         f'{convention!r}.')
    if isinstance(input_shape, int):
        input_shape = (3, input_shape, input_shape)
    elif len(input_shape) == 2:
        input_shape = (3, *input_shape)
    input_shape = tuple(input_shape)
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
    except StopIteration:
        device = torch.device('cpu')
    faces = getattr(model, 'faces_per_input', 1)
    batch_shape = (1, faces) if faces > 1 else (1, )
    inputs = torch.randn(*batch_shape, *input_shape, device=device)
    wrapped = _TensorMode(model) if _takes_mode(model) else model
    # The analyzer warns about every op it does not count (activations,
    # pooling, topk ...); they are reported in `unsupported_ops` instead.
    if convention == 'thop':
        try:
            macs = _thop_macs(wrapped, inputs)
        finally:
            model.train(was_training)
        params = sum(p.numel() for p in model.parameters())
        return ModelComplexity(params, macs, input_shape, {}, 'thop', faces)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel('ERROR')
    try:
        analyzer = FlopAnalyzer(wrapped, (inputs, ))
        analyzer.set_op_handle(
            'aten::scaled_dot_product_attention', sdpa_flop_jit)
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        with torch.no_grad():
            macs = analyzer.total()
        unsupported = dict(analyzer.unsupported_ops())
    finally:
        logger.setLevel(level)
        model.train(was_training)
    params = sum(p.numel() for p in model.parameters())
    return ModelComplexity(params, macs, input_shape, unsupported,
                           faces_per_input=faces)


def _thop_macs(model: nn.Module, inputs: torch.Tensor) -> int:
    try:
        import thop
    except ImportError as e:
        raise ImportError('thop-style counting needs the thop package: '
                          'pip install thop==0.1.1.post2209072238') from e
    with torch.no_grad():
        macs, _ = thop.profile(model, inputs=(inputs, ), verbose=False)
    # thop leaves its counters as buffers on every module; remove them so
    # the model's state dict stays the model's.
    for module in model.modules():
        for name in ('total_ops', 'total_params'):
            if name in module._buffers:
                del module._buffers[name]
    return int(macs)


def _takes_mode(model: nn.Module) -> bool:
    import inspect
    try:
        return 'mode' in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def infer_input_size(cfg) -> Optional[Tuple[int, int]]:
    """The (H, W) a config's test pipeline produces, if it says.

    Looks for the last ``Resize`` / ``CenterCrop`` / ``ResizeEdge`` with a
    fixed size in ``test_dataloader.dataset.pipeline``.
    """
    try:
        pipeline = cfg.test_dataloader.dataset.pipeline
    except AttributeError:
        return None
    size = None
    for t in pipeline:
        t_type = t.get('type', '')
        if t_type in ('Resize', 'CenterCrop', 'RandomResizedCrop'):
            value = t.get('scale', t.get('crop_size'))
            if isinstance(value, int):
                size = (value, value)
            elif value is not None and len(value) == 2 and all(
                    isinstance(v, int) and v > 0 for v in value):
                # mmcv's Resize scale is (w, h).
                size = (value[1], value[0]) if t_type == 'Resize' else tuple(
                    value)
        elif t_type == 'ResizeEdge' and t.get('edge') == 'short':
            size = (t['scale'], t['scale'])
    return size
