"""Convert a POSTER V2 (Talented-Q/POSTER_V2) release to ferpretrain.

    python tools/model_converters/posterv2_to_ferpretrain.py \
        raf-db-model_best.pth checkpoints/posterv2_rafdb.pth
    python tools/model_converters/posterv2_to_ferpretrain.py \
        affectnet-8-model_best.pth checkpoints/posterv2_affectnet8.pth \
        --num-classes 8

The release is a ``main.py`` training checkpoint: ``state_dict`` next to
``epoch``, ``best_acc``, ``optimizer`` and a ``RecorderMeter`` pickled from
the authors' ``__main__``. It is read with
``ferpretrain.models.utils.load_posterv2_release``, which never runs code
named in the file (unknown classes become inert placeholders), so no
``--trust-checkpoint`` is needed or offered. Only the state dict is kept.

Keys are renamed by ``convert_posterv2_checkpoint`` (the table is in
``ferpretrain/models/utils/posterv2_convert.py``); keys of modules the
official forward never runs (IR-50 ``output_layer``, the landmark
regressor, ``VIT.patch_embed``/``CON1``/``IRLinear1/2``/``eca_block``,
per-block ``Conv1d``) and the derived ``relative_position_index`` buffers
are dropped and listed. A key no rule knows stops the conversion unless
``--allow-unknown`` is given (then it is left out and listed).

The head rows are not permuted: POSTER V2's RAF-DB label is
``code - 1`` (Surprise, Fear, Disgust, Happiness, Sadness, Anger, Neutral),
ferpretrain's ``RAFDB_CATEGORIES``. ``--num-classes`` picks the class names
stored in ``meta.dataset_meta.classes``: 7 -> ``RAFDB_CATEGORIES`` (the
RAF-DB release; ``main.py``), 8 -> ``AFFECTNET_CATEGORIES`` (AffectNet codes
0..7, ``main_8.py``). It must equal the rows of the file's head. The output
``{'state_dict': ..., 'meta': ...}`` loads strictly into the model of
``configs/_base_/models/poster_v2.py`` (``head.num_classes`` set to match)
and needs no ``--trust-checkpoint``.
"""
import argparse
import os.path as osp
import sys

HEAD_KEY = 'head.fc.weight'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='POSTER V2 release (.pth)')
    parser.add_argument('dst', help='where to save the converted checkpoint')
    parser.add_argument(
        '--num-classes',
        type=int,
        choices=(7, 8),
        default=7,
        help='7: RAF-DB class names (default); 8: AffectNet-8 names')
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
    from ferpretrain.models.utils import (convert_posterv2_checkpoint,
                                          group_posterv2_keys,
                                          load_posterv2_release)
    from ferpretrain.models.utils.checkpoint_convert import (
        extract_state_dict, save_converted_checkpoint)

    if osp.exists(args.dst) and not args.overwrite:
        sys.exit(f'{args.dst} exists; pass --overwrite to replace it.')
    try:
        checkpoint = load_posterv2_release(args.src)
        state_dict, left_out = extract_state_dict(checkpoint)
        converted, dropped, unknown = convert_posterv2_checkpoint(state_dict)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f'{args.src}: {error}')

    if unknown and not args.allow_unknown:
        sys.exit(f'{args.src}: {len(unknown)} keys match no POSTER V2 rule: '
                 f'{group_posterv2_keys(unknown)} (first: {unknown[:5]}). '
                 'Is this a POSTER V2 checkpoint? Pass --allow-unknown to '
                 'leave them out.')
    if HEAD_KEY not in converted:
        sys.exit(f'{args.src}: no classifier (VIT.head.linear.weight) in the '
                 'state dict; is this a POSTER V2 checkpoint?')
    rows = converted[HEAD_KEY].shape[0]
    if rows != args.num_classes:
        sys.exit(f'{args.src}: the head has {rows} outputs but '
                 f'--num-classes is {args.num_classes}.')
    classes = RAFDB_CATEGORIES if rows == 7 else AFFECTNET_CATEGORIES

    save_converted_checkpoint(
        args.dst,
        converted,
        classes,
        args.src,
        'posterv2_to_ferpretrain',
        dropped,
        unknown,
        left_out,
        summary='head rows kept in the official order')


if __name__ == '__main__':
    main()
