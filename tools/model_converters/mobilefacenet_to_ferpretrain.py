"""Convert the 68-landmark MobileFaceNet weights to a ferpretrain checkpoint.

    python tools/model_converters/mobilefacenet_to_ferpretrain.py \
        mobilefacenet_model_best.pth.tar \
        checkpoints/mobilefacenet_landmark68.pth

``mobilefacenet_model_best.pth.tar`` (cunjian/pytorch_face_landmark; the file
POSTER and POSTER V2 load for their frozen landmark branch) is a training
checkpoint: a dict whose ``state_dict`` holds the network, next to training
entries such as the epoch, ``best_prec1`` or optimizer state. Only the state
dict is kept. Its keys are renamed to ferpretrain's ``MobileFaceNet``
(``module.`` stripped, ``conv_3.model.0`` -> ``conv_3.0``, ``output_layer``
-> ``landmark_head``; see
``ferpretrain.models.backbones.convert_mobilefacenet_keys``) and checked by
a strict load into the full network, so a file of another architecture is
refused instead of half-loaded.

The output is a plain ``{'state_dict': ..., 'meta': ...}`` file that loads
without ``--trust-checkpoint``, e.g. as the landmark branch's
``init_cfg=dict(type='Pretrained', checkpoint='checkpoints/...')``. With
``--without-landmark-head`` the landmark regressor, which the FER models
never run, is left out.

The source is read with ferpretrain's safe loader: a file that carries
pickled Python objects beyond tensors, containers and numbers is refused
unless ``--trust-checkpoint`` is given (that runs code stored in the file;
only for a file from a source you trust).
"""
import argparse
import os
import os.path as osp
import sys

import torch


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        'src', help='MobileFaceNet checkpoint (mobilefacenet_model_best.'
        'pth.tar)')
    parser.add_argument('dst', help='where to save the converted checkpoint')
    parser.add_argument(
        '--without-landmark-head',
        action='store_true',
        help='leave out the 136-output landmark regressor (the FER models '
        'use the feature maps only)')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='load SRC with full pickle (runs code stored in the file); only '
        'for files from a source you trust, when the safe loader refuses it')
    parser.add_argument(
        '--overwrite', action='store_true', help='replace DST if it exists')
    return parser.parse_args()


def extract_state_dict(checkpoint):
    """The network's tensors and the names of the entries left out."""
    if isinstance(checkpoint, torch.nn.Module):
        return checkpoint.state_dict(), []
    if isinstance(checkpoint, dict) and isinstance(
            checkpoint.get('state_dict'), dict):
        others = [str(k) for k in checkpoint if k != 'state_dict']
        return checkpoint['state_dict'], others
    if isinstance(checkpoint, dict) and all(
            isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return checkpoint, []
    raise ValueError(
        'expected a dict with a "state_dict" entry (or a plain state dict), '
        f'got {type(checkpoint).__name__}'
        + (f' with keys {sorted(map(str, checkpoint))[:10]}' if isinstance(
            checkpoint, dict) else ''))


def main():
    args = parse_args()
    from ferpretrain.models.backbones import (MOBILEFACENET_OUT_NAMES,
                                              MobileFaceNet,
                                              convert_mobilefacenet_keys)
    from ferpretrain.utils.checkpoint import (UntrustedCheckpointError,
                                              load_checkpoint_file)

    if osp.exists(args.dst) and not args.overwrite:
        sys.exit(f'{args.dst} exists; pass --overwrite to replace it.')
    try:
        # None (not False) still honours FERPRETRAIN_TRUSTED_CHECKPOINTS.
        checkpoint = load_checkpoint_file(
            args.src,
            map_location='cpu',
            trust=True if args.trust_checkpoint else None)
    except UntrustedCheckpointError as error:
        sys.exit(f'{error}\nFor this converter: pass --trust-checkpoint.')
    try:
        state_dict, left_out = extract_state_dict(checkpoint)
    except ValueError as error:
        sys.exit(f'{args.src}: {error}. Is this a MobileFaceNet checkpoint?')

    converted, _ = convert_mobilefacenet_keys(
        state_dict, with_landmark_head=True)
    # A strict load into the full network checks every name and shape.
    reference = MobileFaceNet(
        out_indices=range(len(MOBILEFACENET_OUT_NAMES)),
        with_landmark_head=True)
    try:
        result = reference.load_state_dict(converted, strict=False)
    except RuntimeError as error:  # shape mismatches
        sys.exit(f'{args.src}: {error}')
    if result.missing_keys or result.unexpected_keys:
        sys.exit(f'{args.src} does not match the 68-landmark MobileFaceNet '
                 f'of POSTER / POSTER V2: missing keys '
                 f'{result.missing_keys[:10]} ({len(result.missing_keys)}), '
                 f'unexpected keys {result.unexpected_keys[:10]} '
                 f'({len(result.unexpected_keys)}).')
    if args.without_landmark_head:
        converted = {
            k: v
            for k, v in converted.items()
            if not k.startswith('landmark_head.')
        }
    out = dict(
        state_dict=converted,
        meta=dict(
            converted_from=osp.basename(args.src),
            with_landmark_head=not args.without_landmark_head))
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(out, args.dst)
    head = 'without' if args.without_landmark_head else 'with'
    dropped = f'; left out: {", ".join(left_out)}' if left_out else ''
    print(f'Converted {len(converted)} tensors from {args.src} to '
          f'{args.dst} ({head} the landmark head{dropped}).')


if __name__ == '__main__':
    main()
