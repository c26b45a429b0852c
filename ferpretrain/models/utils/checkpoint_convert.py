"""Key conversions for released FER checkpoints.

Each converter maps a third-party state dict onto ferpretrain's module names
and returns what it could not place, so a user sees every skipped key instead
of a silent non-strict load.
"""
from typing import Dict, List, Sequence, Tuple

import torch

from ferpretrain.datasets.categories import (APVIT_RAFDB_CATEGORIES,
                                             RAFDB_CATEGORIES,
                                             label_permutation)

# Official APViT (mmcls 0.x) prefixes -> ferpretrain ImageClassifier names.
_APVIT_PREFIXES: Sequence[Tuple[str, str]] = (
    ('extractor.', 'backbone.'),
    ('vit.projs.0.', 'neck.proj.'),
    ('vit.cls_token', 'neck.cls_token'),
    ('vit.cls_pos_embed', 'neck.cls_pos_embed'),
    ('vit.patch_pos_embed', 'neck.patch_pos_embed'),
    ('vit.blocks.', 'neck.blocks.'),
    ('vit.norm.', 'neck.norm.'),
    ('head.fc.', 'head.fc.'),
)


def convert_apvit_checkpoint(
    state_dict: Dict[str, torch.Tensor],
    src_classes: Sequence[str] = APVIT_RAFDB_CATEGORIES,
    dst_classes: Sequence[str] = RAFDB_CATEGORIES,
) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Convert APViT's released checkpoint (``APViT_RAF-3eeecf7d.pth``).

    The official code (a fork of mmcls 0.x) names the IR-50
    ``extractor.*`` (already nested ``body.<stage>.<unit>``), the ViT
    ``vit.*`` with the projection in ``vit.projs.0`` and the classifier
    ``head.fc``. Its head rows follow APViT's label order (Anger, Disgust,
    Fear, Sadness, Happiness, Surprise, Neutral); they are permuted to
    ``dst_classes`` (ferpretrain's RAF-DB order by default), so that the
    converted model predicts ``RAFDB.METAINFO`` indices.

    Args:
        state_dict (dict): The official ``state_dict`` (``module.`` prefixes
            from DataParallel are stripped).
        src_classes, dst_classes (Sequence[str]): Head row order of the
            source and the target.

    Returns:
        tuple: (converted state dict, keys that matched no rule).
    """
    perm = label_permutation(src_classes, dst_classes)
    converted: Dict[str, torch.Tensor] = {}
    unknown: List[str] = []
    for key, value in state_dict.items():
        name = key[len('module.'):] if key.startswith('module.') else key
        for src, dst in _APVIT_PREFIXES:
            if name.startswith(src):
                new_name = dst + name[len(src):]
                if new_name in ('head.fc.weight', 'head.fc.bias'):
                    if value.shape[0] != len(perm):
                        raise ValueError(
                            f'{key}: {value.shape[0]} classes, but the label '
                            f'order has {len(perm)}: {list(src_classes)}.')
                    value = value[perm].clone()
                converted[new_name] = value
                break
        else:
            unknown.append(key)
    return converted, unknown
