"""Small helpers the model families share: telling a ``Pretrained``
initialisation apart, swapping a state dict's contents in a load pre-hook,
applying key-renaming rules, keeping BatchNorm frozen, and a short summary
of checkpoint keys for logs.

**timm is imported where a model is built** (``from timm.layers import
DropPath, Mlp`` inside the blocks' ``__init__``), not at module level:
importing timm imports every timm model (about 0.2 s, 7 % of ``import
ferpretrain``), and importing ferpretrain must stay cheap for the tools that
only register or read data (``tools/dataset_converters/``). timm's blocks
are used as they are (same parameters, same random draws).
"""
from typing import (Callable, Dict, List, Mapping, MutableMapping, Optional,
                    Tuple)

import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = [
    'is_pretrained', 'replace_state_dict', 'rename_under_prefix',
    'apply_rename_rules', 'head_dims',
    'set_norm_eval', 'init_conv_bn', 'summarise_keys'
]


def head_dims(embed_dims: int, num_heads: int, owner: str) -> int:
    """Channels per attention head; ``owner`` names the module in the error
    when ``embed_dims`` does not split evenly."""
    if embed_dims % num_heads:
        raise ValueError(f'{owner}: embed_dims {embed_dims} is not divisible '
                         f'by num_heads {num_heads}.')
    return embed_dims // num_heads


def is_pretrained(init_cfg) -> bool:
    """Whether ``init_cfg`` (a dict, a list of dicts or None) loads weights.

    mmengine runs a ``Pretrained`` init_cfg *after* the module's own
    ``init_weights``; a module skips its own initialisation then, so that
    nothing is drawn from the random stream for weights that are replaced.
    """
    cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    return any(
        isinstance(c, dict) and c.get('type') == 'Pretrained' for c in cfgs)


def replace_state_dict(state_dict: MutableMapping,
                       converted: Mapping) -> None:
    """Make ``state_dict`` hold ``converted``, in place: a
    ``_register_load_state_dict_pre_hook`` cannot return a new dict."""
    if converted is state_dict:
        return
    state_dict.clear()
    state_dict.update(converted)


def rename_under_prefix(
        state_dict: Mapping, prefix: str,
        rename: Callable[[str], Optional[str]]) -> Tuple[Dict, List[str]]:
    """Apply a backbone's key rules to the keys under ``prefix``.

    ``rename(name)`` gets a key without ``prefix`` and gives its new name
    (without ``prefix``), or None to drop it; keys outside ``prefix`` pass
    untouched (a backbone's pre-hook sees the whole model's state dict).

    Returns:
        tuple: ``(converted, dropped)``: the new state dict in the source's
        order and the original keys that were dropped.
    """
    converted: Dict = {}
    dropped: List[str] = []
    for key, value in state_dict.items():
        if not key.startswith(prefix):
            converted[key] = value
            continue
        new_name = rename(key[len(prefix):])
        if new_name is None:
            dropped.append(key)
        else:
            converted[prefix + new_name] = value
    return converted, dropped


def apply_rename_rules(rules, name: str,
                       fill: Optional[Callable] = None) -> Optional[str]:
    """The new name from the first ``(compiled pattern, template)`` of
    ``rules`` that matches all of ``name`` (the template is formatted with
    the match's named groups, ``fill(match)`` if given), or None."""
    for pattern, template in rules:
        match = pattern.fullmatch(name)
        if match:
            groups = fill(match) if fill else match.groupdict()
            return template.format(**groups)
    return None


def set_norm_eval(module: nn.Module) -> None:
    """Put every BatchNorm of ``module`` in eval mode (``norm_eval``):
    ``requires_grad=False`` alone would still let their statistics move."""
    for m in module.modules():
        if isinstance(m, _BatchNorm):
            m.eval()


def init_conv_bn(module: nn.Module, init_weight: Callable,
                 types=(nn.Conv2d, )) -> None:
    """``init_weight`` on the weight of every layer of ``types`` (zero
    bias), BatchNorm2d to the identity; in module order, so that the random
    stream is drawn in the same order as a hand-written loop."""
    for m in module.modules():
        if isinstance(m, types):
            init_weight(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def summarise_keys(keys: List[str], limit: int = 6) -> str:
    """Keys grouped by their first two name parts, for one log line."""
    groups: Dict[str, int] = {}
    for key in keys:
        head = '.'.join(key.split('.')[:2])
        groups[head] = groups.get(head, 0) + 1
    items = [f'{k}.* ({n})' for k, n in groups.items()]
    more = f' and {len(items) - limit} more groups' if len(
        items) > limit else ''
    return ', '.join(items[:limit]) + more
