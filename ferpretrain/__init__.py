"""ferpretrain: facial expression recognition with transformers, as an
OpenMMLab plugin.

Importing this package registers every ferpretrain component into
mmpretrain's registries (see :mod:`ferpretrain.registry`) and installs the
safe checkpoint loader (see :mod:`ferpretrain.utils.checkpoint`). Configs load
it with ``custom_imports = dict(imports=['ferpretrain'],
allow_failed_imports=False)``.
"""
import warnings

import mmengine
import mmpretrain  # noqa: F401  (asserts its own mmcv/mmengine range)

from .version import __version__, parse_version_info, version_info

_MMENGINE_MIN = '0.10.7'
if parse_version_info(mmengine.__version__) < parse_version_info(
        _MMENGINE_MIN):
    # A warning, not an assert: an assert at import breaks every tool the
    # moment a dependency moves, even for features that would still work.
    warnings.warn(
        f'ferpretrain is tested with mmengine>={_MMENGINE_MIN}, found '
        f'{mmengine.__version__}. Install the versions in '
        'requirements/runtime.txt if something fails.')

from . import datasets, engine, evaluation, models, utils  # noqa: E402,F401

__all__ = [
    '__version__', 'version_info', 'datasets', 'engine', 'evaluation',
    'models', 'utils'
]
