# Copyright (c) ferpretrain contributors. Licensed under Apache-2.0.
"""Turn a training checkpoint into the file to share or ship: weights and
class names only.

Usage::

    python tools/model_converters/publish_model.py IN.pth OUT.pth \\
        --config CONFIG [--cfg-options K=V ...] [--overwrite] [--debug]

``tools/train.py`` saves the weights with the optimizer's state, the
message hub, the data loader's random state and, with an ``EMAHook``, both
the averaged and the raw weights (``state_dict`` holds the average, the
one validated; ``ema_state_dict`` the average's own copy). The published
file keeps ``state_dict`` (the weights the run validated) and a ``meta``
of the class names (``dataset_meta``), the config, the epoch and the
source file's name: about a third of the size, and readable with
``weights_only=True`` (no trust needed).

The weights are loaded into ``CONFIG``'s model **strictly** before
anything is written (:func:`~ferpretrain.utils.load_check.load_strictly`),
and the class names must be as many as the head's outputs. The output's
name may hold ``{sha}``, replaced by the first 8 hex digits of the file's
SHA-256 (mmpretrain's convention for published weights).

Exit status: 0 on success; 1 on an error in the input (one message,
``--debug`` for the traceback); 2 on invalid arguments.
"""
import argparse
import hashlib
import os
import os.path as osp
import sys

_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

from mmengine.config import DictAction  # noqa: E402

from ferpretrain.utils.errors import (CheckpointError,  # noqa: E402
                                      ConfigError, run_tool)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='a checkpoint tools/train.py saved')
    parser.add_argument(
        'dst', help='the file to write ({sha}: the first 8 hex digits of '
        'its SHA-256)')
    parser.add_argument(
        '--config', required=True,
        help='the config the run trained (the weights are checked against '
        'its model)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='overrides of the config, as for tools/train.py')
    parser.add_argument('--overwrite', action='store_true')
    parser.add_argument('--debug', action='store_true',
                        help='show the traceback of errors in the input')
    return parser.parse_args(argv)


def published_checkpoint(loaded: dict, config: str, src: str) -> dict:
    """``{'state_dict', 'meta'}`` of a training checkpoint: the validated
    weights, the class names, the config, the epoch and the source."""
    if not isinstance(loaded, dict) or not isinstance(
            loaded.get('state_dict'), dict):
        raise CheckpointError(f'{src}: no state_dict; expected a checkpoint '
                              'that tools/train.py saved')
    meta = loaded.get('meta') if isinstance(loaded.get('meta'), dict) else {}
    classes = (meta.get('dataset_meta') or {}).get('classes')
    if not classes:
        raise CheckpointError(
            f'{src}: meta.dataset_meta.classes is missing, so the published '
            'file could not say what its outputs mean; publish a checkpoint '
            'that tools/train.py saved from a dataset with class names')
    published_meta = dict(
        dataset_meta=dict(classes=list(classes)),
        config=config,
        published_from=osp.basename(src))
    for key in ('epoch', 'iter', 'seed', 'mmengine_version'):
        if key in meta:
            published_meta[key] = meta[key]
    return dict(state_dict=dict(loaded['state_dict']), meta=published_meta)


def main(argv=None):
    args = parse_args(argv)
    from ferpretrain.utils.checkpoint import load_checkpoint_file
    from ferpretrain.utils.conversion import (build_config_model,
                                              check_destination,
                                              save_converted_checkpoint)
    from ferpretrain.utils.load_check import load_strictly
    from ferpretrain.utils.setup_env import register_all_modules
    register_all_modules()
    loaded = load_checkpoint_file(args.src, map_location='cpu')
    published = published_checkpoint(loaded, args.config, args.src)
    model = build_config_model(args.config, args.cfg_options)
    load_strictly(model, published, f'the model of {args.config}',
                  name=args.src, action='written')
    head = getattr(getattr(model, 'head', None), 'num_classes', None)
    classes = published['meta']['dataset_meta']['classes']
    if head is not None and head != len(classes):
        raise ConfigError(f'{args.src}: {len(classes)} class names for a '
                          f'head of {head} outputs')

    tmp = args.dst.replace('{sha}', 'unsigned') + '.tmp'
    save_converted_checkpoint(tmp, published['state_dict'],
                              published['meta'])
    with open(tmp, 'rb') as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    dst = args.dst.replace('{sha}', sha[:8])
    try:
        check_destination(dst, args.overwrite)
    except Exception:
        os.remove(tmp)
        raise
    os.replace(tmp, dst)
    size = osp.getsize(dst) / 2**20
    print(f'Published {args.src} -> {dst}: {size:.2f} MB '
          f'({osp.getsize(args.src) / 2**20:.2f} MB before), sha256 '
          f'{sha}; {len(published["state_dict"])} tensors, checked '
          f'strictly against {args.config}; classes: {", ".join(classes)}')
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
