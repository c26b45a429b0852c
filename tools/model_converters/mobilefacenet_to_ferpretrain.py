"""Convert the 68-landmark MobileFaceNet weights to a ferpretrain checkpoint.

    python tools/model_converters/mobilefacenet_to_ferpretrain.py \
        mobilefacenet_model_best.pth.tar \
        checkpoints/mobilefacenet_landmark68.pth

``mobilefacenet_model_best.pth.tar`` (cunjian/pytorch_face_landmark; the file
POSTER and POSTER V2 load for their frozen landmark branch) is a training
checkpoint: a dict whose ``state_dict`` holds the network, next to training
entries such as the epoch, ``best_prec1`` or optimizer state. It is read
without running anything it names (``ferpretrain.utils.foreign_checkpoint``)
and only the state dict is kept. Its keys are renamed to ferpretrain's
``MobileFaceNet`` (``module.`` stripped, ``conv_3.model.0`` -> ``conv_3.0``,
``output_layer`` -> ``landmark_head``; ``convert_mobilefacenet_keys`` beside
the backbone) and checked by a strict load into the landmark branch of
``configs/poster_v2/raf.py`` (``--config`` for another), with the landmark
head unless ``--without-landmark-head`` leaves it out (the FER models never
run it). A file of another architecture is refused, never half-loaded.

The output ``{'state_dict', 'meta'}`` loads without ``--trust-checkpoint``,
e.g. as the landmark branch's ``init_cfg=dict(type='Pretrained',
checkpoint=...)``. A landmark network has no classes, so this converter has
no ``--dataset`` / ``--classes``; its other flags are those of every
converter (``ferpretrain.utils.conversion``).
"""
import os.path as osp
import sys

# Allow running from a source checkout without installing ferpretrain.
_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

from ferpretrain.models.backbones import \
    convert_mobilefacenet_keys  # noqa: E402
from ferpretrain.utils import register_all_modules  # noqa: E402
from ferpretrain.utils.conversion import (Conversion,  # noqa: E402
                                          Converter, read_source)
from ferpretrain.utils.errors import run_tool  # noqa: E402

CONFIG = 'configs/poster_v2/raf.py'
# A landmark network has no classes.
CONVERTER = Converter(
    __file__, 'MobileFaceNet',
    'MobileFaceNet checkpoint (mobilefacenet_model_best.pth.tar)',
    config=CONFIG, classes=False)


def main(argv=None):
    register_all_modules(init_default_scope=False)
    parser = CONVERTER.parser(__doc__)
    parser.add_argument(
        '--without-landmark-head',
        action='store_true',
        help='leave out the 136-output landmark regressor (the FER models '
        'use the feature maps only)')
    args = parser.parse_args(argv)
    state_dict, left_out = read_source(args)
    with_head = not args.without_landmark_head
    converted, dropped = convert_mobilefacenet_keys(
        state_dict, with_landmark_head=with_head)
    if dropped:
        dropped = {
            'output_layer (landmark regressor, --without-landmark-head)':
            dropped
        }
    options = {'model.landmark_backbone.with_landmark_head': with_head}
    CONVERTER.finish(
        args,
        Conversion(converted, dropped or {}, left_out=left_out,
                   cfg_options=options),
        component='landmark_backbone',
        extra_meta=dict(with_landmark_head=with_head))


if __name__ == '__main__':
    run_tool(main)
