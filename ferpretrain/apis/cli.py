"""The command line the demos (``tools/demo/``) share: the model, where it
runs, how faces are found; and the one function that builds the
:class:`~ferpretrain.apis.FERInferencer` from it."""
import argparse
import os
from typing import Optional, Sequence

from mmengine.config import DictAction

from ferpretrain.utils.face_alignment import add_detection_arguments
from ferpretrain.utils.face_tracking import DEFAULT_FULL_SCAN_INTERVAL
from .inferencer import DTYPES, FERInferencer
from .model import DEFAULT_MODEL

__all__ = [
    'UNTRAINED', 'add_inferencer_arguments', 'check_inferencer_args',
    'demo_parser', 'inferencer_from_args', 'parse_demo_args', 'plural',
    'stage_summary'
]

#: What CHECKPOINT takes for "the config's random initialisation".
UNTRAINED = 'none'


def add_inferencer_arguments(parser: argparse.ArgumentParser,
                             detect_flag: bool = True,
                             video: bool = False) -> None:
    """Add ``CONFIG [CHECKPOINT]`` and the options of the inferencer:
    ``--device``, ``--batch-size``, ``--dtype``, ``--detector``,
    ``--upsample``, ``--predictor``, ``--tta``, ``--neutral``,
    ``--trust-checkpoint``, ``--cfg-options``, ``--debug`` (and
    ``--no-detect`` unless ``detect_flag`` is False,
    ``--full-scan-interval`` if ``video``)."""
    parser.add_argument(
        'config',
        nargs='?',
        default=DEFAULT_MODEL,
        help='the model\'s config (configs/*/*.py); a model name '
        '(ferpretrain.list_models(): its published weights unless '
        'CHECKPOINT is given); or an .onnx file (then CHECKPOINT is left '
        'out and onnxruntime runs it). Default: the model that ships with '
        f'ferpretrain, {DEFAULT_MODEL} (FER2013)')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        help='its checkpoint (converted or trained); "none" for the '
        'config\'s random initialisation (for trying the tool only)')
    parser.add_argument(
        '--device', default='cpu', help='cpu (default), cuda, cuda:1 ...')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=8,
        help='faces classified together (default: 8)')
    parser.add_argument(
        '--dtype',
        choices=DTYPES,
        default='fp32',
        help='fp32 (default) or bf16 (bfloat16 autocast)')
    if detect_flag:
        parser.add_argument(
            '--no-detect',
            action='store_true',
            help='the images are aligned face crops already (one face '
            'each): classify them as they are')
    add_detection_arguments(parser)
    if video:
        parser.add_argument(
            '--full-scan-interval',
            type=int,
            default=DEFAULT_FULL_SCAN_INTERVAL,
            metavar='N',
            help='scan the whole frame for faces every N frames (and when a '
            'face is lost), only around the known faces in between: '
            'faster, but a new face shows up to N frames late; 1 scans '
            f'every frame (default: {DEFAULT_FULL_SCAN_INTERVAL})')
    parser.add_argument(
        '--tta',
        action='store_true',
        help='test-time flip: average the scores of each face and its '
        'mirror image (twice the classification time)')
    parser.add_argument(
        '--neutral',
        metavar='IMAGE',
        help='pair models (Difference of Embeddings): a neutral photo of '
        'the person; without it each face is its own reference (less '
        'accurate)')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='load a CHECKPOINT that carries Python objects besides '
        'tensors (this runs code stored in the file; only for files you '
        'trust)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value (as tools/test.py)')
    parser.add_argument(
        '--debug',
        action='store_true',
        help='show the traceback of errors in the input, which are '
        'otherwise printed as one message')


def check_inferencer_args(parser: argparse.ArgumentParser,
                          args: argparse.Namespace) -> None:
    """Stop with a usage error for a missing CHECKPOINT or bad numbers."""
    onnx = args.config.lower().endswith('.onnx')
    if onnx and args.checkpoint:
        parser.error('an .onnx model holds its weights: leave CHECKPOINT '
                     'out')
    if not onnx and not is_model_name(args.config) and not args.checkpoint:
        parser.error(f'CHECKPOINT is required with a config (or '
                     f'"{UNTRAINED}" for random weights)')
    if args.batch_size < 1:
        parser.error('--batch-size must be >= 1')
    if args.upsample < 0:
        parser.error('--upsample must be >= 0')
    if getattr(args, 'full_scan_interval', 1) < 1:
        parser.error('--full-scan-interval must be >= 1')


def is_model_name(text: str) -> bool:
    """Whether CONFIG names a model (``list_models()``) rather than a
    config or ONNX file."""
    return not (text.lower().endswith(('.py', '.onnx')) or os.sep in text
                or os.path.isfile(text))


def inferencer_from_args(args: argparse.Namespace,
                         **overrides) -> FERInferencer:
    """The inferencer the options of :func:`add_inferencer_arguments`
    describe; ``overrides`` are passed on as they are."""
    onnx = args.config.lower().endswith('.onnx')
    checkpoint: Optional[str] = args.checkpoint
    model = args.config
    if checkpoint is not None and checkpoint.lower() == UNTRAINED:
        checkpoint = None
        if is_model_name(model):
            # "none" means random weights: build the name's config, not
            # the name (which would load its published weights).
            from .model import _resolve_name
            model = _resolve_name(model).config
    options = dict(
        checkpoint=checkpoint,
        device=args.device,
        batch_size=args.batch_size,
        dtype=args.dtype,
        tta=args.tta,
        backend='onnxruntime' if onnx else 'pytorch',
        detect=not getattr(args, 'no_detect', False),
        detector=args.detector,
        upsample=args.upsample,
        predictor_path=args.predictor,
        full_scan_interval=getattr(args, 'full_scan_interval',
                                   DEFAULT_FULL_SCAN_INTERVAL),
        cfg_options=args.cfg_options,
        trust_checkpoint=True if args.trust_checkpoint else None)
    if onnx:
        for key in ('checkpoint', 'cfg_options', 'trust_checkpoint'):
            options.pop(key)
    options.update(overrides)
    return FERInferencer(model, **options)


def plural(count: int, word: str) -> str:
    """``'1 face'``, ``'3 faces'``."""
    return f'{count} {word}' + ('' if count == 1 else 's')


def stage_summary(timings: dict, per: str = 'image') -> str:
    """``'per image: decode 3.1 ms, detect 24.0 ms, ...'`` from an
    inferencer's :attr:`~ferpretrain.apis.FERInferencer.timings`."""
    count = max(1, timings.get('inputs', 0))
    parts = [
        f'{stage} {timings[stage] / count * 1000:.1f} ms'
        for stage in ('decode', 'detect', 'align', 'classify')
    ]
    return f'time per {per}: ' + ', '.join(parts) + (
        f' (total {timings["total"] / count * 1000:.1f} ms)')


def demo_parser(description: str) -> argparse.ArgumentParser:
    """A parser whose ``--help`` shows the tool's docstring as written."""
    return argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter)


def parse_demo_args(parser: argparse.ArgumentParser,
                    argv: Optional[Sequence[str]] = None
                    ) -> argparse.Namespace:
    """Parse and check (:func:`check_inferencer_args`)."""
    args = parser.parse_args(argv)
    check_inferencer_args(parser, args)
    return args
