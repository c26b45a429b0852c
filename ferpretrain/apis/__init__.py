"""What a user calls: models by name (:mod:`.model`).

Importing this package adds ferpretrain's model names to mmpretrain's
``ModelHub`` (lazily: they are read with mmpretrain's own, the first time
``mmpretrain.list_models`` or ``mmpretrain.get_model`` asks).
"""
from .model import (check_model_index, get_model, init_model, list_models,
                    model_index_path, read_model_index, register_model_index)

__all__ = [
    'get_model', 'init_model', 'list_models', 'register_model_index',
    'model_index_path', 'read_model_index', 'check_model_index'
]
