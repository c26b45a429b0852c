"""Where ferpretrain's configs, tools and model index are, installed or not.

The configs, ``tools/`` and ``model-index.yml`` live at the root of the
source checkout, and the metafiles name configs relative to it
(``configs/apvit/raf.py``). A wheel has no checkout: ``setup.py`` puts the
three into the package's ``.mim`` folder, as mmpretrain does with its own
(copies in a wheel or sdist, symlinks in an editable install), so the same
relative names resolve under either root:

* a source checkout (also an editable install): ``<checkout>/``;
* an installed wheel: ``<site-packages>/ferpretrain/.mim/``.

:func:`resource_root` says which one this process uses;
:func:`find_config` finds a config named either way.
"""
import os
import os.path as osp
from typing import Union

from .errors import ConfigError

__all__ = [
    'PACKAGE_DIR', 'MIM_DIR', 'MODEL_INDEX', 'WEIGHTS_DIR', 'PACKAGED_SCHEME',
    'resource_root', 'find_config', 'packaged_checkpoint'
]

#: The installed ``ferpretrain`` package folder.
PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: Where a wheel keeps the configs, tools and model index.
MIM_DIR = osp.join(PACKAGE_DIR, '.mim')
#: The model index's file name (at the root of both layouts).
MODEL_INDEX = 'model-index.yml'
#: Checkpoints that ship inside the package (``package_data``).
WEIGHTS_DIR = osp.join(PACKAGE_DIR, 'weights')
#: How a metafile's ``Weights`` or a config's ``load_from`` names a packaged
#: checkpoint: ``ferpretrain://<file>`` is ``WEIGHTS_DIR/<file>``
#: (:func:`packaged_checkpoint`; mmengine's loaders take it too once
#: :mod:`ferpretrain.apis` is imported).
PACKAGED_SCHEME = 'ferpretrain://'


def _holds_resources(folder: str) -> bool:
    return (osp.isfile(osp.join(folder, MODEL_INDEX))
            and osp.isdir(osp.join(folder, 'configs')))


def resource_root() -> str:
    """The folder that holds ``configs/``, ``tools/`` and
    ``model-index.yml``.

    The source checkout's root when the package is imported from one (the
    paths then name the files a developer edits, not their ``.mim``
    links), else the package's ``.mim`` folder. Nothing is checked beyond
    that: :func:`find_config` and the model index say what is missing.

    Returns:
        str: An absolute path.
    """
    checkout = osp.dirname(PACKAGE_DIR)
    if _holds_resources(checkout):
        return checkout
    return MIM_DIR


def find_config(config: Union[str, os.PathLike]) -> str:
    """The path of a config named relative to the working directory, to
    the resource root (``configs/apvit/raf.py``, in a checkout or
    installed), or absolute.

    Raises:
        ConfigError: No such file in either place.
    """
    config = osp.expanduser(os.fspath(config))
    if osp.isfile(config):
        return config
    root = resource_root()
    packaged = osp.join(root, config)
    if not osp.isabs(config) and osp.isfile(packaged):
        return packaged
    hint = ''
    if not _holds_resources(root):
        hint = (f' ferpretrain\'s configs are not installed ({root} holds '
                'no model-index.yml and configs/): reinstall it with '
                '`pip install .` from a checkout, which copies them into '
                'the package.')
    raise ConfigError(f'Config {config!r} not found (looked in '
                      f'{os.getcwd()} and {root}).{hint}')


def packaged_checkpoint(uri: str) -> str:
    """The path of the packaged checkpoint ``ferpretrain://<file>``.

    Raises:
        CheckpointError: ``uri`` names no file in :data:`WEIGHTS_DIR` (the
            message names both and says how to get it back).
    """
    from .errors import CheckpointError
    if not uri.startswith(PACKAGED_SCHEME):
        raise CheckpointError(f'{uri!r} is not a packaged checkpoint '
                              f'({PACKAGED_SCHEME}<file>)')
    name = uri[len(PACKAGED_SCHEME):]
    path = osp.normpath(osp.join(WEIGHTS_DIR, name))
    if not name or osp.isabs(name) or osp.relpath(
            path, WEIGHTS_DIR).startswith('..'):
        raise CheckpointError(f'{uri!r}: a packaged checkpoint is a file '
                              f'name under {WEIGHTS_DIR}')
    if not osp.isfile(path):
        raise CheckpointError(
            f'{uri}: the packaged checkpoint {path} is missing. Reinstall '
            'ferpretrain (pip install . from a checkout that holds '
            'ferpretrain/weights/), or pass the file with pretrained=PATH.')
    return path
