"""ferpretrain: facial expression recognition with transformers, as an
OpenMMLab plugin.

Importing this package registers every ferpretrain component into
mmpretrain's registries (see :mod:`ferpretrain.registry`), and does nothing
else. To *run* them, call :func:`register_all_modules` (the tools do), or
let a config do it: ``custom_imports = dict(imports=['ferpretrain.plugin'],
allow_failed_imports=False)``. It installs the safe checkpoint loader and
mmcv's hue fix (see :mod:`ferpretrain.utils.setup_env`).

The package, one line a part (README's "Layout" draws the whole tree):

* ``datasets``: the FER datasets as their owners ship them, class names and
  name matching (``categories``), transforms, samplers;
* ``models``: one module a model family (``classifiers/poster.py``,
  ``classifiers/poster_v2.py``, ``necks/pooling_vit.py`` for APViT and
  TransFER, ``backbones/``), blocks several families share in ``utils``;
* ``evaluation``: metrics and cross-dataset evaluation by class name;
* ``engine``: the Runner, hooks, optimizer wrappers, CPU setup;
* ``analysis``: complexity counting and attention recording;
* ``apis``: using a trained model: ``FERInferencer`` finds, aligns and
  classifies every face of photos, videos and a camera (``tools/demo/``);
  ``visualization`` draws its results;
* ``utils``: checkpoints (safe, foreign, conversion), errors, face
  alignment, :func:`register_all_modules`.
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
from ._moved import register_old_paths  # noqa: E402
from .utils.setup_env import register_all_modules  # noqa: E402

# Old module paths (ferpretrain.utils.runner, ...) stay importable.
register_old_paths()

__all__ = [
    '__version__', 'version_info', 'datasets', 'engine', 'evaluation',
    'models', 'utils', 'register_all_modules'
]
