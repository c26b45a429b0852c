"""Export a model to ONNX, with the preprocessing it expects as metadata.

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT \
        --out FILE.onnx [--verify] [--opset N] [--classes A,B,...] \
        [--num-faces N] [--tolerance T] [--trust-checkpoint] \
        [--cfg-options KEY=VALUE ...] [--debug]

The graph maps normalised faces ``(batch, 3, H, W)`` (``(batch, 2, 3, H,
W)``, neutral face first, for the Difference-of-Embeddings models) to
class logits; the batch axis is dynamic. The class names, input size,
resize, channel order and mean/std of the config's test pipeline and data
preprocessor are written into the file's metadata, so that
``ferpretrain.apis.onnx_backend.ONNXFERModel`` prepares faces exactly as
the config does, with onnxruntime and without PyTorch. CHECKPOINT must hold
every tensor of the config's model (the pretrained files the config names
for training are not needed).

``--verify`` runs onnxruntime on synthetic faces of several sizes (all in
one batch) and compares it with PyTorch through the config's own test
pipeline: it prints the largest logit and probability differences and
whether the predicted classes agree, and exits with status 1 if the
probabilities differ by more than ``--tolerance`` or a class differs
(other than a near tie).

Needs the optional deployment packages: ``pip install -e ".[deploy]"``.
Errors in the user's input print one message (``--debug``: the traceback).
"""
import argparse
import os.path as osp
import sys

# Allow running from a source checkout without installing ferpretrain. An
# installed copy, earlier on sys.path, still wins.
_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

from mmengine.config import DictAction  # noqa: E402

from ferpretrain.utils.errors import run_tool  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Export a model to ONNX with its preprocessing as '
        'metadata')
    parser.add_argument('config', help='the model\'s config file')
    parser.add_argument('checkpoint', help='its checkpoint')
    parser.add_argument(
        '--out', required=True, help='the ONNX file to write')
    parser.add_argument(
        '--verify',
        action='store_true',
        help='compare onnxruntime with PyTorch on synthetic faces; exit 1 '
        'if they disagree')
    parser.add_argument(
        '--opset', type=int, default=17, help='ONNX opset (default: 17)')
    parser.add_argument(
        '--classes',
        help='class names in head order, comma-separated (default: the '
        "checkpoint's meta.dataset_meta.classes, else the config's test "
        'dataset)')
    parser.add_argument(
        '--num-faces',
        type=int,
        default=8,
        help='faces (or pairs) --verify runs, in one batch (default: 8)')
    parser.add_argument(
        '--tolerance',
        type=float,
        default=1e-4,
        help='largest probability difference --verify accepts (default: '
        '1e-4)')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='load CHECKPOINT with weights_only=False. This runs any code '
        'stored in the file; only for files you trust')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value')
    parser.add_argument(
        '--debug',
        action='store_true',
        help='show the traceback of errors in the input')
    args = parser.parse_args(argv)
    if args.num_faces < 1:
        parser.error('--num-faces must be at least 1.')
    if args.classes is not None:
        args.classes = [c.strip() for c in args.classes.split(',')
                        if c.strip()]
    return args


def _megabytes(path: str) -> float:
    return osp.getsize(path) / 2**20


def main(argv=None) -> int:
    args = parse_args(argv)
    from ferpretrain.apis.onnx_export import require_deploy
    # Before the slow part: a missing package is one line, not a traceback
    # after the export.
    require_deploy('onnx', *(['onnxruntime'] if args.verify else []))
    from ferpretrain.apis.onnx_export import (demo_faces, export_onnx,
                                              verify_onnx)
    from ferpretrain.utils import register_all_modules
    register_all_modules(init_default_scope=False)

    result = export_onnx(
        args.config,
        args.checkpoint,
        args.out,
        opset=args.opset,
        cfg_options=args.cfg_options,
        classes=args.classes,
        trust_checkpoint=True if args.trust_checkpoint else None)
    info = result.info
    print(f'Exported {info.config} ({args.checkpoint}) to {args.out}: '
          f'{_megabytes(args.out):.1f} MB, {result.seconds:.1f} s, opset '
          f'{info.opset}.')
    print(f'  model   {info.model_name}: {len(info.classes)} classes '
          f'({", ".join(info.classes)})')
    shape = ', '.join(str(d) for d in info.input_shape)
    print(f'  input   ({shape}) float32, {info.channel_order.upper()}; '
          f'faces resized to {info.input_size[1]}x{info.input_size[0]} '
          f'({info.interpolation}), mean {list(info.mean)}, std '
          f'{list(info.std)}')
    for note in info.notes:
        print(f'  note    {note}')
    if not args.verify:
        return 0
    faces = demo_faces(args.num_faces, pairs=info.faces_per_input == 2)
    check = verify_onnx(result.model, result.cfg, args.out, faces,
                        args.tolerance)
    print(f'Verify (onnxruntime vs PyTorch): {check.summary()}: '
          f'{"OK" if check.ok else "FAILED"}.')
    if not check.ok:
        print(f'ERROR: {args.out} does not reproduce the PyTorch model '
              '(see above); do not deploy it.', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
