"""Convert a POSTER (zczcwh/POSTER) training checkpoint to ferpretrain.

    python tools/model_converters/poster_to_ferpretrain.py \
        epoch75_acc0.9205.pth checkpoints/poster_rafdb.pth --dataset rafdb
    python tools/model_converters/poster_to_ferpretrain.py \
        affectnet8.pth checkpoints/poster_affectnet8.pth --dataset affectnet

The official ``train.py`` saves ``{'iter', 'model_state_dict',
'optimizer_state_dict'}`` of a ``DataParallel`` model. The file is read with
the restricted unpickler of ``load_posterv2_release`` (nothing named in the
file is run) and only the network's tensors are kept.

Keys are renamed by ``convert_poster_checkpoint`` (table in
``ferpretrain/models/utils/poster_convert.py``); the never-run IR-50
``output_layer``, the landmark regressor and the unused ``cls_token`` are
dropped and listed. A key no rule knows stops the conversion unless
``--allow-unknown`` is given.

``--dataset`` names the classes stored in ``meta.dataset_meta.classes``
(7-class files exist for both RAF-DB and AffectNet, with different orders):
``rafdb`` -> ``RAFDB_CATEGORIES`` (label = code - 1), ``affectnet`` ->
``AFFECTNET_CATEGORIES`` cut to the head's 7 or 8 rows (AffectNet codes).
No row is permuted. The output loads strictly into
``configs/_base_/models/poster_ir50_mfn.py`` (set ``arch`` to the file's
``--modeltype``, ``head.num_classes`` to its rows) with no
``--trust-checkpoint``.
"""
import argparse
import os.path as osp
import sys

HEAD_KEY = 'head.fc.weight'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='POSTER checkpoint (.pth)')
    parser.add_argument('dst', help='where to save the converted checkpoint')
    parser.add_argument(
        '--dataset',
        choices=('rafdb', 'affectnet'),
        required=True,
        help='the dataset the file was trained on (sets the class names)')
    parser.add_argument(
        '--allow-unknown',
        action='store_true',
        help='leave out (and list) keys no mapping rule knows instead of '
        'stopping')
    parser.add_argument(
        '--overwrite', action='store_true', help='replace DST if it exists')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from ferpretrain.datasets.categories import (AFFECTNET_CATEGORIES,
                                                 RAFDB_CATEGORIES)
    from ferpretrain.models.utils import (convert_poster_checkpoint,
                                          group_posterv2_keys,
                                          load_posterv2_release)
    from ferpretrain.models.utils.checkpoint_convert import (
        extract_state_dict, save_converted_checkpoint)

    if osp.exists(args.dst) and not args.overwrite:
        sys.exit(f'{args.dst} exists; pass --overwrite to replace it.')
    try:
        checkpoint = load_posterv2_release(args.src)
        state_dict, left_out = extract_state_dict(
            checkpoint, ('model_state_dict', 'state_dict'))
        converted, dropped, unknown = convert_poster_checkpoint(state_dict)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f'{args.src}: {error}')

    if unknown and not args.allow_unknown:
        sys.exit(f'{args.src}: {len(unknown)} keys match no POSTER rule: '
                 f'{group_posterv2_keys(unknown)} (first: {unknown[:5]}). '
                 'Is this a POSTER (v1) checkpoint? For POSTER V2 use '
                 'posterv2_to_ferpretrain.py; pass --allow-unknown to leave '
                 'them out.')
    if HEAD_KEY not in converted:
        sys.exit(f'{args.src}: no classifier (head.linear.weight) in the '
                 'state dict; is this a POSTER checkpoint?')
    rows = converted[HEAD_KEY].shape[0]
    if args.dataset == 'rafdb':
        if rows != len(RAFDB_CATEGORIES):
            sys.exit(f'{args.src}: the head has {rows} outputs, RAF-DB has '
                     f'{len(RAFDB_CATEGORIES)} classes.')
        classes = RAFDB_CATEGORIES
    else:
        if rows not in (7, 8):
            sys.exit(f'{args.src}: the head has {rows} outputs; AffectNet '
                     'models have 7 or 8.')
        classes = AFFECTNET_CATEGORIES[:rows]
    layers = {int(k.split('.')[2]) for k in converted
              if k.startswith('neck.layers.')}

    save_converted_checkpoint(
        args.dst,
        converted,
        classes,
        args.src,
        'poster_to_ferpretrain',
        dropped,
        unknown,
        left_out,
        summary=f'{len(layers)} pyramid layers, i.e. PosterNeck depth '
        f'{len(layers)}')


if __name__ == '__main__':
    main()
