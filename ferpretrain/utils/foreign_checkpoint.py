"""Reading checkpoints written by other code bases, without running them.

The official FER releases are not files mmengine wrote: POSTER's are
``torch.save`` of a training state with ``DataParallel`` names, POSTER V2's
pickle a ``RecorderMeter`` class from the authors' ``__main__``, TransFER's
is a PaddlePaddle ``.pdparams`` and the MobileFaceNet landmark weights a
``.pth.tar``. Every converter reads them through this module, which is the
one place where third-party pickles are opened:

- :func:`read_pickled_arrays` reads a plain pickle of ``{name: numpy
  array}`` (the VGGFace2 ResNet-50 weights converted from Caffe) with an
  unpickler that resolves numpy's array rebuilding and nothing else: any
  other global is refused before anything runs.
- :func:`read_torch_release` and :func:`read_paddle_params` resolve only an
  allow-list of globals (torch's own ``weights_only`` list and numpy's
  array rebuilding); every other global the file names becomes an inert
  :class:`OpaquePickledObject` that stores what the pickle asks of it and
  runs nothing. A ``__reduce__`` naming ``os.system`` yields an object
  holding the command string. ``trust=True`` (the converters'
  ``--trust-checkpoint``) unpickles normally instead.
- :func:`extract_state_dict` finds the network's tensors in a training
  state; :func:`rename_state_dict` applies a model family's key rules and
  sorts every key into renamed, dropped (with a reason) or unknown, so a
  converter can report each one; :func:`group_keys` shortens key lists for
  messages.

The key rules themselves live beside the models they serve
(``convert_poster_checkpoint`` in ``models/classifiers/poster.py`` ...).
"""
import io
import os
import os.path as osp
import pickle
import zipfile
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .errors import CheckpointError

__all__ = [
    'OpaquePickledObject', 'read_torch_release', 'read_paddle_params',
    'read_pickled_arrays',
    'describe_unreadable', 'require_checkpoint_file',
    'extract_state_dict', 'rename_state_dict', 'group_keys',
    'PADDLE_NAME_TABLE', 'PADDLE_BIG_PARAM_TABLE'
]

#: The entry ``paddle.save`` adds to a state dict: ``{structured name:
#: parameter name}``. Not a weight.
PADDLE_NAME_TABLE = 'StructuredToParameterName@@'
#: Written by ``paddle.save`` with pickle protocol 2 or 3 when an array is
#: too large for one pickle frame: ``{name: {'OriginShape': shape,
#: 'slices': [slice names]}}``.
PADDLE_BIG_PARAM_TABLE = 'UnpackBigParamInfor@@'


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
    """``'module.name' -> object`` that the release reader resolves.

    torch's own ``weights_only`` allow-list (tensor rebuilding, storages,
    dtypes, ``OrderedDict``, ...) plus numpy's array and scalar rebuilding
    from ferpretrain's safe loader (POSTER V2's RecorderMeter and Paddle's
    files hold numpy arrays). The safe loader's restricted ``getattr`` and
    mmengine's HistoryBuffer are left out: no release holds either.
    """
    from torch import _weights_only_unpickler as wou

    from .checkpoint import get_checkpoint_safe_globals
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
    / ``BUILD`` on it only store their arguments.
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


def require_checkpoint_file(filename: Union[str, os.PathLike],
                            what: str = 'Checkpoint file') -> str:
    """``filename`` (``~`` expanded) if it is a non-empty file.

    Raises:
        FileNotFoundError: It does not exist, or is a folder.
        CheckpointError: It is empty: written incompletely.
    """
    filename = osp.expanduser(os.fspath(filename))
    if not osp.isfile(filename):
        state = 'is a folder' if osp.isdir(filename) else 'does not exist'
        raise FileNotFoundError(
            f'{what} {filename!r} {state} (resolved to '
            f'{osp.abspath(filename)!r}).')
    if osp.getsize(filename) == 0:
        raise CheckpointError(
            f'{what} {filename!r} is empty (0 bytes): it was never written '
            'completely (a run killed while saving, a copy or download that '
            'did not finish). Use another file.')
    return filename


def describe_unreadable(filename: str, what: str,
                        error: Exception) -> CheckpointError:
    """A :class:`CheckpointError` that says what an unreadable file looks
    like: a damaged torch checkpoint, a damaged pickle, or no checkpoint at
    all (and so what to do), with the reader's own error last."""
    with open(filename, 'rb') as f:
        head = f.read(8)
    if head.startswith(b'PK\x03\x04'):
        try:
            with zipfile.ZipFile(filename) as archive:
                archive.namelist()
            looks = 'a zip archive that is not a torch checkpoint'
        except zipfile.BadZipFile:
            looks = ('a truncated or damaged torch checkpoint (its zip '
                     'directory is missing): written incompletely, by a run '
                     'killed while saving or a copy that did not finish')
    elif head[:1] == b'\x80':
        looks = ('a pickle that ends early or is damaged: written '
                 'incompletely, or damaged in a copy')
    else:
        looks = (f'not a checkpoint at all (it starts with {head!r}; '
                 'an image, a text or an HTML page saved under this name?)')
    reason = str(error).strip().split('\n')[0]
    reason = reason if len(reason) <= 120 else reason[:117] + '...'
    return CheckpointError(f'Could not read {filename!r} as {what}: it is '
                           f'{looks}. ({type(error).__name__}: {reason})')


_READ_ERRORS = (pickle.UnpicklingError, EOFError, RuntimeError, OSError,
                io.UnsupportedOperation, AttributeError, KeyError, TypeError,
                ValueError, IndexError)


def read_torch_release(filename: Union[str, os.PathLike],
                       trust: bool = False) -> Any:
    """Load a third-party torch checkpoint on CPU without running its code.

    ``torch.load`` does the tensor plumbing (zip or legacy layout) with a
    pickle module whose unpickler only resolves the allow-list; every other
    global (``__main__.RecorderMeter``, ``posix.system``, ...) becomes an
    inert :class:`OpaquePickledObject`. This is needed because
    ``torch.load(weights_only=True)`` can only admit *real* classes, and
    ``__main__.RecorderMeter`` does not exist here.

    Args:
        filename: The ``.pth`` / ``.pth.tar`` file.
        trust (bool): Unpickle with torch's full unpickler instead (runs
            code stored in the file; only for a file from a source you
            trust).

    Raises:
        FileNotFoundError: No such file.
        CheckpointError: The file is empty, damaged or not a checkpoint
            (the message says which).
    """
    filename = require_checkpoint_file(filename)
    _ReleaseUnpickler._allowed = _allowed_globals()
    try:
        if trust:
            return torch.load(
                filename, map_location='cpu', weights_only=False)
        return torch.load(
            filename,
            map_location='cpu',
            weights_only=False,  # the restriction is _ReleaseUnpickler
            pickle_module=_ReleasePickleModule)
    except _READ_ERRORS as error:
        raise describe_unreadable(filename, 'a torch checkpoint',
                                  error) from error


def _join_big_params(params: Dict[str, Any]) -> Dict[str, Any]:
    """Undo ``paddle.save``'s split of large arrays (protocol 2 and 3)."""
    table = params.pop(PADDLE_BIG_PARAM_TABLE, None)
    if not isinstance(table, dict):
        return params
    for name, info in table.items():
        slices = [params.pop(s) for s in info['slices']]
        params[name] = np.concatenate([s.reshape(-1) for s in slices
                                       ]).reshape(info['OriginShape'])
    return params


def read_paddle_params(
        filename: Union[str, os.PathLike],
        trust: bool = False) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """Read a PaddlePaddle ``.pdparams`` file without Paddle installed.

    ``paddle.save(layer.state_dict(), path)`` converts every tensor to a
    numpy array and pickles ``{structured name: array}`` together with a
    ``'StructuredToParameterName@@'`` table (structured name -> Paddle's
    internal parameter name). Arrays too large for one pickle frame
    (protocols 2 and 3) are stored in slices listed under
    ``'UnpackBigParamInfor@@'`` and joined back here. The pickle is read
    with the same restricted unpickler as :func:`read_torch_release`: only
    numpy's array rebuilding resolves, anything else stays inert.

    Args:
        filename: The ``.pdparams`` file.
        trust (bool): Unpickle with Python's full unpickler instead.

    Returns:
        tuple: ``({name: value}, {name: paddle parameter name})``, the
        values as the file holds them (numpy arrays for weights; anything
        else is left for the caller to report).

    Raises:
        FileNotFoundError: No such file.
        CheckpointError: Not a pickle of a dict (e.g. a Paddle 1.x
            ``save_persistables`` folder file, or a damaged download).
    """
    filename = require_checkpoint_file(filename, 'Paddle parameter file')
    _ReleaseUnpickler._allowed = _allowed_globals()
    try:
        with open(filename, 'rb') as f:
            if trust:
                params = pickle.load(f)
            else:
                params = _ReleaseUnpickler(f, encoding='latin1').load()
    except _READ_ERRORS as error:
        raise describe_unreadable(filename, 'a PaddlePaddle .pdparams file',
                          error) from error
    if not isinstance(params, dict):
        raise CheckpointError(
            f'{filename!r} holds a {type(params).__name__}, not the '
            '{name: array} dict that paddle.save writes for a state dict.')
    params = dict(params)
    names = params.pop(PADDLE_NAME_TABLE, None)
    params = _join_big_params(params)
    return params, dict(names) if isinstance(names, dict) else {}


def _array_globals() -> Dict[str, Any]:
    """``'module.name' -> object`` that :func:`read_pickled_arrays`
    resolves: numpy's array, dtype and scalar rebuilding (both the numpy 1
    ``numpy.core`` and numpy 2 ``numpy._core`` spellings, so Python 2 era
    files load), the protocol-5 buffer rebuild, and the two builtins a
    pickle of arrays may name (``_codecs.encode`` rebuilds bytes in a
    protocol-2 pickle written by Python 3; ``collections.OrderedDict``)."""
    import codecs

    from .checkpoint import _numpy_globals
    allowed: Dict[str, Any] = {}
    for entry in _numpy_globals():
        obj, name = entry if isinstance(
            entry, tuple) else (entry,
                                f'{entry.__module__}.{entry.__qualname__}')
        allowed[name] = obj
    try:  # numpy >= 2
        from numpy._core import numeric
    except ImportError:  # numpy < 2
        from numpy.core import numeric  # type: ignore
    if hasattr(numeric, '_frombuffer'):
        for module in ('numpy._core.numeric', 'numpy.core.numeric'):
            allowed[f'{module}._frombuffer'] = numeric._frombuffer
    allowed['_codecs.encode'] = codecs.encode
    allowed['codecs.encode'] = codecs.encode
    allowed['collections.OrderedDict'] = OrderedDict
    return allowed


class _RefusedGlobal(pickle.UnpicklingError):
    """A pickle named a global outside the array allow-list."""

    def __init__(self, qualified: str):
        super().__init__(qualified)
        self.qualified = qualified


class _ArrayUnpickler(pickle.Unpickler):
    """Resolves numpy's array rebuilding only; any other global stops the
    load at ``find_class``, before it can be called."""
    _allowed: Dict[str, Any] = {}

    def find_class(self, module, name):
        qualified = f'{module}.{name}'
        if module == '__builtin__':  # Python 2's name for builtins
            qualified = f'builtins.{name}'
        if qualified in self._allowed:
            return self._allowed[qualified]
        raise _RefusedGlobal(qualified)


def read_pickled_arrays(filename: Union[str, os.PathLike],
                        trust: bool = False,
                        what: str = 'pickle of numpy arrays'
                        ) -> Dict[str, np.ndarray]:
    """Read a plain pickle of ``{name: numpy array}`` without running it.

    The format of weights converted outside torch, e.g. the VGGFace2
    ResNet-50 ``resnet50_ft_weight.pkl`` (cydonia999/VGGFace2-pytorch,
    from the authors' Caffe model), written by Python 2: read with
    ``encoding='latin1'`` as its readme says, so Python 2 byte strings
    (the arrays' data) come back intact. Only numpy's array rebuilding
    resolves (see :func:`_array_globals`); a file naming any other global
    (``os.system``, a class of the writer's code) is refused, naming it,
    and nothing in it runs.

    Args:
        filename: The ``.pkl`` file.
        trust (bool): Unpickle with Python's full unpickler instead (runs
            code stored in the file; only for a file you trust).
        what (str): What the file should be, for messages.

    Returns:
        dict: ``{name: numpy array}`` in the file's order.

    Raises:
        FileNotFoundError: No such file.
        CheckpointError: The file is empty, damaged, no pickle, does not
            hold a dict of numpy arrays (the message names the file and
            the first offending entry).
        UntrustedCheckpointError: It names a global outside the
            allow-list (the message names the file and the global).
    """
    from .checkpoint import UntrustedCheckpointError
    filename = require_checkpoint_file(filename)
    _ArrayUnpickler._allowed = _array_globals()
    try:
        with open(filename, 'rb') as f:
            if trust:
                content = pickle.load(f, encoding='latin1')
            else:
                content = _ArrayUnpickler(f, encoding='latin1').load()
    except _RefusedGlobal as refused:
        raise UntrustedCheckpointError(
            f'Refused to read {filename!r} as a {what}: it names the Python '
            f'global {refused.qualified!r}, which is not numpy array data, '
            'and unpickling it could run code stored in the file. Nothing '
            'was run. Use a file from the original source, or, only if you '
            'trust this one, pass --trust-checkpoint.') from None
    except _READ_ERRORS as error:
        raise describe_unreadable(filename, f'a {what}', error) from None
    if not isinstance(content, dict):
        raise CheckpointError(
            f'{filename!r} holds a {type(content).__name__}, not the '
            f'{{name: numpy array}} dict of a {what}.')
    arrays: Dict[str, np.ndarray] = {}
    for key, value in content.items():
        if isinstance(key, bytes):  # a Python 2 str read without latin1
            key = key.decode('latin1')
        if not isinstance(key, str):
            raise CheckpointError(
                f'{filename!r}: the key {key!r} is a '
                f'{type(key).__name__}, not a parameter name; a {what} '
                'maps names to arrays.')
        if not isinstance(value, np.ndarray) or value.dtype.kind not in \
                'biuf':
            held = (f'a {value.dtype} array' if isinstance(
                value, np.ndarray) else f'a {type(value).__name__}')
            raise CheckpointError(
                f'{filename!r}: the entry {key!r} is {held}, not a numeric '
                f'numpy array; a {what} maps names to arrays.')
        arrays[key] = value
    return arrays


def extract_state_dict(
    checkpoint: Any,
    keys: Sequence[str] = ('state_dict', )
) -> Tuple[Dict[str, Any], List[str]]:
    """The network's tensors of a training checkpoint, and what is left.

    Args:
        checkpoint: What the file holds.
        keys (Sequence[str]): Entries that may hold the state dict, tried in
            order (``'state_dict'`` for POSTER V2, mmengine and mmcls,
            ``'model_state_dict'`` for POSTER).

    Returns:
        tuple: The state dict and the names of the other entries (training
        state, not kept). A plain state dict is returned as it is.

    Raises:
        CheckpointError: Neither a dict with one of ``keys`` nor a state
            dict (the message lists what the file holds).
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
    if isinstance(checkpoint, OpaquePickledObject):
        held = (f'a pickled {checkpoint.pickled_global} object (a whole '
                'model saved with torch.save(model)? Save its state_dict() '
                'from the code that defines it, or pass --trust-checkpoint '
                'where that code is importable)')
    elif isinstance(checkpoint, dict):
        held = (f'a dict with keys {sorted(map(str, checkpoint))[:10]}')
    else:
        held = f'a {type(checkpoint).__name__}'
    raise CheckpointError(
        f'expected a dict with a {names} entry (or a plain state dict), '
        f'found {held}.')


def rename_state_dict(
    state_dict: Dict[str, Any], rename: Callable[[str], Optional[str]],
    drop_group: Callable[[str], Optional[str]], model_name: str
) -> Tuple['OrderedDict[str, Any]', Dict[str, List[str]], List[str]]:
    """Apply a model family's key rules to every key.

    DataParallel's ``module.`` is stripped first. ``rename(name)`` gives the
    new name or ``None``; a key it does not rename goes to
    ``drop_group(name)``'s label if that is not ``None`` (dropped on purpose,
    e.g. a module the official forward never runs), else to the unknown
    keys. Values pass through unchanged.

    Returns:
        tuple: ``(converted, dropped, unknown)``: the renamed state dict in
        the source's order; ``{reason: [original keys]}``; the original
        keys no rule knows, left out of ``converted``.

    Raises:
        CheckpointError: Two keys map to the same new name (e.g. the file
            holds both ``module.x`` and ``x``).
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
                raise CheckpointError(
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


def group_keys(keys: Sequence[str], limit: int = 8, depth: int = 2) -> str:
    """``'a.b.* (n), ...'`` over the first ``depth`` name parts, for
    messages about many keys."""
    groups: Dict[str, int] = OrderedDict()
    for key in keys:
        name = key[len('module.'):] if key.startswith('module.') else key
        top = '.'.join(name.split('.')[:depth])
        groups[top] = groups.get(top, 0) + 1
    items = [f'{k}.* ({n})' for k, n in groups.items()]
    more = f' and {len(items) - limit} more' if len(items) > limit else ''
    return ', '.join(items[:limit]) + more
