"""Data preprocessor of (neutral, target) image pairs."""
from typing import Optional

import torch
from mmpretrain.models.utils import ClsDataPreprocessor

from ferpretrain.registry import MODELS
from ferpretrain.utils.errors import ConfigError


@MODELS.register_module()
class PairDataPreprocessor(ClsDataPreprocessor):
    """:class:`mmpretrain.models.utils.ClsDataPreprocessor` for inputs that
    are image pairs, as :class:`~ferpretrain.datasets.NeutralPairDataset`
    gives them.

    Each sample's input is one ``[2, C, H, W]`` tensor (index 0 the neutral
    face, 1 the target face); a batch is a list of them (mmengine's
    ``pseudo_collate``) or one ``[B, 2, C, H, W]`` tensor
    (``default_collate``). The pairs are flattened to ``2B`` images, which
    the parent casts, converts to RGB, normalises and pads all alike (both
    images of a pair get exactly the same treatment), and the result is
    returned as ``inputs`` of shape ``[B, 2, C, H, W]``. The labels are
    handled as by the parent (one per pair: the target's).

    Batch augmentations (``batch_augments``: Mixup, CutMix) are refused:
    they would blend images of different subjects and break the pairs.

    Args:
        mean, std, pad_size_divisor, pad_value, to_rgb, to_onehot,
            num_classes: As :class:`ClsDataPreprocessor`.
        batch_augments (dict, optional): Must be None.

    Examples:
        >>> data_preprocessor = dict(
        ...     type='PairDataPreprocessor', num_classes=7,
        ...     mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
        ...     to_rgb=True)
    """

    def __init__(self, *args, batch_augments: Optional[dict] = None,
                 **kwargs):
        if batch_augments:
            raise ConfigError(
                'PairDataPreprocessor: batch_augments (Mixup, CutMix) are '
                'not supported: they would mix images of different subjects '
                'into a (neutral, target) pair. Remove batch_augments from '
                'the data_preprocessor; augment the pairs in the dataset '
                'pipeline instead (NeutralPairDataset applies the same '
                'random decisions to both images).')
        super().__init__(*args, batch_augments=None, **kwargs)

    @staticmethod
    def _not_pairs(shape) -> ConfigError:
        return ConfigError(
            'PairDataPreprocessor is for paired inputs: each sample must be '
            'a [2, C, H, W] tensor (neutral, target), as NeutralPairDataset '
            f'gives, got a sample of shape {tuple(shape)}. For single '
            'images use ClsDataPreprocessor; for pairs wrap the dataset in '
            'NeutralPairDataset.')

    def forward(self, data: dict, training: bool = False) -> dict:
        """Flatten the pairs, preprocess as the parent does, and return
        ``inputs`` of shape ``[B, 2, C, H, W]``."""
        inputs = data['inputs']
        if isinstance(inputs, torch.Tensor):
            if inputs.dim() != 5 or inputs.size(1) != 2:
                raise self._not_pairs(inputs.shape[1:])
            batch_size = inputs.size(0)
            flat = inputs.flatten(0, 1)
        else:
            inputs = list(inputs)
            for pair in inputs:
                if not isinstance(pair, torch.Tensor) or pair.dim() != 4 \
                        or pair.size(0) != 2:
                    raise self._not_pairs(getattr(pair, 'shape', ()))
            batch_size = len(inputs)
            flat = [image for pair in inputs for image in pair]
        out = super().forward(dict(data, inputs=flat), training)
        images = out['inputs']
        out['inputs'] = images.view(batch_size, 2, *images.shape[1:])
        return out
