"""Using trained models: ONNX export and ONNX Runtime inference.

:mod:`~ferpretrain.apis.onnx_backend` runs an exported model without
PyTorch and is imported here; the names that need torch
(:mod:`~ferpretrain.apis.onnx_export`) load on first use, so that
``import ferpretrain.apis`` works in a deployment without torch.
"""
from .onnx_backend import (DEPLOY_INSTALL_HINT, METADATA_KEY,
                           METADATA_VERSION, ONNXFERModel, OnnxMetadataError,
                           OnnxModelInfo, preprocess_faces, read_model_info,
                           set_model_info, softmax, write_model_info)

_TORCH_NAMES = {
    'export_onnx': 'onnx_export',
    'export_model': 'onnx_export',
    'model_info_from_config': 'onnx_export',
    'verify_onnx': 'onnx_export',
}

__all__ = [
    'DEPLOY_INSTALL_HINT', 'METADATA_KEY', 'METADATA_VERSION', 'ONNXFERModel',
    'OnnxMetadataError', 'OnnxModelInfo', 'preprocess_faces',
    'read_model_info', 'set_model_info', 'softmax', 'write_model_info'
] + sorted(_TORCH_NAMES)


def __getattr__(name):
    # The exporter needs torch, mmengine and the models: load it only when
    # one of its names is used.
    if name in _TORCH_NAMES:
        import importlib
        module = importlib.import_module(f'{__name__}.{_TORCH_NAMES[name]}')
        return getattr(module, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
