"""A model and its inputs, ready to be looked into (attention maps, ...).

* :func:`load_model_for_analysis`: the model of a config in eval mode, with
  a checkpoint loaded strictly (a checkpoint of another model is refused,
  not half-loaded: maps drawn by a half-random model would mislead) or, for
  ``'none'``, untrained (its random initialisation, without the config's
  pretrained files);
* :func:`model_classes`: the class names the model predicts;
* :func:`build_test_pipeline` and :func:`load_test_image`: an image file
  as the model sees it, through the config's test pipeline.

Errors in the user's input raise :class:`~ferpretrain.utils.errors.
FERPretrainError` subclasses (or the safe loader's
:class:`~ferpretrain.utils.checkpoint.UntrustedCheckpointError`) whose
message names the file and the fix.
"""
import logging
import os.path as osp
from typing import Optional, Tuple

import numpy as np
import torch.nn as nn
from mmengine.dataset import Compose
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

from ferpretrain.utils.errors import (CheckpointError,
                                      CheckpointMismatchError, ConfigError,
                                      FERPretrainError)

__all__ = [
    'without_pretrained_init', 'load_model_for_analysis', 'model_classes',
    'build_test_pipeline', 'load_test_image'
]

#: What ``load_model_for_analysis`` takes for "no checkpoint".
UNTRAINED = 'none'


def without_pretrained_init(node):
    """A copy of the config ``node`` with every ``init_cfg`` of type
    ``Pretrained`` removed (an untrained model needs none of the pretrained
    files, which may not be there)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            inits = value if isinstance(value, list) else [value]
            if key == 'init_cfg' and any(
                    isinstance(i, dict) and i.get('type') == 'Pretrained'
                    for i in inits):
                continue
            out[key] = without_pretrained_init(value)
        return type(node)(out)
    if isinstance(node, (list, tuple)):
        return type(node)(without_pretrained_init(v) for v in node)
    return node


def _init_weights_quietly(model: nn.Module) -> None:
    # Without a log file init_weights() prints a line per parameter, which
    # would bury a tool's own output.
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)


def load_model_for_analysis(cfg, checkpoint: str,
                            device: str = 'cpu') -> nn.Module:
    """The model of ``cfg`` in eval mode with the weights of ``checkpoint``.

    Args:
        cfg (Config): The model's config (``cfg.model`` is changed for an
            untrained model).
        checkpoint (str): The checkpoint file, loaded strictly, or
            ``'none'`` (any case) for the model as training starts it.
        device (str): Where the model runs.

    Raises:
        CheckpointError: ``checkpoint`` does not exist.
        CheckpointMismatchError: It does not hold exactly the model's
            tensors.
        UntrustedCheckpointError: It carries Python objects other than
            tensors and was not trusted
            (:func:`~ferpretrain.utils.checkpoint.trust_checkpoint`).
    """
    from mmengine.runner import load_checkpoint
    from mmpretrain.apis import init_model

    untrained = checkpoint.lower() == UNTRAINED
    if not untrained and not osp.isfile(checkpoint):
        raise CheckpointError(
            f'checkpoint file {checkpoint!r} not found (resolved to '
            f'{osp.abspath(checkpoint)!r}). Give a checkpoint file, or '
            '"none" for an untrained model.')
    if untrained:
        cfg.model = without_pretrained_init(cfg.model)
    # Built without weights: init_model would load them with strict=False.
    model = init_model(cfg, None, device=device)
    if untrained:
        # What training starts from (truncated-normal position embeddings
        # and CLS token), not the zeros init_model leaves.
        _init_weights_quietly(model)
        return model.eval()
    try:
        loaded = load_checkpoint(model, checkpoint, map_location='cpu',
                                 strict=True)
    except RuntimeError as error:  # missing, unexpected or mis-sized keys
        detail = str(error).strip()
        detail = detail if len(detail) < 800 else detail[:800] + ' ...'
        raise CheckpointMismatchError(
            f'the checkpoint {checkpoint!r} does not fit the model of the '
            f'config:\n{detail}') from None
    meta = loaded.get('meta', {}) if isinstance(loaded, dict) else {}
    if 'dataset_meta' in meta:
        # Where mmpretrain's get_model keeps it: the checkpoint's class
        # names win over the config's dataset.
        model._dataset_meta = meta['dataset_meta']
    return model.eval()


def model_classes(model: nn.Module) -> Optional[tuple]:
    """The class names of the model's predictions, as mmpretrain's
    ``get_model`` (and :func:`load_model_for_analysis`) recorded them, or
    None."""
    classes = (getattr(model, '_dataset_meta', None) or {}).get('classes')
    return tuple(classes) if classes else None


def build_test_pipeline(cfg) -> Compose:
    """The config's test pipeline (through dataset wrappers), loading from
    ``img_path``."""
    from mmpretrain.registry import TRANSFORMS
    dataset = cfg.test_dataloader.dataset
    while 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset.dataset
    if 'pipeline' not in dataset:
        raise ConfigError('the config\'s test_dataloader.dataset has '
                          'no pipeline to prepare the images with.')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return Compose([TRANSFORMS.build(t) for t in dataset.pipeline])


def load_test_image(pipeline: Compose, path: str) -> Tuple[dict, np.ndarray]:
    """The packed sample of the image file ``path`` and the face the model
    sees, ``(H, W, 3)`` uint8 in the loader's channel order (BGR for
    OpenCV decoding).

    Raises:
        FERPretrainError: The pipeline fails on the file, or gives more
            than one image (multi-crop test pipelines).
    """
    try:
        data = pipeline(dict(img_path=path, sample_idx=0))
    except Exception as error:  # any transform: name the file, not a frame
        raise FERPretrainError(f'{path}: the test pipeline failed: '
                               f'{type(error).__name__}: {error}') from None
    inputs = data['inputs']
    if inputs.ndim != 3:
        raise FERPretrainError(
            f'{path}: the test pipeline gives inputs of shape '
            f'{tuple(inputs.shape)}, not one (C, H, W) image (multi-crop '
            'test pipelines are not supported).')
    # The data preprocessor converts channels for the model, not here.
    face = inputs.permute(1, 2, 0).numpy()
    face = np.clip(face, 0, 255).astype(np.uint8)
    if face.shape[2] == 1:
        face = np.repeat(face, 3, axis=2)
    return data, np.ascontiguousarray(face)
