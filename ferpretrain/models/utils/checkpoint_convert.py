"""Key conversions for released FER checkpoints.

Each converter maps a third-party state dict onto ferpretrain's module names
and returns what it could not place, so a user sees every skipped key instead
of a silent non-strict load.
"""
from typing import Any, Dict, List, Sequence, Tuple

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


def extract_state_dict(
    checkpoint: Any,
    keys: Sequence[str] = ('state_dict', )
) -> Tuple[Dict[str, Any], List[str]]:
    """The network's tensors of a training checkpoint, and what is left.

    Args:
        checkpoint: What the file holds.
        keys (Sequence[str]): Entries that may hold the state dict, tried in
            order (``'state_dict'`` for POSTER V2 and mmengine,
            ``'model_state_dict'`` for POSTER).

    Returns:
        tuple: The state dict and the names of the other entries (training
        state, not kept). A plain state dict is returned as it is.

    Raises:
        ValueError: Neither a dict with one of ``keys`` nor a state dict.
    """
    if isinstance(checkpoint, dict):
        for key in keys:
            if isinstance(checkpoint.get(key), dict):
                return checkpoint[key], [
                    str(k) for k in checkpoint if k != key
                ]
        if checkpoint and all(
                isinstance(v, torch.Tensor) for v in checkpoint.values()):
            return checkpoint, []
    names = ' or '.join(f'"{k}"' for k in keys)
    raise ValueError(
        f'expected a dict with a {names} entry (or a plain state dict), got '
        f'{type(checkpoint).__name__}' +
        (f' with keys {sorted(map(str, checkpoint))[:10]}' if isinstance(
            checkpoint, dict) else ''))


def save_converted_checkpoint(dst: str,
                              state_dict: Dict[str, Any],
                              classes: Sequence[str],
                              src: str,
                              converter: str,
                              dropped: Dict[str, List[str]],
                              unknown: List[str],
                              left_out: List[str],
                              summary: str = '') -> None:
    """Save ``{'state_dict', 'meta'}`` and print what was converted.

    ``meta.dataset_meta.classes`` carries the class names, which
    ``tools/test.py`` reads for cross-dataset evaluation. Every dropped,
    unknown and left-out entry is printed, grouped.
    """
    import os
    import os.path as osp

    from .posterv2_convert import group_posterv2_keys
    out = dict(
        state_dict=state_dict,
        meta=dict(
            dataset_meta=dict(classes=list(classes)),
            converted_from=osp.basename(src),
            converter=converter))
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save(out, dst)
    print(f'Converted {len(state_dict)} tensors from {src} to {dst} '
          f'({len(classes)} classes: {", ".join(classes)}' +
          (f'; {summary}' if summary else '') + ').')
    for label, keys in dropped.items():
        print(f'  dropped {len(keys):4d} {label}')
    if unknown:
        print(f'  left out {len(unknown)} unknown keys: '
              f'{group_posterv2_keys(unknown)}')
    if left_out:
        print(f'  not kept (training state): {", ".join(left_out)}')
