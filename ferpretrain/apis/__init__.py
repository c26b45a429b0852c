"""Using a trained model.

* :mod:`~ferpretrain.apis.model`: models by name (:func:`get_model`,
  :func:`list_models`, :func:`init_model`); importing ferpretrain adds the
  names to mmpretrain's ``ModelHub`` too (lazily: they are read the first
  time ``mmpretrain.list_models`` or ``mmpretrain.get_model`` asks);
* :class:`FERInferencer` finds, aligns and classifies every face of
  photos, folders, videos and a camera (``tools/demo/`` are thin scripts
  over it), with PyTorch or an exported ONNX model;
* :mod:`~ferpretrain.apis.sources`: where images and frames come from;
* :mod:`~ferpretrain.apis.config_info`: what a config says about the test
  pipeline, the input size, the classes and the alignment geometry;
* :mod:`~ferpretrain.apis.records`: results as JSON and CSV rows;
* :mod:`~ferpretrain.apis.cli`: the demos' shared command line;
* :mod:`~ferpretrain.apis.onnx_export` writes a model to ONNX with its
  class names and preprocessing in the file's metadata, and
  :mod:`~ferpretrain.apis.onnx_backend` runs such a file with ONNX Runtime.

Only :mod:`~ferpretrain.apis.onnx_backend` is imported here; every other
name loads its module on first use. That keeps ``import
ferpretrain.apis.onnx_backend`` working in a deployment that has
onnxruntime and numpy but no PyTorch, and keeps ``import ferpretrain``
from paying for OpenCV video and ONNX when they are not used.
"""
import importlib

from .onnx_backend import (DEPLOY_INSTALL_HINT, METADATA_KEY,
                           METADATA_VERSION, ONNXFERModel, OnnxMetadataError,
                           OnnxModelInfo, preprocess_faces, read_model_info,
                           set_model_info, softmax, write_model_info)

# name -> the submodule that defines it (loaded on first use).
_LAZY = {
    # models by name
    'DEFAULT_MODEL': 'model',
    'get_model': 'model',
    'init_model': 'model',
    'list_models': 'model',
    'register_model_index': 'model',
    'model_index_path': 'model',
    'read_model_index': 'model',
    'check_model_index': 'model',
    # the inferencer and its parts
    'FERInferencer': 'inferencer',
    'STAGES': 'inferencer',
    'BACKENDS': 'inferencer',
    'DTYPES': 'inferencer',
    'InputSourceError': 'sources',
    'VIDEO_EXTENSIONS': 'sources',
    'collect_images': 'sources',
    'is_capture': 'sources',
    'is_video_source': 'sources',
    'open_video_source': 'sources',
    'ALIGNMENT_KEYS': 'config_info',
    'alignment_geometry': 'config_info',
    'config_classes': 'config_info',
    'config_input_size': 'config_info',
    'test_pipeline_cfg': 'config_info',
    'csv_fields': 'records',
    'face_rows': 'records',
    'json_ready': 'records',
    'write_csv': 'records',
    'write_json': 'records',
    # ONNX export (needs torch)
    'export_onnx': 'onnx_export',
    'export_model': 'onnx_export',
    'model_info_from_config': 'onnx_export',
    'verify_onnx': 'onnx_export',
}

__all__ = [
    'DEPLOY_INSTALL_HINT', 'METADATA_KEY', 'METADATA_VERSION', 'ONNXFERModel',
    'OnnxMetadataError', 'OnnxModelInfo', 'preprocess_faces',
    'read_model_info', 'set_model_info', 'softmax', 'write_model_info'
] + sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f'{__name__}.{_LAZY[name]}')
        value = getattr(module, name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
