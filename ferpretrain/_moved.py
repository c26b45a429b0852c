"""Where moved names went: the old import paths keep working.

A name that moved is found at its old path with a ``DeprecationWarning``
that names its new home, so that code written against an older ferpretrain
runs unchanged and says what to update. Two tables say everything:

* :data:`MOVED_MODULES`: old module path -> the module that now holds its
  contents. ``import ferpretrain.utils.runner`` and ``from
  ferpretrain.models.utils.cross_fusion import CrossFusionBlock`` resolve
  through a stand-in module (:class:`MovedModule`) registered under the old
  path by :func:`register_old_paths`; it imports the new module only when a
  name is read from it.
* :data:`MOVED_NAMES`: package -> {old name: new module}, for names read
  from a package (``from ferpretrain.utils import tune_malloc``), through
  the package's ``__getattr__``.

An old function whose signature changed keeps its old one here
(``convert_apvit_checkpoint``); renamed ones are found under their old name.
"""
import importlib
import sys
import types
import warnings

__all__ = [
    'MOVED_MODULES', 'MOVED_NAMES', 'MovedModule', 'moved_attribute',
    'register_old_paths'
]

_POSTER = 'ferpretrain.models.classifiers.poster'
_POSTER_V2 = 'ferpretrain.models.classifiers.poster_v2'
_APVIT = 'ferpretrain.models.necks.pooling_vit'
_FOREIGN = 'ferpretrain.utils.foreign_checkpoint'
_ENGINE = 'ferpretrain.engine'

#: package -> {name once exported there: module that holds it now}.
MOVED_NAMES = {
    'ferpretrain.models.utils': {
        # One-paper blocks moved beside their paper's model.
        **dict.fromkeys(('CrossAttention', 'CrossFusionBlock',
                         'PyramidCrossFusion', 'embedding_downsample'),
                        _POSTER),
        **dict.fromkeys(
            ('WindowCrossAttention', 'WindowCrossAttentionBlock'),
            _POSTER_V2),
        # Checkpoint key rules moved beside the models, third-party file
        # reading to foreign_checkpoint.
        'convert_poster_checkpoint': _POSTER,
        'convert_posterv2_checkpoint': _POSTER_V2,
        'convert_apvit_checkpoint': _APVIT,
        **dict.fromkeys(('OpaquePickledObject', 'load_posterv2_release',
                         'group_posterv2_keys', 'extract_state_dict',
                         'rename_state_dict'), _FOREIGN),
    },
    'ferpretrain.utils': {
        'setup_cpu_distributed': f'{_ENGINE}.dist',
        'MALLOC_ENV': f'{_ENGINE}.malloc',
        'tune_malloc': f'{_ENGINE}.malloc',
    },
}

#: old module path -> module that holds its contents now, or the package
#: whose :data:`MOVED_NAMES` say where each of its names went.
MOVED_MODULES = {
    'ferpretrain.models.utils.cross_fusion': _POSTER,
    'ferpretrain.models.utils.cross_attention': _POSTER_V2,
    'ferpretrain.models.utils.checkpoint_convert': 'ferpretrain.models.utils',
    'ferpretrain.models.utils.poster_convert': 'ferpretrain.models.utils',
    'ferpretrain.models.utils.posterv2_convert': 'ferpretrain.models.utils',
    # Runner-level code sits with the engine.
    'ferpretrain.utils.runner': f'{_ENGINE}.runner',
    'ferpretrain.utils.dist': f'{_ENGINE}.dist',
    'ferpretrain.utils.malloc': f'{_ENGINE}.malloc',
}

#: Old names that were renamed in their new home.
_RENAMED = {
    'group_posterv2_keys': 'group_keys',
    'load_posterv2_release': 'read_torch_release',
}


def _old_convert_apvit_checkpoint(state_dict, src_classes=None,
                                  dst_classes=None):
    """The old signature: ``(converted, unknown)``, head rows permuted from
    APViT's RAF-DB order to ferpretrain's by default. The key rules are
    :func:`ferpretrain.models.necks.pooling_vit.convert_apvit_checkpoint`,
    which takes the head's row order instead of two class lists.
    """
    from ferpretrain.datasets.categories import (APVIT_RAFDB_CATEGORIES,
                                                 RAFDB_CATEGORIES,
                                                 label_permutation)
    from ferpretrain.models.necks.pooling_vit import \
        convert_apvit_checkpoint as convert
    order = label_permutation(src_classes or APVIT_RAFDB_CATEGORIES,
                              dst_classes or RAFDB_CATEGORIES)
    converted, _, unknown = convert(state_dict, order)
    return converted, unknown


#: Old names whose signature changed: the old behaviour is kept here.
_OLD_SIGNATURES = {'convert_apvit_checkpoint': _old_convert_apvit_checkpoint}


def _warn(old: str, new: str, name: str, stacklevel: int) -> None:
    where = f'{new}.{_RENAMED.get(name, name)}'
    note = (' (with a new signature; the old one still works here)'
            if name in _OLD_SIGNATURES else '')
    warnings.warn(
        f'{old}.{name} moved to {where}{note}: import it from there (the '
        'old path will be removed).', DeprecationWarning,
        stacklevel=stacklevel + 1)


def moved_attribute(package: str, name: str, stacklevel: int = 3,
                    old: str = None):
    """``__getattr__`` of a package whose names moved (see
    :data:`MOVED_NAMES`): the name from its new home, with a warning that
    names ``old`` (the path it was read from; default ``package``)."""
    new = MOVED_NAMES.get(package, {}).get(name)
    if new is None:
        raise AttributeError(f'module {package!r} has no attribute {name!r}')
    _warn(old or package, new, name, stacklevel)
    if name in _OLD_SIGNATURES:
        return _OLD_SIGNATURES[name]
    return getattr(importlib.import_module(new), _RENAMED.get(name, name))


class MovedModule(types.ModuleType):
    """Stands at an old module path and reads names from their new home."""

    def __init__(self, old: str, new: str):
        super().__init__(old, f'Moved to :mod:`{new}`.')
        self.__moved_to__ = new

    def __getattr__(self, name: str):
        if name.startswith('__'):
            raise AttributeError(name)
        new = self.__moved_to__
        if new in MOVED_NAMES:
            if name not in MOVED_NAMES[new]:
                raise AttributeError(
                    f'{self.__name__} moved, split up, and had no {name!r} '
                    '(ferpretrain._moved lists where its names went).')
            return moved_attribute(new, name, stacklevel=3,
                                   old=self.__name__)
        module = importlib.import_module(new)
        if not hasattr(module, name):
            raise AttributeError(
                f'{self.__name__} moved to {new}, which has no {name!r}.')
        _warn(self.__name__, new, name, stacklevel=2)
        return getattr(module, name)


def register_old_paths() -> None:
    """Make the old module paths importable (idempotent).

    Only ferpretrain's own entries of ``sys.modules`` are touched (the
    import cache, where Python looks first); nothing is imported.
    """
    for old, new in MOVED_MODULES.items():
        if old not in sys.modules:
            sys.modules[old] = MovedModule(old, new)
