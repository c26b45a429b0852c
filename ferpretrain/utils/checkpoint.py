"""Safe loading of mmengine checkpoints with torch.load(weights_only=True).

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``: a
restricted unpickler that only rebuilds tensors, containers and the globals
on an allow-list. mmengine 0.10.7 calls ``torch.load`` without
``weights_only``, so every checkpoint mmengine itself saves (its
``message_hub`` holds :class:`~mmengine.logging.HistoryBuffer` objects and
numpy arrays) fails to load: resuming, ``load_from``, ``Pretrained`` init and
``mmpretrain.get_model(..., pretrained=...)`` all break.

The blunt fixes are both unsafe: ``weights_only=False`` (or
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``) runs any code a file carries, and
allow-listing the globals one by one ends at ``builtins.getattr``, because
``HistoryBuffer._statistics_methods`` pickles its functions as
``getattr(HistoryBuffer, 'min')``; a free ``getattr`` reaches
``__globals__``, ``__builtins__`` and from there ``eval``.

This module keeps ``weights_only=True`` and allow-lists only data-like,
side-effect-free globals, plus a *restricted* ``getattr`` that resolves
nothing but HistoryBuffer's statistics methods. A file that needs anything
else is refused with :class:`UntrustedCheckpointError`, which names the file
and the offending globals and says how to trust it on purpose:

* ``--trust-checkpoint`` on ``tools/train.py`` and ``tools/test.py``;
* the environment variable ``FERPRETRAIN_TRUSTED_CHECKPOINTS``
  (``os.pathsep``-separated paths, compared by real path; this is how trust
  reaches ``torchrun`` children);
* :func:`trust_checkpoint` in Python.

:func:`install_safe_checkpoint_loader` registers :func:`load_from_local` as
mmengine's loader for local paths (``CheckpointLoader.register_scheme``, the
documented extension point); ``import ferpretrain`` calls it.
"""
import contextlib
import io
import os
import os.path as osp
import pickle
import pickletools
import re
import warnings
import zipfile
from typing import Any, Callable, Iterator, List, Optional, Union

import torch

__all__ = [
    'TRUSTED_CHECKPOINTS_ENV', 'UntrustedCheckpointError',
    'checkpoint_safe_globals', 'get_checkpoint_safe_globals',
    'install_safe_checkpoint_loader', 'is_trusted_checkpoint',
    'load_checkpoint_file', 'load_from_local', 'trust_checkpoint',
    'find_unsafe_globals', 'is_safetensors_file'
]

#: Environment variable listing trusted checkpoint files
#: (``os.pathsep``-separated). An environment variable rather than a module
#: global so that ``torchrun`` / ``srun`` children inherit the decision.
TRUSTED_CHECKPOINTS_ENV = 'FERPRETRAIN_TRUSTED_CHECKPOINTS'

# The statistics methods HistoryBuffer pickles by reference. Anything else
# reached through getattr in a checkpoint is refused.
_HISTORY_BUFFER_METHODS = frozenset({'min', 'max', 'mean', 'current'})


class UntrustedCheckpointError(pickle.UnpicklingError):
    """A checkpoint needs globals outside the safe allow-list to load.

    A subclass of :class:`pickle.UnpicklingError` so that code catching
    torch's own weights-only failure keeps working.
    """


# ---------------------------------------------------------------------------
# Trust
# ---------------------------------------------------------------------------
def _real(path: Union[str, os.PathLike]) -> str:
    return osp.realpath(osp.expanduser(os.fspath(path)))


def _trusted_paths() -> List[str]:
    value = os.environ.get(TRUSTED_CHECKPOINTS_ENV, '')
    return [_real(p) for p in value.split(os.pathsep) if p.strip()]


def trust_checkpoint(path: Union[str, os.PathLike]) -> str:
    """Trust one checkpoint file: it will load with ``weights_only=False``.

    Only do this for a file whose origin you trust: loading it can run any
    code stored in it. The decision is recorded in the environment variable
    ``FERPRETRAIN_TRUSTED_CHECKPOINTS`` so that child processes (``torchrun``
    workers, dataloader workers) see it too.

    Args:
        path: The checkpoint file. Compared by real path, so symlinks and
            relative paths name the same file.

    Returns:
        str: The real path that is now trusted.
    """
    real = _real(path)
    current = [p for p in os.environ.get(TRUSTED_CHECKPOINTS_ENV,
                                         '').split(os.pathsep) if p.strip()]
    if real not in (_real(p) for p in current):
        current.append(real)
        os.environ[TRUSTED_CHECKPOINTS_ENV] = os.pathsep.join(current)
    return real


def is_trusted_checkpoint(path: Union[str, os.PathLike]) -> bool:
    """Whether ``path`` was trusted by :func:`trust_checkpoint` or by
    ``FERPRETRAIN_TRUSTED_CHECKPOINTS``."""
    return _real(path) in _trusted_paths()


# ---------------------------------------------------------------------------
# The allow-list
# ---------------------------------------------------------------------------
def _history_buffer_cls():
    from mmengine.logging.history_buffer import HistoryBuffer
    return HistoryBuffer


def _allowed_history_buffer_names() -> frozenset:
    # Statistics registered with ``HistoryBuffer.register_statistics`` are
    # allowed too, but never private or dunder names: those are the road to
    # ``__globals__``/``__class__``/``__subclasses__``.
    registered = _history_buffer_cls()._statistics_methods
    extra = {
        name
        for name in registered
        if isinstance(name, str) and not name.startswith('_')
    }
    return _HISTORY_BUFFER_METHODS | extra


def _safe_getattr(obj: Any, name: Any) -> Any:
    """A ``getattr`` that only resolves HistoryBuffer's statistics methods.

    Registered with torch's weights-only unpickler under the names
    ``builtins.getattr`` and ``__builtin__.getattr``: pickle protocol 2
    serialises ``HistoryBuffer.min`` as ``getattr(HistoryBuffer, 'min')``.
    A free ``getattr`` would let a file walk to arbitrary code
    (``getattr(f, '__globals__')['__builtins__']['eval']``), so everything
    else raises :class:`pickle.UnpicklingError`.
    """
    history_buffer = _history_buffer_cls()
    if ((obj is history_buffer or isinstance(obj, history_buffer))
            and isinstance(name, str)
            and name in _allowed_history_buffer_names()):
        registered = history_buffer._statistics_methods.get(name)
        # A registered extra name only counts if the class attribute *is*
        # the registered function: a file's HistoryBuffer state can add
        # names to the registry while it loads (``__setstate__``), and
        # must not unlock other attributes such as
        # ``register_statistics`` that way.
        if (name in _HISTORY_BUFFER_METHODS
                or (registered is not None
                    and getattr(history_buffer, name, None) is registered)):
            return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'Refused getattr({_describe(obj)}, {name!r}): the safe checkpoint '
        'loader only resolves the statistics methods of mmengine\'s '
        f'HistoryBuffer ({sorted(_HISTORY_BUFFER_METHODS)}) through getattr.')


def _describe(obj: Any) -> str:
    """A short, side-effect-free description of an object for messages."""
    if isinstance(obj, type) or callable(obj):
        module = getattr(obj, '__module__', None) or '?'
        qualname = getattr(obj, '__qualname__', None) or type(obj).__name__
        return f'{module}.{qualname}'
    return f'<{type(obj).__module__}.{type(obj).__qualname__} object>'


def _numpy_globals() -> list:
    """numpy types a mmengine checkpoint holds (log histories, scalars)."""
    import numpy as np
    try:  # numpy >= 2
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray  # type: ignore
    # Files written under either numpy major name the other module path:
    # register both spellings so that old checkpoints load under numpy 2
    # and new ones under numpy 1.
    allowed: list = []
    for module in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        allowed.append((multiarray._reconstruct, f'{module}._reconstruct'))
        allowed.append((multiarray.scalar, f'{module}.scalar'))
    allowed += [np.ndarray, np.dtype]
    # numpy >= 1.25 exposes one class per dtype; pickles of dtypes may name
    # them. They describe memory layout only.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        for name in dir(dtypes):
            value = getattr(dtypes, name)
            if isinstance(value, type) and issubclass(value, np.dtype):
                allowed.append(value)
    return allowed


def get_checkpoint_safe_globals() -> list:
    """The globals the safe loader allows on top of torch's defaults.

    Returns:
        list: Items for :func:`torch.serialization.safe_globals`: objects or
        ``(object, 'module.qualname')`` tuples.
    """
    import codecs
    allowed: list = [
        _history_buffer_cls(),
        (_safe_getattr, 'builtins.getattr'),
        (_safe_getattr, '__builtin__.getattr'),
        # Bytes inside protocol-2 pickles are rebuilt with codecs.encode;
        # torch already allows ``_codecs.encode``, some files name the
        # public module.
        (codecs.encode, 'codecs.encode'),
    ]
    allowed += _numpy_globals()
    return allowed


def _torch_supports_safe_loading() -> bool:
    # ``(object, 'module.name')`` allow-list entries, which the restricted
    # getattr needs, arrived with torch 2.6.
    from mmengine.utils import digit_version
    serialization = torch.serialization
    return (digit_version(torch.__version__) >= digit_version('2.6.0')
            and hasattr(serialization, 'add_safe_globals')
            and hasattr(serialization, 'get_safe_globals'))


@contextlib.contextmanager
def checkpoint_safe_globals() -> Iterator[None]:
    """Allow the safe globals for the ``weights_only`` loads in the block.

    Unlike :class:`torch.serialization.safe_globals`, entries the caller had
    already added with :func:`torch.serialization.add_safe_globals` stay
    allowed on exit. The HistoryBuffer statistics registry is restored on
    exit: ``HistoryBuffer.__setstate__`` merges a file's statistics methods
    into the class-wide dict, and a crafted file must not be able to swap
    in another allowed callable there.
    """
    if not _torch_supports_safe_loading():
        raise RuntimeError(
            'Safe checkpoint loading needs torch >= 2.6, found '
            f'{torch.__version__}.')
    before = set(torch.serialization.get_safe_globals())
    added = [g for g in get_checkpoint_safe_globals() if g not in before]
    history_buffer = _history_buffer_cls()
    statistics = dict(history_buffer._statistics_methods)
    torch.serialization.add_safe_globals(added)
    try:
        yield
    finally:
        _remove_safe_globals(added)
        _restore_statistics(history_buffer, statistics)


def _remove_safe_globals(globals_: list) -> None:
    # Public API has only add/clear; the context manager class of torch
    # removes through this private helper, so use it and fall back to
    # clear-and-re-add on torch versions that lack it.
    from torch import _weights_only_unpickler as wou
    remove = getattr(wou, '_remove_safe_globals', None)
    if remove is not None:
        remove(globals_)
        return
    keep = [
        g for g in torch.serialization.get_safe_globals() if g not in globals_
    ]
    torch.serialization.clear_safe_globals()
    torch.serialization.add_safe_globals(keep)


def _restore_statistics(history_buffer, saved: dict) -> None:
    methods = history_buffer._statistics_methods
    # The genuine defaults may have been registered during the load (the
    # first HistoryBuffer of the process); keep those, drop anything else.
    genuine = dict(saved)
    for name in _HISTORY_BUFFER_METHODS:
        genuine.setdefault(name, getattr(history_buffer, name))
    if methods != genuine:
        methods.clear()
        methods.update(genuine)


# ---------------------------------------------------------------------------
# Listing the offending globals for the error message
# ---------------------------------------------------------------------------
def _globals_in_pickle_stream(stream: io.BufferedIOBase,
                              max_pickles: int) -> List[str]:
    """Statically list the globals of successive pickles in ``stream``.

    Uses :func:`pickletools.genops`, which disassembles without executing
    anything. Handles ``GLOBAL`` and protocol-4 ``STACK_GLOBAL`` (whose
    operands are the two strings pushed before it).
    """
    found: List[str] = []
    for _ in range(max_pickles):
        strings: List[str] = []
        memo: dict = {}
        memo_size = 0  # MEMOIZE numbers every object, strings or not
        last: Any = None
        try:
            for opcode, arg, _pos in pickletools.genops(stream):
                name = opcode.name
                if name in ('GLOBAL', 'INST'):
                    module, _, attr = str(arg).partition(' ')
                    found.append(f'{module}.{attr}')
                elif name == 'STACK_GLOBAL' and len(strings) >= 2:
                    found.append(f'{strings[-2]}.{strings[-1]}')
                elif 'UNICODE' in name or name in ('STRING', 'BINSTRING',
                                                   'SHORT_BINSTRING'):
                    strings.append(str(arg))
                    last = str(arg)
                    continue
                elif name == 'MEMOIZE':
                    if last is not None:
                        memo[memo_size] = last
                    memo_size += 1
                    continue
                elif name in ('PUT', 'BINPUT', 'LONG_BINPUT'):
                    if last is not None:
                        memo[arg] = last
                    continue
                elif name in ('GET', 'BINGET', 'LONG_BINGET'):
                    if arg in memo:
                        strings.append(memo[arg])
                        last = memo[arg]
                        continue
                last = None
        except Exception:  # noqa: BLE001 - a best-effort diagnostic only
            break
    # Protocol 2 writes Python 2 names (``__builtin__``); report the Python 3
    # spelling, like torch does.
    fixed = [re.sub(r'^__builtin__\.', 'builtins.', g) for g in found]
    return list(dict.fromkeys(fixed))


def find_unsafe_globals(filename: str) -> List[str]:
    """Globals in a checkpoint that the safe loader would refuse.

    Tries :func:`torch.serialization.get_unsafe_globals_in_checkpoint` first;
    it refuses legacy (non-zip) files and protocol-4 pickles, for which a
    static disassembly of the pickle stream is used instead. Never executes
    anything from the file.

    Args:
        filename: Path of the checkpoint.

    Returns:
        list[str]: ``module.qualname`` of each offending global (may be
        empty when the refusal came from something else, e.g. a refused
        ``getattr``).
    """
    with checkpoint_safe_globals():
        try:
            return sorted(
                torch.serialization.get_unsafe_globals_in_checkpoint(filename))
        except Exception:  # noqa: BLE001 - fall back to our own scan
            pass
        from torch import _weights_only_unpickler as wou
        allowed = set(wou._get_allowed_globals())
        allowed |= set(wou._get_user_allowed_globals())
    try:
        with open(filename, 'rb') as f:
            if zipfile.is_zipfile(f):
                f.seek(0)
                with zipfile.ZipFile(f) as zf:
                    names = [
                        n for n in zf.namelist() if n.endswith('/data.pkl')
                        or n == 'data.pkl'
                    ]
                    if not names:
                        return []
                    data = io.BytesIO(zf.read(names[0]))
                found = _globals_in_pickle_stream(data, max_pickles=1)
            else:
                f.seek(0)
                # Legacy layout: magic number, protocol, sys info, the
                # object, then the storage keys.
                found = _globals_in_pickle_stream(f, max_pickles=5)
    except OSError:
        return []
    return sorted(g for g in found if g not in allowed)


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------
def _torch_reason(message: str) -> str:
    """The informative part of torch's weights-only error message."""
    message = re.sub(r'\x1b\[[0-9;]*m', '', message)
    match = re.search(r'WeightsUnpickler error: (.*?)(?:\n\nCheck the '
                      r'documentation|$)', message, re.S)
    if match:
        return match.group(1).strip()
    parts = [p.strip() for p in message.split('\n\n') if p.strip()]
    parts = [p for p in parts if not p.startswith('Check the documentation')]
    return parts[-1] if parts else message.strip()


def _untrusted_message(filename: str, unsafe: List[str], reason: str) -> str:
    real = _real(filename)
    listed = ', '.join(unsafe) if unsafe else '(none listed statically)'
    return (
        f'Refused to load the checkpoint {filename!r}: it contains Python '
        'objects outside the safe allow-list (tensors, containers, numpy '
        'arrays and mmengine log buffers).\n'
        f'  Offending globals: {listed}\n'
        f'  Loader said: {reason}\n'
        'Loading it would run code stored in the file. Only do so if you '
        'trust where it came from; then either\n'
        '  - pass --trust-checkpoint to tools/train.py or tools/test.py, or\n'
        f'  - export {TRUSTED_CHECKPOINTS_ENV}={real} (several files: '
        f'separate them with {os.pathsep!r}), or\n'
        f'  - call ferpretrain.utils.trust_checkpoint({real!r}) in Python.\n'
        'Better: convert it once, from a trusted session, to a plain state '
        'dict, e.g. torch.save({"state_dict": torch.load(path, '
        'weights_only=False)["state_dict"]}, new_path), and use the new '
        'file.')


def _looks_untrusted(filename: str, error: Exception) -> List[str]:
    """The globals that made the safe load fail, or [] when the failure is
    not a refused global (a damaged file, or no checkpoint at all)."""
    unsafe = find_unsafe_globals(filename)
    if unsafe:
        return unsafe
    reason = _torch_reason(str(error))
    if re.search(r'Unsupported global|Refused getattr|GLOBAL', reason):
        return ['(none listed statically)']
    return []


def load_checkpoint_file(filename: Union[str, os.PathLike],
                         map_location: Any = None,
                         trust: Optional[bool] = None) -> Any:
    """Load a checkpoint file safely.

    ``.safetensors`` files (recognised by their header, whatever their
    name) hold tensors only and load as a plain state dict. Untrusted
    files load with ``torch.load(weights_only=True)`` and the allow-list
    of :func:`get_checkpoint_safe_globals`; trusted ones with
    ``weights_only=False``. A file that cannot be a checkpoint (empty,
    truncated by a run killed while saving, an image or a web page saved
    under a checkpoint's name) is reported as such, not as unsafe.

    Args:
        filename: Local path of the checkpoint.
        map_location: As in :func:`torch.load`.
        trust: ``True`` trusts the file, ``False`` never trusts it, ``None``
            (default) trusts it only if it is listed in
            ``FERPRETRAIN_TRUSTED_CHECKPOINTS`` (see :func:`trust_checkpoint`).

    Returns:
        The unpickled object (usually a dict).

    Raises:
        FileNotFoundError: The file does not exist.
        CheckpointError: The file is empty, damaged or not a checkpoint.
        UntrustedCheckpointError: The file needs globals outside the
            allow-list and is not trusted.
    """
    from .foreign_checkpoint import (describe_unreadable,
                                     require_checkpoint_file)
    filename = require_checkpoint_file(filename)
    if is_safetensors_file(filename):
        return _load_safetensors(filename, map_location)
    if trust is None:
        trust = is_trusted_checkpoint(filename)
    try:
        if trust:
            return torch.load(
                filename, map_location=map_location, weights_only=False)
        with checkpoint_safe_globals():
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        if trust:
            raise describe_unreadable(filename, 'a checkpoint',
                                      error) from None
        unsafe = _looks_untrusted(filename, error)
        if not unsafe:
            raise describe_unreadable(filename, 'a checkpoint',
                                      error) from None
        raise UntrustedCheckpointError(
            _untrusted_message(filename, unsafe,
                               _torch_reason(str(error)))) from None
    except (EOFError, RuntimeError, KeyError, ValueError, OSError,
            zipfile.BadZipFile) as error:
        raise describe_unreadable(filename, 'a checkpoint', error) from None


def is_safetensors_file(filename: str) -> bool:
    """Whether ``filename`` is in the safetensors format (Hugging Face's
    and timm's hub files): an 8-byte little-endian header length, then a
    JSON header starting with ``{``."""
    with open(filename, 'rb') as f:
        head = f.read(9)
    return (len(head) == 9 and head[8:9] == b'{'
            and int.from_bytes(head[:8], 'little') < (100 << 20))


def _load_safetensors(filename: str, map_location: Any) -> dict:
    # safetensors holds tensors only, no code: no trust is needed.
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    device = map_location if isinstance(map_location,
                                        (str, torch.device)) else 'cpu'
    try:
        return load_file(filename, device=str(device))
    except (SafetensorError, OSError, ValueError) as error:
        from .foreign_checkpoint import describe_unreadable
        raise describe_unreadable(filename, 'a safetensors checkpoint',
                                  error) from None


def load_from_local(filename: str, map_location: Any = None) -> Any:
    """mmengine's local-path loader, made safe.

    Registered for the empty prefix of
    :class:`mmengine.runner.CheckpointLoader`, so ``Runner.resume``,
    ``load_from``, ``Pretrained`` init and ``mmpretrain.get_model`` use it.
    The name matters: mmengine logs ``loader.__name__[10:]`` ("local").
    """
    return load_checkpoint_file(filename, map_location=map_location)


def install_safe_checkpoint_loader() -> Callable:
    """Make :func:`load_from_local` mmengine's loader for local paths.

    Idempotent. ``import ferpretrain`` calls it. On torch < 2.6 (no
    ``(object, name)`` allow-list entries, and ``torch.load`` still defaults
    to ``weights_only=False``) it leaves mmengine's loader in place and
    warns once.

    Returns:
        The loader now registered for local paths.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    if not _torch_supports_safe_loading():
        warnings.warn(
            f'torch {torch.__version__} < 2.6: ferpretrain\'s safe checkpoint '
            'loader is not installed and mmengine loads checkpoints with '
            'weights_only=False, which runs any code a file carries. Load '
            'only checkpoints you trust, or upgrade torch.')
        return CheckpointLoader._schemes.get('')
    if CheckpointLoader._schemes.get('') is not load_from_local:
        # force=True replaces mmengine's own entry for the '' prefix; that
        # is the point of this loader, and register_scheme is mmengine's
        # documented way to do it.
        CheckpointLoader.register_scheme(
            prefixes='', loader=load_from_local, force=True)
    return load_from_local
