"""Convert the VGGFace2 ResNet-50 weights to a ferpretrain checkpoint.

    python tools/model_converters/vggface2_to_ferpretrain.py \
        resnet50_ft_weight.pkl checkpoints/vggface2_resnet50_ft.pth

``resnet50_ft_weight.pkl`` (cydonia999/VGGFace2-pytorch, converted from the
Caffe model of Cao et al., VGGFace2, FG 2018: ResNet-50 pre-trained on
MS-Celeb-1M and fine-tuned on VGGFace2) is the frozen identity encoder of
Disentangled DoE. It is a Python 2 pickle of ``{torchvision name: numpy
array}``, no torch checkpoint: it is read with numpy's array rebuilding as
the only code it may name (``read_pickled_arrays`` in
``ferpretrain.utils.foreign_checkpoint``), so nothing in it runs. Its names
are those of ``VGGFace2ResNet`` (mmpretrain's ResNet uses torchvision's);
``convert_vggface2_keys`` beside the backbone turns the arrays into
tensors, adds the BatchNorm ``num_batches_tracked`` counters the file lacks
and drops ``fc.*``, the 8631-identity classifier the encoder does not build.
The result is checked by a strict load into the ``identity_encoder`` of
``configs/disentangled_doe/ckplus_stage1.py`` (``--config`` for another
config with an ``identity_encoder``); a file of another architecture is
refused, never half-loaded.

The output ``{'state_dict', 'meta'}`` loads without ``--trust-checkpoint``,
as the identity encoder's ``init_cfg=dict(type='Pretrained',
checkpoint='checkpoints/vggface2_resnet50_ft.pth')``. An identity encoder
has no expression classes, so this converter has no ``--dataset`` /
``--classes``; its other flags are those of every converter
(``ferpretrain.utils.conversion``).
"""
import os.path as osp
import sys

# Allow running from a source checkout without installing ferpretrain.
_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

from ferpretrain.models.backbones import \
    convert_vggface2_keys  # noqa: E402
from ferpretrain.models.backbones.vggface2_resnet import (  # noqa: E402
    CLASSIFIER_GROUP, vggface2_key_group)
from ferpretrain.utils import register_all_modules  # noqa: E402
from ferpretrain.utils.conversion import (Conversion,  # noqa: E402
                                          Converter, check_destination)
from ferpretrain.utils.errors import run_tool  # noqa: E402
from ferpretrain.utils.foreign_checkpoint import \
    read_pickled_arrays  # noqa: E402

CONFIG = 'configs/disentangled_doe/ckplus_stage1.py'
COMPONENT = 'identity_encoder'
CONVERTER = Converter(
    __file__, 'VGGFace2 ResNet-50',
    'VGGFace2 ResNet-50 weight pickle (resnet50_ft_weight.pkl of '
    'cydonia999/VGGFace2-pytorch)',
    config=CONFIG, classes=False)


def main(argv=None):
    register_all_modules(init_default_scope=False)
    args = CONVERTER.parser(__doc__).parse_args(argv)
    check_destination(args.dst, args.overwrite)
    arrays = read_pickled_arrays(
        args.src, trust=args.trust_checkpoint,
        what='VGGFace2 weight pickle')
    groups = {name: vggface2_key_group(name) for name in arrays}
    unknown = [name for name, group in groups.items() if group is None]
    known = {name: a for name, a in arrays.items() if groups[name]}
    converted, dropped = convert_vggface2_keys(known)
    added = [name for name in converted if name not in known]
    conversion = Conversion(
        converted,
        dropped={CLASSIFIER_GROUP: dropped} if dropped else {},
        unknown=unknown,
        added={'BatchNorm num_batches_tracked counters (not in the file)':
               added} if added else {},
        notes=['input: the encoder turns ImageNet-normalised RGB into '
               'VGGFace2\'s BGR 0..255 minus mean_bgr itself '
               '(VGGFace2ResNet input_mean/input_std/input_bgr)'])
    CONVERTER.finish(args, conversion, component=COMPONENT)


if __name__ == '__main__':
    run_tool(main)
