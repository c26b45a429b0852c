"""Convert a POSTER (zczcwh/POSTER) checkpoint to a ferpretrain checkpoint.

    python tools/model_converters/poster_to_ferpretrain.py \
        epoch75_acc0.9205.pth checkpoints/poster_rafdb.pth --dataset rafdb
    python tools/model_converters/poster_to_ferpretrain.py \
        affectnet7.pth checkpoints/poster_affectnet7.pth --dataset affectnet7

The official ``train.py`` and ``train_affect.py`` save ``{'iter',
'model_state_dict', 'optimizer_state_dict'}`` of a ``DataParallel`` model.
The file is read without running anything it names
(``ferpretrain.utils.foreign_checkpoint``) and only the network is kept.
Keys are renamed by ``convert_poster_checkpoint`` (table in
``ferpretrain/models/classifiers/poster.py``); the never-run IR-50
``output_layer``, the landmark regressor and the unused ``cls_token`` are
dropped and listed.

**Two networks.** The RAF-DB release is the network of ``emotion_hyp.py``
(token-mixing ``Conv1d`` in every cross-fusion block); the AffectNet-7 and
-8 releases are that of ``emotion_hyp_affect.py`` (no token mixing). The
converter tells them apart by the keys, checks the output against the
matching config (``configs/poster/raf.py`` or ``affectnet7.py`` /
``affectnet8.py``) and says so if the file is not the network its
``--dataset`` suggests. A file of another depth (``--modeltype base`` or
``small``) is checked with ``model.neck.arch`` set accordingly.

**Classes.** ``--dataset`` names the release and with it the head order:
``rafdb`` Surprise, Fear, Disgust, Happiness, Sadness, Anger, Neutral
(label = code - 1); ``affectnet7`` / ``affectnet8`` the AffectNet codes
(Neutral, Happy, Sad, Surprise, Fear, Disgust, Anger[, Contempt]). A 7-class
file could be either, and a checkpoint does not say which, so it is refused
without ``--dataset`` or ``--classes``; an 8-class file is AffectNet-8.
Nothing is permuted. Flags: ``--help``; they are the same for every
converter (``ferpretrain.utils.conversion``).
"""
import os.path as osp
import sys

# Allow running from a source checkout without installing ferpretrain.
_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

from ferpretrain.datasets.categories import \
    RELEASE_CLASS_ORDERS  # noqa: E402
from ferpretrain.models.classifiers.poster import (  # noqa: E402
    POSTER_ARCH_DEPTHS, convert_poster_checkpoint, poster_network_from_keys)
from ferpretrain.utils import register_all_modules  # noqa: E402
from ferpretrain.utils.conversion import (Conversion,  # noqa: E402
                                          Converter, Release, load_config,
                                          read_source)
from ferpretrain.utils.errors import run_tool  # noqa: E402

_ORDERS = RELEASE_CLASS_ORDERS['poster']
_AFFECT = ('train_affect.py, emotion_hyp_affect.py (no token mixing); '
           'labels are the AffectNet codes')
RELEASES = (
    Release('rafdb', 'RAF-DB', _ORDERS['rafdb'], 'configs/poster/raf.py',
            'train.py, emotion_hyp.py; label = RAF-DB code - 1'),
    Release('affectnet7', 'AffectNet-7', _ORDERS['affectnet7'],
            'configs/poster/affectnet7.py', _AFFECT),
    Release('affectnet8', 'AffectNet-8', _ORDERS['affectnet8'],
            'configs/poster/affectnet8.py', _AFFECT),
)
CONVERTER = Converter(__file__, 'POSTER', 'POSTER checkpoint (.pth)', RELEASES)


def network_options(config, network):
    """Config overrides (and notes) for a file whose network differs from
    the config's: another depth, or the other token-mixing variant."""
    neck = load_config(config).model.neck
    options, notes = {}, []
    depth = neck.get('depth') or POSTER_ARCH_DEPTHS[neck.get('arch',
                                                             'large')]
    if network['depth'] != depth:
        arch = {v: k for k, v in POSTER_ARCH_DEPTHS.items()}.get(
            network['depth'])
        key, value = (('model.neck.arch', arch) if arch else
                      ('model.neck.depth', network['depth']))
        options[key] = value
        notes.append(f'the file has {network["depth"]} pyramid layers '
                     f'({arch or "custom"}), {config} builds {depth}')
    if network['token_mixing'] != neck.get('token_mixing', True):
        options['model.neck.token_mixing'] = network['token_mixing']
        notes.append(
            'the file is POSTER\'s ' +
            ('RAF-DB network (with token mixing)' if network['token_mixing']
             else 'AffectNet network (no token mixing)') +
            f', unlike the network of {config}')
    return options, notes


def main(argv=None):
    register_all_modules(init_default_scope=False)
    args = CONVERTER.parser(__doc__).parse_args(argv)
    state_dict, left_out = read_source(args,
                                       ('model_state_dict', 'state_dict'))
    converted, dropped, unknown = convert_poster_checkpoint(state_dict)
    classes, release = CONVERTER.head_classes(
        args, converted, 'head.linear.weight; for POSTER V2 use '
        'posterv2_to_ferpretrain.py')
    network = poster_network_from_keys(converted)
    # --classes: checked against the config of the file's network.
    config = args.config or (release or RELEASES[
        0 if network['token_mixing'] else 1]).config
    options, notes = network_options(config, network)
    conversion = Conversion(converted, dropped, unknown, left_out,
                            cfg_options=options, notes=notes)
    CONVERTER.finish(args, conversion, (classes, release), config)


if __name__ == '__main__':
    run_tool(main)
