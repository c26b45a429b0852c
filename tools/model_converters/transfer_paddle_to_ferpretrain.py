"""Convert TransFER's PaddlePaddle weights to a ferpretrain checkpoint.

    python tools/model_converters/transfer_paddle_to_ferpretrain.py \
        TransFER-RAF_param.pdparams checkpoints/transfer_rafdb.pth

TransFER's official weights (90.91 % on RAF-DB) exist only as a
PaddlePaddle file: ``paddle.save`` of the model's state dict, i.e. a pickle
of ``{structured name: numpy array}`` plus a
``'StructuredToParameterName@@'`` table. It is read here without Paddle and
without running anything the file names
(``ferpretrain.utils.foreign_checkpoint.read_paddle_params``: only numpy's
array rebuilding is resolved). ``convert_transfer_paddle_checkpoint``
(table in ``ferpretrain/models/necks/pooling_vit.py``) then

- maps the flat ``extractor.body.<n>`` units to the IR-50 stages (units
  0-2, 3-6, 7-20), the LANets, the projection and the ViT to ferpretrain's
  names;
- renames BatchNorm ``_mean`` / ``_variance`` to ``running_mean`` /
  ``running_var`` and PReLU ``_weight`` to ``weight``;
- transposes Paddle ``Linear`` weights (stored ``[in, out]``);
- splits ``vit.pos_embed`` (197 tokens) into the CLS and patch parts;
- adds the BatchNorm ``num_batches_tracked`` counters Paddle has no place
  for (as 0).

The head order is RAF-DB's (label = code - 1: Surprise, Fear, Disgust,
Happiness, Sadness, Anger, Neutral; ``--dataset rafdb``, the default: the
only release). The output is checked by a strict load into
``configs/transfer/raf.py``; test it with

    python tools/test.py configs/transfer/raf.py checkpoints/transfer_rafdb.pth

Flags: ``--help``; they are the same for every converter
(``ferpretrain.utils.conversion``).
"""
import os.path as osp
import sys

# Allow running from a source checkout without installing ferpretrain.
_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

from ferpretrain.datasets.categories import \
    RELEASE_CLASS_ORDERS  # noqa: E402
from ferpretrain.models.necks.pooling_vit import \
    convert_transfer_paddle_checkpoint  # noqa: E402
from ferpretrain.utils import register_all_modules  # noqa: E402
from ferpretrain.utils.conversion import (  # noqa: E402
    Conversion, Converter, Release, check_destination)
from ferpretrain.utils.errors import run_tool  # noqa: E402
from ferpretrain.utils.foreign_checkpoint import \
    read_paddle_params  # noqa: E402

RELEASES = (Release('rafdb', 'RAF-DB',
                    RELEASE_CLASS_ORDERS['transfer']['rafdb'],
                    'configs/transfer/raf.py',
                    'label = RAF-DB code - 1'), )
CONVERTER = Converter(__file__, 'TransFER',
                      'TransFER PaddlePaddle weights (.pdparams)', RELEASES)


def main(argv=None):
    register_all_modules(init_default_scope=False)
    args = CONVERTER.parser(__doc__).parse_args(argv)
    check_destination(args.dst, args.overwrite)
    params, _ = read_paddle_params(args.src, trust=args.trust_checkpoint)
    converted, dropped, unknown, added = convert_transfer_paddle_checkpoint(
        params)
    notes = ['Paddle Linear weights transposed ([in, out] -> [out, in]); '
             'vit.pos_embed split into cls_pos_embed and patch_pos_embed']
    CONVERTER.finish(
        args,
        Conversion(converted, dropped, unknown, added=added, notes=notes),
        CONVERTER.head_classes(args, converted, 'head.fc.weight'))


if __name__ == '__main__':
    run_tool(main)
