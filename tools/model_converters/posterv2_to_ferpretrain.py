"""Convert a POSTER V2 (Talented-Q/POSTER_V2) release to ferpretrain.

    python tools/model_converters/posterv2_to_ferpretrain.py \
        raf-db-model_best.pth checkpoints/posterv2_rafdb.pth --dataset rafdb
    python tools/model_converters/posterv2_to_ferpretrain.py \
        affectnet-8-model_best.pth checkpoints/posterv2_affectnet8.pth
    python tools/model_converters/posterv2_to_ferpretrain.py \
        caer-s-model_best.pth checkpoints/posterv2_caers.pth --dataset caers

A release is a ``main.py`` training checkpoint: ``state_dict`` next to
``epoch``, ``best_acc``, ``optimizer`` and a ``RecorderMeter`` pickled from
the authors' ``__main__``. It is read without running anything it names
(``ferpretrain.utils.foreign_checkpoint``: unknown classes become inert
placeholders), so no ``--trust-checkpoint`` is needed. Keys are renamed by
``convert_posterv2_checkpoint`` (table in
``ferpretrain/models/classifiers/poster_v2.py``); keys of modules the
official forward never runs and the derived ``relative_position_index``
buffers are dropped and listed.

**Classes.** ``main.py`` reads the data with torchvision's ``ImageFolder``,
which numbers the *sorted class-folder names*; so the head order is that of
the folders the data was laid out in (evidence in
``ferpretrain.datasets.categories.RELEASE_CLASS_ORDERS``):

- ``--dataset rafdb``: folders ``1``..``7`` (as the repository's users lay
  RAF-DB out, Talented-Q/POSTER_V2 issue #25), i.e. RAF-DB code order:
  Surprise, Fear, Disgust, Happiness, Sadness, Anger, Neutral;
- ``--dataset affectnet7`` / ``affectnet8``: folders ``0``..``6`` /
  ``0``..``7``, the AffectNet codes: Neutral, Happy, Sad, Surprise, Fear,
  Disgust, Anger (, Contempt);
- ``--dataset caers``: CAER-S comes as folders named after the classes, so
  alphabetical: Anger, Disgust, Fear, Happy, Neutral, Sad, Surprise.

Three releases have 7 classes in three orders and a file does not say which
it is, so a 7-class file is refused without ``--dataset`` or ``--classes``;
an 8-class file is AffectNet-8. Nothing is permuted. The output is checked
by a strict load into the release's config. Flags: ``--help``; they are the
same for every converter (``ferpretrain.utils.conversion``).
"""
import os.path as osp
import sys

# Allow running from a source checkout without installing ferpretrain.
_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

from ferpretrain.datasets.categories import \
    RELEASE_CLASS_ORDERS  # noqa: E402
from ferpretrain.models.classifiers.poster_v2 import \
    convert_posterv2_checkpoint  # noqa: E402
from ferpretrain.utils import register_all_modules  # noqa: E402
from ferpretrain.utils.conversion import (Conversion,  # noqa: E402
                                          Converter, Release, read_source)
from ferpretrain.utils.errors import run_tool  # noqa: E402

_ORDERS = RELEASE_CLASS_ORDERS['poster_v2']
RELEASES = (
    Release('rafdb', 'RAF-DB', _ORDERS['rafdb'], 'configs/poster_v2/raf.py',
            'ImageFolder over folders 1..7'),
    Release('affectnet7', 'AffectNet-7', _ORDERS['affectnet7'],
            'configs/poster_v2/affectnet7.py',
            'ImageFolder over folders 0..6'),
    Release('affectnet8', 'AffectNet-8', _ORDERS['affectnet8'],
            'configs/poster_v2/affectnet8.py',
            'ImageFolder over folders 0..7'),
    Release('caers', 'CAER-S', _ORDERS['caers'], 'configs/poster_v2/caers.py',
            'ImageFolder over folders named after the classes'),
)
CONVERTER = Converter(__file__, 'POSTER V2', 'POSTER V2 release (.pth)',
                      RELEASES)


def main(argv=None):
    register_all_modules(init_default_scope=False)
    args = CONVERTER.parser(__doc__).parse_args(argv)
    state_dict, left_out = read_source(args)
    converted, dropped, unknown = convert_posterv2_checkpoint(state_dict)
    head = CONVERTER.head_classes(
        args, converted, 'VIT.head.linear.weight; for POSTER use '
        'poster_to_ferpretrain.py')
    CONVERTER.finish(args, Conversion(converted, dropped, unknown, left_out),
                     head)


if __name__ == '__main__':
    run_tool(main)
