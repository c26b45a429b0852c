"""Does a checkpoint hold the weights of this model? Compare, then explain.

mmengine loads checkpoints non-strictly and only logs the keys that do not
match, so a checkpoint of another model, another class count or a part of
a model runs on random weights without anyone noticing. The converters and
the tools compare first (:func:`compare_state_dict`) and, when the file does
not cover the model, stop with :func:`describe_mismatch`: the first keys of
each kind and the most likely cause (an official release not yet converted,
another model family, another number of classes, a file with only a
backbone, POSTER's other network).
"""
import re
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from .foreign_checkpoint import group_keys

__all__ = [
    'LoadReport', 'compare_state_dict', 'describe_mismatch',
    'guess_model_family', 'load_strictly', 'strip_prefix'
]

_LISTED = 3


@dataclass
class LoadReport:
    """How a state dict covers a model's ``state_dict()``.

    Attributes:
        matched (list[str]): Keys present in both with the same shape.
        missing (list[str]): Model keys the file lacks (they would stay at
            their initial values).
        unexpected (list[str]): File keys the model does not have.
        mismatched (list[tuple]): ``(key, file shape, model shape)`` of
            keys present in both with different shapes.
    """
    matched: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    mismatched: List[Tuple[str, tuple, tuple]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every key of both sides matches: a strict load would succeed."""
        return not (self.missing or self.unexpected or self.mismatched)

    @property
    def not_loaded(self) -> List[str]:
        """Model keys that keep their initial values: missing or
        mismatched."""
        return self.missing + [k for k, _, _ in self.mismatched]

    def head_only(self) -> bool:
        """Only the classification head differs (fine-tuning to another
        class count)."""
        keys = self.missing + self.unexpected + [
            k for k, _, _ in self.mismatched
        ]
        return bool(keys) and all(k.startswith('head.') for k in keys)


def strip_prefix(state_dict: Mapping[str, torch.Tensor],
                 prefix: str = 'module.') -> Dict[str, torch.Tensor]:
    """Remove a wrapper's prefix (DataParallel's ``module.``) where present,
    as mmengine's loader does with its default ``revise_keys``."""
    return {
        k[len(prefix):] if k.startswith(prefix) else k: v
        for k, v in state_dict.items()
    }


def compare_state_dict(
        model: Union[nn.Module, Mapping[str, torch.Tensor]],
        state_dict: Mapping[str, torch.Tensor]) -> LoadReport:
    """Compare ``state_dict`` with what ``model.state_dict()`` expects.

    Non-persistent buffers (e.g. POSTER V2's relative position index) are
    not part of a state dict and are not required.
    """
    expected = model.state_dict() if isinstance(model, nn.Module) else model
    report = LoadReport()
    for key, value in expected.items():
        if key not in state_dict:
            report.missing.append(key)
            continue
        given = state_dict[key]
        given_shape = tuple(getattr(given, 'shape', ()))
        if given_shape != tuple(value.shape):
            report.mismatched.append((key, given_shape, tuple(value.shape)))
        else:
            report.matched.append(key)
    report.unexpected = [k for k in state_dict if k not in expected]
    return report


# (pattern over ferpretrain keys, family): the first match wins.
_FAMILIES = (
    (r'neck\.cross_attns\.', 'POSTER V2'),
    (r'neck\.layers\.\d+\.blocks\.', 'POSTER'),
    (r'neck\.feature_attention\.', 'TransFER'),
    (r'neck\.patch_pos_embed', 'APViT (PoolingViT)'),
    (r'(landmark_head|conv_6_sep)\.', 'MobileFaceNet (landmarks)'),
    (r'backbone\.body\.', 'an IR-ResNet classifier'),
)
# Official, unconverted layouts: (pattern, release, converter).
_OFFICIAL = (
    (r'(module\.)?VIT\.', 'POSTER V2', 'posterv2_to_ferpretrain.py'),
    (r'(module\.)?pyramid_fuse\.', 'POSTER', 'poster_to_ferpretrain.py'),
    (r'(module\.)?attention\.las\.', 'TransFER (PaddlePaddle)',
     'transfer_paddle_to_ferpretrain.py'),
    (r'(module\.)?vit\.projs\.', 'APViT', 'apvit_to_ferpretrain.py'),
    (r'(module\.)?conv_6_sep\.', 'MobileFaceNet',
     'mobilefacenet_to_ferpretrain.py'),
)


def guess_model_family(keys: Sequence[str]) -> Optional[str]:
    """The model family a ferpretrain state dict's keys suggest."""
    for pattern, family in _FAMILIES:
        regex = re.compile(pattern)
        if any(regex.match(k) for k in keys):
            return family
    return None


def _official_release(keys: Sequence[str]) -> Optional[Tuple[str, str]]:
    for pattern, release, converter in _OFFICIAL:
        regex = re.compile(pattern)
        if any(regex.match(k) for k in keys):
            return release, converter
    return None


def _first(keys: Sequence[str]) -> str:
    shown = ', '.join(keys[:_LISTED])
    return shown + (f' (+{len(keys) - _LISTED} more)'
                    if len(keys) > _LISTED else '')


def _causes(report: LoadReport, file_keys: Sequence[str],
            model_keys: Sequence[str], meta: Optional[dict]) -> List[str]:
    causes = []
    official = _official_release(file_keys)
    if official and not report.matched:
        release, converter = official
        return [f'this is an official {release} file, not a ferpretrain '
                f'checkpoint: convert it first with tools/model_converters/'
                f'{converter}']
    file_family = guess_model_family(file_keys)
    model_family = guess_model_family(model_keys)
    if file_family and model_family and file_family != model_family:
        causes.append(f'the file holds a {file_family} model, the config '
                      f'builds {model_family}: use the config the file was '
                      'trained or converted for')
    heads = [(k, s, t) for k, s, t in report.mismatched
             if k == 'head.fc.weight' or k.endswith('.fc.weight')]
    if heads:
        _, given, wanted = heads[0]
        if given and wanted and given[0] != wanted[0]:
            causes.append(
                f'the file\'s classifier has {given[0]} outputs, the '
                f'config\'s {wanted[0]}: it was trained on another number '
                f'of classes; use the matching config or set '
                f'model.head.num_classes={given[0]}')
    if (report.mismatched and not causes and file_family == model_family
            and len(report.mismatched) > len(heads)):
        causes.append('the file holds the same kind of network with other '
                      'widths or depths: use the config it was trained '
                      'with')
    token_mix = [k for k in report.missing + report.unexpected
                 if '.token_mix.' in k]
    if token_mix and not causes:
        has = any('.token_mix.' in k for k in file_keys)
        causes.append(
            'POSTER\'s two official networks differ in the token-mixing '
            f'convs: the file {"has" if has else "has none"}, the config '
            f'{"does not build them" if has else "builds them"}; set '
            f'model.neck.token_mixing={has} (RAF-DB: True; AffectNet: '
            'False)')
    file_tops = {k.split('.')[0] for k in file_keys}
    absent = sorted({k.split('.')[0]
                     for k in report.missing} - file_tops)
    if absent and report.matched and not causes:
        counts = {
            top: sum(k.startswith(top + '.') for k in report.missing)
            for top in absent
        }
        causes.append(
            'the file holds only a part of the model: nothing for ' +
            ', '.join(f'{t} ({n} tensors)' for t, n in counts.items()) +
            ' (a pretrained backbone? a landmark network?); load it '
            'through init_cfg, or use a full checkpoint')
    meta = meta or {}
    if meta.get('config'):
        options = meta.get('cfg_options') or {}
        causes.append(
            f'the file was converted for {meta["config"]}' +
            (' with --cfg-options ' + ' '.join(
                f'{k}={v}' for k, v in options.items()) if options else ''))
    return causes


def describe_mismatch(report: LoadReport,
                      checkpoint: str,
                      file_keys: Sequence[str],
                      model_keys: Sequence[str],
                      target: str = 'the model',
                      meta: Optional[dict] = None) -> str:
    """A short message: what does not match, the first keys, the likely
    cause.

    Args:
        report (LoadReport): From :func:`compare_state_dict`.
        checkpoint (str): The file, as the user named it.
        file_keys, model_keys (Sequence[str]): Both key sets (for the
            diagnosis).
        target (str): What it was loaded into, e.g. ``'the model of
            configs/poster/raf.py'``.
        meta (dict, optional): The checkpoint's ``meta``.
    """
    parts = []
    if report.missing:
        parts.append(f'{len(report.missing)} of the model\'s tensors are '
                     f'missing from the file ({group_keys(report.missing, 3)}'
                     f'; first: {_first(report.missing)})')
    if report.unexpected:
        parts.append(f'{len(report.unexpected)} tensors of the file are not '
                     f'in the model (first: {_first(report.unexpected)})')
    if report.mismatched:
        shown = '; '.join(f'{k}: {list(s)} in the file, {list(t)} in the '
                          'model' for k, s, t in report.mismatched[:_LISTED])
        parts.append(f'{len(report.mismatched)} have another shape '
                     f'({shown})')
    message = (f'{checkpoint} does not match {target}: ' + '; '.join(parts) +
               '.')
    causes = _causes(report, file_keys, model_keys, meta)
    if causes:
        message += ' Likely cause: ' + '; '.join(causes) + '.'
    return message


def load_strictly(model: nn.Module,
                  checkpoint: Union[str, Mapping],
                  target: str,
                  name: Optional[str] = None,
                  trust: Optional[bool] = None,
                  action: str = 'loaded') -> dict:
    """Load a checkpoint into ``model``: every tensor, nothing else, or
    nothing at all.

    The one strict loader of the tools that take a user's checkpoint
    (``FERInferencer``, ``get_model(..., pretrained=)``, the ONNX export).

    Args:
        model (nn.Module): Receives the tensors.
        checkpoint (str | Mapping): A file, read with the safe reader
            (:func:`~ferpretrain.utils.checkpoint.load_checkpoint_file`),
            or a checkpoint already read (a dict with a ``state_dict``, or
            a state dict itself). A ``module.`` prefix (DataParallel's) is
            dropped, as mmengine's loader drops it.
        target (str): What it loads into, for the message, e.g. ``'the
            model of configs/poster/raf.py'``.
        name (str, optional): The file as the user named it (default:
            ``checkpoint`` when a path).
        trust (bool, optional): Passed to the safe reader.
        action (str): What would have happened, for the message:
            ``'Nothing was <action>.'``.

    Returns:
        dict: The checkpoint's ``meta`` (``{}`` if none).

    Raises:
        CheckpointError: The file cannot be read or holds no state dict.
        CheckpointMismatchError: It does not hold exactly the model's
            tensors (the message names the first keys of each kind and the
            likely cause); the model is left untouched.
        UntrustedCheckpointError: It carries Python objects beyond the
            safe list and is not trusted.
    """
    from .checkpoint import load_checkpoint_file
    from .errors import CheckpointError, CheckpointMismatchError
    if isinstance(checkpoint, Mapping):
        loaded, name = checkpoint, name or 'the checkpoint'
    else:
        name = name or str(checkpoint)
        loaded = load_checkpoint_file(
            checkpoint, map_location='cpu', trust=trust)
    if not isinstance(loaded, Mapping):
        raise CheckpointError(
            f'{name} holds a {type(loaded).__name__}, not a checkpoint (a '
            'dict with a state_dict).')
    state_dict = loaded.get('state_dict', loaded)
    if not isinstance(state_dict, Mapping):
        raise CheckpointError(f'{name}: its state_dict is a '
                              f'{type(state_dict).__name__}, not a dict.')
    state_dict = strip_prefix(state_dict, 'module.')
    meta = loaded.get('meta')
    meta = dict(meta) if isinstance(meta, Mapping) else {}
    report = compare_state_dict(model, state_dict)
    if not report.complete:
        raise CheckpointMismatchError(
            describe_mismatch(report, name, list(state_dict),
                              list(model.state_dict()), target, meta) +
            f' Nothing was {action}. Pass the checkpoint of this model: '
            'tools/train.py saves one, the converters in '
            'tools/model_converters write one from an official release.')
    model.load_state_dict(state_dict, strict=True)
    return meta
