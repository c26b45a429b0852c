"""Convert POSTER V2 release checkpoints to ferpretrain's :class:`PosterV2`.

The official code (Talented-Q/POSTER_V2, ``models/PosterV2_7cls.py``,
``pyramid_trans_expr2``; ``models/vit_model.py``) saves
``{'epoch', 'state_dict', 'best_acc', 'optimizer', 'recorder', ...}`` from
its ``main.py``. The ``recorder`` is a ``RecorderMeter`` defined in that
script's ``__main__``, so a plain ``torch.load`` fails (no such class) and a
``weights_only`` load refuses the file. :func:`load_posterv2_release` reads
it without running anything the file names: see its docstring.

Key mapping (official name after stripping DataParallel's ``module.``;
``i`` = 1, 2, 3 is the scale, ``i-1`` its ferpretrain index):

.. code:: text

    official                              ferpretrain
    ir_back.input_layer.*                 backbone.input_layer.*
    ir_back.body{i}.<u>.*                 backbone.body.{i-1}.<u>.*
    face_landback.conv_{3,4,5}.model.<n>.* landmark_backbone.conv_{3,4,5}.<n>.*
    face_landback.<layer>.*               landmark_backbone.<layer>.*
        (layer: conv1, conv2_dw, conv_23, conv_34, conv_45, conv_6_sep)
    conv{i}.*                             neck.image_downsamples.{i-1}.*
    last_face_conv.*                      neck.landmark_projs.2.*
    window{i}.norm.*                      neck.cross_attns.{i-1}.norm1.*
    attn{i}.relative_position_bias_table  neck.cross_attns.{i-1}.attn.<same>
    attn{i}.qkv.* / attn{i}.proj.*        neck.cross_attns.{i-1}.attn.<same>
    ffn{i}.gamma1 / ffn{i}.gamma2         neck.cross_attns.{i-1}.gamma1/gamma2
    ffn{i}.norm.*                         neck.cross_attns.{i-1}.norm2.*
    ffn{i}.mlp.fc1/fc2.*                  neck.cross_attns.{i-1}.mlp.fc1/fc2.*
    embed_q.{0,1}.*                       neck.token_embeds.0.{0,1}.*
    embed_k.0.*                           neck.token_embeds.1.0.*
    embed_v.proj.*   (1x1 conv)           neck.token_embeds.2.*
    VIT.cls_token / VIT.pos_embed         neck.cls_token / neck.pos_embed
    VIT.blocks.<n>.norm1/norm2.*          neck.layers.<n>.norm1/norm2.*
    VIT.blocks.<n>.attn.qkv/proj.*        neck.layers.<n>.attn.qkv/proj.*
    VIT.blocks.<n>.mlp.fc1/fc2.*          neck.layers.<n>.mlp.fc1/fc2.*
    VIT.norm.*                            neck.norm.*
    VIT.se_block.linear1/linear2.*        neck.se.linear1/linear2.*
    VIT.head.linear.*                     head.fc.*

Dropped keys (returned, grouped, never silently lost), all of modules the
official forward never runs or of buffers ferpretrain recomputes:

- ``ir_back.output_layer.*``: IR-50's face-recognition output layer;
- ``face_landback.output_layer.*``: the MobileFaceNet landmark regressor
  (its output is discarded by the official forward, ferpretrain does not
  build it);
- ``attn{i}.relative_position_index``: derived from the window size, a
  non-persistent buffer in ferpretrain;
- ``VIT.patch_embed.*``, ``VIT.CON1.*``, ``VIT.IRLinear1.*``,
  ``VIT.IRLinear2.*``, ``VIT.eca_block.*``, ``VIT.blocks.<n>.conv.*``
  (per-block ``Conv1d``): built by the official ViT, never run.

Any other key is *unknown*: it is left out of the result and returned, so a
caller (the converter refuses to write by default) can report it.

Nothing is permuted: POSTER V2 reads RAF-DB through ``ImageFolder`` over
class folders ``1``..``7``, i.e. label ``code - 1`` in the order Surprise,
Fear, Disgust, Happiness, Sadness, Anger, Neutral, which is ferpretrain's
``RAFDB_CATEGORIES``. The 8-class AffectNet model (``PosterV2_8cls.py``,
same key layout, 8 head rows) uses folders ``0``..``7``, the AffectNet codes,
i.e. ferpretrain's ``AFFECTNET_CATEGORIES``.
"""
import io
import os
import os.path as osp
import pickle
import re
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Tuple, Union

import torch

__all__ = [
    'OpaquePickledObject', 'convert_posterv2_checkpoint',
    'group_posterv2_keys', 'load_posterv2_release'
]

_MLP = r'mlp\.(?:fc1|fc2)\.(?:weight|bias)'
_WB = r'(?:weight|bias)'
_LANDMARK_LAYERS = r'(?:conv1|conv2_dw|conv_23|conv_34|conv_45|conv_6_sep)'


def _scale(match: 're.Match') -> str:
    return str(int(match.group('i')) - 1)


# (pattern, replacement) on the official name without ``module.``. A
# replacement is a format string over the named groups, ``{s}`` being the
# 0-based scale of group ``i``.
_RENAMES = [
    (r'ir_back\.input_layer\.(?P<r>.+)', 'backbone.input_layer.{r}'),
    (r'ir_back\.body(?P<i>[1-3])\.(?P<r>\d+\..+)', 'backbone.body.{s}.{r}'),
    (r'face_landback\.(?P<l>conv_[345])\.model\.(?P<r>\d+\..+)',
     'landmark_backbone.{l}.{r}'),
    (rf'face_landback\.(?P<l>{_LANDMARK_LAYERS})\.(?P<r>.+)',
     'landmark_backbone.{l}.{r}'),
    (rf'conv(?P<i>[1-3])\.(?P<r>{_WB})', 'neck.image_downsamples.{s}.{r}'),
    (rf'last_face_conv\.(?P<r>{_WB})', 'neck.landmark_projs.2.{r}'),
    (rf'window(?P<i>[1-3])\.norm\.(?P<r>{_WB})',
     'neck.cross_attns.{s}.norm1.{r}'),
    (rf'attn(?P<i>[1-3])\.(?P<r>relative_position_bias_table|'
     rf'(?:qkv|proj)\.{_WB})', 'neck.cross_attns.{s}.attn.{r}'),
    (r'ffn(?P<i>[1-3])\.(?P<r>gamma[12])', 'neck.cross_attns.{s}.{r}'),
    (rf'ffn(?P<i>[1-3])\.norm\.(?P<r>{_WB})',
     'neck.cross_attns.{s}.norm2.{r}'),
    (rf'ffn(?P<i>[1-3])\.(?P<r>{_MLP})', 'neck.cross_attns.{s}.{r}'),
    (rf'embed_q\.(?P<r>[01]\.{_WB})', 'neck.token_embeds.0.{r}'),
    (rf'embed_k\.0\.(?P<r>{_WB})', 'neck.token_embeds.1.0.{r}'),
    (rf'embed_v\.proj\.(?P<r>{_WB})', 'neck.token_embeds.2.{r}'),
    (r'VIT\.(?P<r>cls_token|pos_embed)', 'neck.{r}'),
    (rf'VIT\.blocks\.(?P<n>\d+)\.(?P<r>(?:norm1|norm2)\.{_WB}|'
     rf'attn\.(?:qkv|proj)\.{_WB}|{_MLP})', 'neck.layers.{n}.{r}'),
    (rf'VIT\.norm\.(?P<r>{_WB})', 'neck.norm.{r}'),
    (rf'VIT\.se_block\.(?P<r>linear[12]\.{_WB})', 'neck.se.{r}'),
    (rf'VIT\.head\.linear\.(?P<r>{_WB})', 'head.fc.{r}'),
]
_RENAMES = [(re.compile(p), r) for p, r in _RENAMES]

# (pattern, group label) of keys that are dropped on purpose.
_DROPS = [
    (r'ir_back\.output_layer\..+',
     'ir_back.output_layer (IR-50 face-recognition head, never run)'),
    (r'face_landback\.output_layer\..+',
     'face_landback.output_layer (landmark regressor, output unused)'),
    (r'attn[1-3]\.relative_position_index',
     'attn{1,2,3}.relative_position_index (derived buffer, recomputed)'),
    (r'VIT\.patch_embed\..+', 'VIT.patch_embed (never run)'),
    (r'VIT\.CON1\..+', 'VIT.CON1 (never run)'),
    (r'VIT\.IRLinear[12]\..+', 'VIT.IRLinear1/2 (never run)'),
    (r'VIT\.eca_block\..+', 'VIT.eca_block (never run)'),
    (r'VIT\.blocks\.\d+\.conv\..+',
     'VIT.blocks.<n>.conv (per-block Conv1d, never run)'),
]
_DROPS = [(re.compile(p), label) for p, label in _DROPS]


def _rename(name: str) -> Union[str, None]:
    for pattern, replacement in _RENAMES:
        match = pattern.fullmatch(name)
        if match:
            groups = match.groupdict()
            if groups.get('i') is not None:
                groups['s'] = _scale(match)
            return replacement.format(**groups)
    return None


def _drop_group(name: str) -> Union[str, None]:
    for pattern, label in _DROPS:
        if pattern.fullmatch(name):
            return label
    return None


def rename_state_dict(
    state_dict: Dict[str, Any], rename: Callable[[str], Union[str, None]],
    drop_group: Callable[[str], Union[str, None]], model_name: str
) -> Tuple['OrderedDict[str, Any]', Dict[str, List[str]], List[str]]:
    """Apply a converter's rules to every key (``module.`` stripped first).

    ``rename(name)`` gives the new name or ``None``; a key it does not
    rename goes to ``drop_group(name)``'s label if that is not ``None``,
    else to the unknown keys. Returns ``(converted, dropped, unknown)`` as
    :func:`convert_posterv2_checkpoint` documents.

    Raises:
        ValueError: Two keys map to the same new name.
    """
    converted: 'OrderedDict[str, Any]' = OrderedDict()
    sources: Dict[str, str] = {}
    dropped: Dict[str, List[str]] = OrderedDict()
    unknown: List[str] = []
    for key, value in state_dict.items():
        name = key[len('module.'):] if key.startswith('module.') else key
        new_name = rename(name)
        if new_name is not None:
            if new_name in converted:
                raise ValueError(
                    f'{model_name} keys {sources[new_name]!r} and {key!r} '
                    f'both map to {new_name!r}.')
            converted[new_name] = value
            sources[new_name] = key
            continue
        label = drop_group(name)
        if label is not None:
            dropped.setdefault(label, []).append(key)
        else:
            unknown.append(key)
    return converted, dropped, unknown


def convert_posterv2_checkpoint(
    state_dict: Dict[str, Any]
) -> Tuple['OrderedDict[str, Any]', Dict[str, List[str]], List[str]]:
    """Rename an official POSTER V2 state dict to :class:`PosterV2` names.

    See the module docstring for the table. ``module.`` (DataParallel) is
    stripped from every key that has it. Values are passed through as they
    are: nothing is reshaped or permuted (the class orders already agree).

    Args:
        state_dict (dict): ``checkpoint['state_dict']`` of a release file.

    Returns:
        tuple: ``(new_state_dict, dropped_keys, unknown_keys)``:
        the converted state dict (official order kept); the dropped keys
        (original names) grouped by reason, ``{label: [keys]}``; the keys
        no rule knows (original names), left out of the result.

    Raises:
        ValueError: Two official keys map to the same name (e.g. the file
            holds both ``module.x`` and ``x``).
    """
    return rename_state_dict(state_dict, _rename, _drop_group, 'POSTER V2')


def group_posterv2_keys(keys: List[str], limit: int = 8) -> str:
    """``'a.b.* (n), ...'`` over the first two name parts, for messages."""
    groups: Dict[str, int] = OrderedDict()
    for key in keys:
        name = key[len('module.'):] if key.startswith('module.') else key
        top = '.'.join(name.split('.')[:2])
        groups[top] = groups.get(top, 0) + 1
    items = [f'{k}.* ({n})' for k, n in groups.items()]
    more = f' and {len(items) - limit} more' if len(items) > limit else ''
    return ', '.join(items[:limit]) + more


# ---------------------------------------------------------------------------
# Reading a release file without running anything it names
# ---------------------------------------------------------------------------
class OpaquePickledObject:
    """Inert stand-in for a pickled object whose class is not allowed.

    Whatever the pickle asks of it is *stored*, never executed: the
    constructor arguments (``args``, ``kwargs``), the ``BUILD`` state
    (``state``), list items (``items``) and dict items (``entries``). A
    subclass per pickled global keeps its name in ``pickled_global``.
    """
    pickled_global = '?'

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        obj.__dict__.update(
            args=args, kwargs=kwargs, state=None, items=[], entries={})
        return obj

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.__dict__['state'] = state

    def append(self, item):
        self.__dict__['items'].append(item)

    def extend(self, items):
        self.__dict__['items'].extend(items)

    def __setitem__(self, key, value):
        self.__dict__['entries'][key] = value

    def __repr__(self):
        return f'<opaque {self.pickled_global}>'


def _allowed_globals() -> Dict[str, Any]:
    """``'module.name' -> object`` the release reader resolves for real.

    torch's own ``weights_only`` allow-list (tensor rebuilding, storages,
    dtypes, ``OrderedDict``, ...) plus the numpy entries of ferpretrain's
    safe loader (RecorderMeter keeps numpy arrays). ferpretrain's restricted
    ``getattr`` and mmengine's HistoryBuffer are left out: a POSTER V2
    release holds neither.
    """
    from torch import _weights_only_unpickler as wou

    from ferpretrain.utils.checkpoint import get_checkpoint_safe_globals
    allowed = dict(wou._get_allowed_globals())
    for entry in get_checkpoint_safe_globals():
        obj, name = entry if isinstance(
            entry, tuple) else (entry,
                                f'{entry.__module__}.{entry.__qualname__}')
        if name.endswith('.getattr') or 'HistoryBuffer' in name:
            continue
        allowed[name] = obj
    return allowed


class _ReleaseUnpickler(pickle.Unpickler):
    """Resolves allow-listed globals; everything else becomes opaque.

    ``find_class`` is the only way a pickle reaches code (``GLOBAL``,
    ``STACK_GLOBAL``, ``INST``, ``EXT*``): an unknown name resolves to a
    fresh :class:`OpaquePickledObject` subclass, so ``REDUCE`` / ``NEWOBJ``
    / ``BUILD`` on it only store their arguments (a ``__reduce__`` naming
    ``os.system`` builds an opaque object holding the command string).
    """
    _allowed: Dict[str, Any] = {}
    _opaque: Dict[str, type] = {}

    def find_class(self, module, name):
        qualified = f'{module}.{name}'
        if qualified in self._allowed:
            return self._allowed[qualified]
        if qualified not in self._opaque:
            self._opaque[qualified] = type(
                name if name.isidentifier() else 'Opaque',
                (OpaquePickledObject, ), {
                    'pickled_global': qualified,
                    '__module__': __name__
                })
        return self._opaque[qualified]


class _ReleasePickleModule:
    """What ``torch.load(pickle_module=...)`` needs: Unpickler and load."""
    __name__ = 'ferpretrain_release_pickle'
    Unpickler = _ReleaseUnpickler

    @staticmethod
    def load(file, **kwargs):
        return _ReleaseUnpickler(file, **kwargs).load()


def load_posterv2_release(filename: Union[str, os.PathLike]) -> Any:
    """Load a POSTER V2 ``.pth`` release on CPU without running its code.

    ``torch.load`` does the tensor plumbing (zip or legacy layout) with a
    pickle module whose unpickler only resolves the allow-list of
    :func:`_allowed_globals`; every other global (``__main__.RecorderMeter``,
    ``posix.system``, ...) is an inert :class:`OpaquePickledObject`. This
    is needed because ``torch.load(weights_only=True)`` with
    ``safe_globals`` can only admit *real* classes: ``__main__.RecorderMeter``
    does not exist here.

    Raises:
        FileNotFoundError: No such file.
        ValueError: The file is not a torch checkpoint (message names it).
    """
    filename = osp.expanduser(os.fspath(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(
            f'POSTER V2 checkpoint {filename!r} does not exist.')
    _ReleaseUnpickler._allowed = _allowed_globals()
    try:
        return torch.load(
            filename,
            map_location='cpu',
            weights_only=False,  # the restriction is _ReleaseUnpickler
            pickle_module=_ReleasePickleModule)
    except (pickle.UnpicklingError, EOFError, RuntimeError, OSError,
            io.UnsupportedOperation, AttributeError, KeyError,
            TypeError) as error:
        raise ValueError(f'Could not read {filename!r} as a torch checkpoint: '
                         f'{type(error).__name__}: {error}') from error
