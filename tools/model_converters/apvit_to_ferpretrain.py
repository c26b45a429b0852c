"""Convert APViT's released checkpoint to a ferpretrain checkpoint.

    python tools/model_converters/apvit_to_ferpretrain.py \
        APViT_RAF-3eeecf7d.pth checkpoints/apvit_rafdb.pth

The official checkpoint (youqingxiaozhua/APViT, a fork of mmcls 0.x:
``{'meta', 'state_dict'}``) uses its own key names (table in
``ferpretrain/models/necks/pooling_vit.py``, ``convert_apvit_checkpoint``)
and its own RAF-DB label order (Anger, Disgust, Fear, Sadness, Happiness,
Surprise, Neutral). For the RAF-DB release (``--dataset rafdb``, the
default: the only release) the head rows are permuted to ferpretrain's
RAF-DB order (Surprise, Fear, Disgust, Happiness, Sadness, Anger, Neutral)
so that the output predicts ``RAFDB`` indices; a file trained on other data
names its rows with ``--classes`` and is not permuted. The output is
checked by a strict load into ``configs/apvit/raf.py``:

    python tools/test.py configs/apvit/raf.py checkpoints/apvit_rafdb.pth

Note: APViT was trained on its own MTCNN re-aligned RAF-DB faces
(``Image/aligned_224``); on the official ``Image/aligned`` faces its
accuracy is much lower. Point the dataset's ``img_dir`` at re-aligned faces
to reproduce the paper. Flags: ``--help``; they are the same for every
converter (``ferpretrain.utils.conversion``).
"""
import os.path as osp
import sys

# Allow running from a source checkout without installing ferpretrain.
_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

from ferpretrain.datasets.categories import (  # noqa: E402
    RAFDB_CATEGORIES, RELEASE_CLASS_ORDERS, label_permutation)
from ferpretrain.models.necks.pooling_vit import \
    convert_apvit_checkpoint  # noqa: E402
from ferpretrain.utils import register_all_modules  # noqa: E402
from ferpretrain.utils.conversion import (Conversion,  # noqa: E402
                                          Converter, Release, read_source)
from ferpretrain.utils.errors import run_tool  # noqa: E402
from ferpretrain.utils.load_check import strip_prefix  # noqa: E402

RELEASES = (Release('rafdb', 'RAF-DB', RELEASE_CLASS_ORDERS['apvit']['rafdb'],
                    'configs/apvit/raf.py',
                    'the official code re-maps the RAF-DB codes'), )
CONVERTER = Converter(__file__, 'APViT', 'APViT checkpoint (.pth)', RELEASES)


def main(argv=None):
    register_all_modules(init_default_scope=False)
    args = CONVERTER.parser(__doc__).parse_args(argv)
    state_dict, left_out = read_source(args)
    classes, release = CONVERTER.head_classes(args, strip_prefix(state_dict),
                                              'head.fc.weight')
    notes, order = [], None
    if release is not None:
        order = label_permutation(classes, RAFDB_CATEGORIES)
        notes.append('head rows re-ordered from APViT\'s order '
                     f'({", ".join(classes)}) to ferpretrain\'s RAF-DB order')
        classes = RAFDB_CATEGORIES
    converted, dropped, unknown = convert_apvit_checkpoint(state_dict, order)
    CONVERTER.finish(
        args, Conversion(converted, dropped, unknown, left_out, notes=notes),
        (classes, release))


if __name__ == '__main__':
    run_tool(main)
