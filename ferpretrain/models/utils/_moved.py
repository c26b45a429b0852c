"""Old import paths of the checkpoint converters, kept working.

The key rules of each model family now live beside the model
(``ferpretrain.models.classifiers.poster`` / ``poster_v2``,
``ferpretrain.models.necks.pooling_vit``), and reading third-party files in
:mod:`ferpretrain.utils.foreign_checkpoint`. These wrappers keep the
signatures the old names had.
"""
from ferpretrain.models.classifiers.poster import convert_poster_checkpoint
from ferpretrain.models.classifiers.poster_v2 import \
    convert_posterv2_checkpoint
from ferpretrain.utils.foreign_checkpoint import (OpaquePickledObject,
                                                  extract_state_dict,
                                                  group_keys,
                                                  read_torch_release,
                                                  rename_state_dict)

__all__ = [
    'convert_poster_checkpoint', 'convert_posterv2_checkpoint',
    'convert_apvit_checkpoint', 'OpaquePickledObject',
    'load_posterv2_release', 'group_posterv2_keys', 'extract_state_dict',
    'rename_state_dict'
]

#: Old name of :func:`~ferpretrain.utils.foreign_checkpoint.group_keys`.
group_posterv2_keys = group_keys


def load_posterv2_release(filename):
    """Old name of :func:`~ferpretrain.utils.foreign_checkpoint.
    read_torch_release` (restricted reading; nothing in the file runs)."""
    return read_torch_release(filename)


def convert_apvit_checkpoint(state_dict, src_classes=None, dst_classes=None):
    """The old signature: ``(converted, unknown)``, head rows permuted from
    APViT's RAF-DB order to ferpretrain's by default."""
    from ferpretrain.datasets.categories import (APVIT_RAFDB_CATEGORIES,
                                                 RAFDB_CATEGORIES,
                                                 label_permutation)
    from ferpretrain.models.necks.pooling_vit import \
        convert_apvit_checkpoint as convert
    order = label_permutation(src_classes or APVIT_RAFDB_CATEGORIES,
                              dst_classes or RAFDB_CATEGORIES)
    converted, _, unknown = convert(state_dict, order)
    return converted, unknown
