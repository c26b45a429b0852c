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
* ``utils``: checkpoints (safe, foreign, conversion), errors, face
  alignment, :func:`register_all_modules`;
* ``apis``: ONNX export, and ONNX Runtime inference without PyTorch.

Without PyTorch (a deployment that only runs exported models) the import
registers nothing and only :mod:`ferpretrain.apis.onnx_backend` works.
"""
from .version import __version__, parse_version_info, version_info

try:
    import torch  # noqa: F401
except ImportError as _error:
    # A deployment without PyTorch: ferpretrain.apis.onnx_backend runs
    # exported models with onnxruntime; nothing else can work.
    _TORCH_MISSING = f'{type(_error).__name__}: {_error}'
else:
    _TORCH_MISSING = ''

if _TORCH_MISSING:
    __all__ = ['__version__', 'version_info']

    def __getattr__(name):
        raise ImportError(
            f'ferpretrain.{name} needs PyTorch ({_TORCH_MISSING}). Without '
            'it only ferpretrain.apis.onnx_backend (ONNX Runtime inference '
            'of exported models) works; install ferpretrain with its '
            'requirements for the rest.')
else:
    import warnings

    import mmengine
    import mmpretrain  # noqa: F401  (asserts its own mmcv/mmengine range)

    _MMENGINE_MIN = '0.10.7'
    if parse_version_info(mmengine.__version__) < parse_version_info(
            _MMENGINE_MIN):
        # A warning, not an assert: an assert at import breaks every tool
        # the moment a dependency moves, even for features that would still
        # work.
        warnings.warn(
            f'ferpretrain is tested with mmengine>={_MMENGINE_MIN}, found '
            f'{mmengine.__version__}. Install the versions in '
            'requirements/runtime.txt if something fails.')

    from . import datasets, engine, evaluation, models, utils  # noqa: F401
    from ._moved import register_old_paths
    from .utils.setup_env import register_all_modules

    # Old module paths (ferpretrain.utils.runner, ...) stay importable.
    register_old_paths()

    __all__ = [
        '__version__', 'version_info', 'datasets', 'engine', 'evaluation',
        'models', 'utils', 'register_all_modules'
    ]
