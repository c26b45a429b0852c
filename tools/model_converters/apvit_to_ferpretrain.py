"""Convert APViT's released RAF-DB checkpoint to a ferpretrain checkpoint.

    python tools/model_converters/apvit_to_ferpretrain.py \
        APViT_RAF-3eeecf7d.pth checkpoints/apvit_rafdb_converted.pth

The official checkpoint (youqingxiaozhua/APViT, mmcls 0.x) uses its own key
names and its own RAF-DB label order. The output holds a plain state dict in
ferpretrain's names, head rows permuted to ferpretrain's RAF-DB order
(Surprise, Fear, Disgust, Happiness, Sadness, Anger, Neutral), and
``meta.dataset_meta.classes``, so it loads with ``configs/apvit/raf.py``:

    python tools/test.py configs/apvit/raf.py \
        checkpoints/apvit_rafdb_converted.pth

Note: APViT was trained on its own MTCNN re-aligned RAF-DB faces
(``Image/aligned_224``); on the official ``Image/aligned`` faces its
accuracy is much lower. Point the dataset's ``img_dir`` at re-aligned faces
to reproduce the paper.
"""
import argparse
import os
import os.path as osp
import sys

import torch


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('src', help='APViT checkpoint (.pth)')
    parser.add_argument('dst', help='where to save the converted checkpoint')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='load SRC with full pickle (runs code stored in the file); only '
        'for files from a source you trust, when the safe loader refuses it')
    parser.add_argument(
        '--overwrite', action='store_true', help='replace DST if it exists')
    return parser.parse_args()


def main():
    args = parse_args()
    from ferpretrain.datasets.categories import RAFDB_CATEGORIES
    from ferpretrain.models.utils.checkpoint_convert import \
        convert_apvit_checkpoint
    from ferpretrain.utils.checkpoint import load_checkpoint_file

    if osp.exists(args.dst) and not args.overwrite:
        sys.exit(f'{args.dst} exists; pass --overwrite to replace it.')
    checkpoint = load_checkpoint_file(
        args.src, map_location='cpu', trust=args.trust_checkpoint)
    state_dict = checkpoint.get('state_dict', checkpoint)
    converted, unknown = convert_apvit_checkpoint(state_dict)
    if unknown:
        sys.exit(f'{args.src}: {len(unknown)} keys match no APViT module and '
                 f'were not converted: {unknown[:10]}. Is this an APViT '
                 'checkpoint (PoolingViT with an IRSE extractor)?')
    out = dict(
        state_dict=converted,
        meta=dict(
            dataset_meta=dict(classes=tuple(RAFDB_CATEGORIES)),
            converted_from=osp.basename(args.src)))
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(out, args.dst)
    print(f'Converted {len(converted)} tensors from {args.src} to {args.dst} '
          '(head rows permuted from APViT order to ferpretrain RAF-DB order).')


if __name__ == '__main__':
    main()
