"""Errors a user can fix, and how the tools show them.

ferpretrain's messages for bad input (a dataset file, a config key, a
checkpoint, an argument) name the file, line or key and say how to fix it.
Under a traceback of 35-60 lines, inside hundreds of lines of run logs,
such a message is easy to miss. So the command-line tools run their
``main`` through :func:`run_tool`, which prints the message of a user error
alone, as the last thing on the screen, and exits with status 1; a
traceback appears only when asked for (``--debug`` or
``FERPRETRAIN_DEBUG=1``). Every other exception is a bug and keeps its
traceback.

What counts as a user error (:func:`user_error_message`):

- a :class:`FERPretrainError` (and the classes of ferpretrain that derive
  from it: dataset annotation errors, checkpoint errors, ...), also when it
  was re-raised by mmengine's registry (which prefixes the message with the
  class being built) or by a dataloader worker (whose message carries the
  worker's traceback as text: only the original message is kept);
- the refusal of the safe checkpoint loader
  (:class:`~ferpretrain.utils.checkpoint.UntrustedCheckpointError`);
- a ``ValueError``, ``TypeError``, ``KeyError`` or ``FileNotFoundError``
  raised by an explicit ``raise`` statement in ferpretrain's own code or
  tools: those are the messages written for users (bugs surface as errors
  raised inside Python or a library, which this test never matches);
- a type name missing from a registry (``KeyError: 'RAFBD is not in the
  mmpretrain::dataset registry'``), which gets the closest registered names
  as "did you mean" suggestions.
"""
import difflib
import os
import os.path as osp
import re
import sys
import traceback
from typing import Callable, Iterator, List, Optional

__all__ = [
    'FERPretrainError', 'ConfigError', 'CheckpointError',
    'CheckpointMismatchError', 'DEBUG_ENV', 'registry_suggestions',
    'run_tool', 'user_error_message'
]

#: Set to 1 to see the traceback of user errors in the tools.
DEBUG_ENV = 'FERPRETRAIN_DEBUG'

_PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
_TOOLS_DIR = osp.join(osp.dirname(_PACKAGE_DIR), 'tools')


class FERPretrainError(Exception):
    """An error in the user's input that the message says how to fix.

    The tools print the message without a traceback (:func:`run_tool`).
    Subclasses also derive from the built-in type that fits (``ValueError``
    ...), so code catching that type keeps working.
    """


class ConfigError(FERPretrainError, ValueError):
    """A config value or a command-line argument is wrong."""


class CheckpointError(FERPretrainError, ValueError):
    """A checkpoint file cannot be used: empty, truncated, not a
    checkpoint, or of another format; the message names the file."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint does not hold the weights of the model it is loaded
    into (missing or unexpected keys, other shapes)."""


# ---------------------------------------------------------------------------
# Recognising user errors
# ---------------------------------------------------------------------------
_REGISTRY_MISS = re.compile(
    r"(?P<name>[\w.]+) is not in the (?P<scope>[\w]+)::(?P<registry>[\w ]+) "
    r'registry')
_EXPLICIT_TYPES = (ValueError, TypeError, KeyError, FileNotFoundError)


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error``, then its causes and contexts (innermost last)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _raised_explicitly_by_us(error: BaseException) -> bool:
    """Whether ``error`` comes from a ``raise`` statement of ferpretrain's
    package or tools (the innermost frame of its traceback)."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return False
    last = frames[-1]
    filename = osp.abspath(last.filename)
    ours = filename.startswith(_PACKAGE_DIR + os.sep) or filename.startswith(
        _TOOLS_DIR + os.sep)
    return ours and (last.line or '').lstrip().startswith('raise')


# mmengine's ``build_from_cfg`` re-raises ``type(e)(f'class `X` in
# path.py: {e}')``, once per nesting level.
_BUILD_PREFIX = re.compile(r'class `(?P<cls>\w+)` in [^:]*?\.py: ')


def _message(error: BaseException) -> str:
    text = error.args[0] if (isinstance(error, KeyError)
                             and len(error.args) == 1) else str(error)
    text = str(text)
    built = [m['cls'] for m in _BUILD_PREFIX.finditer(text)]
    text = _BUILD_PREFIX.sub('', text)
    if built and not text.startswith(built[-1]):
        text = f'{built[-1]}: {text}'
    # A dataloader worker's exception is re-raised in the main process with
    # the worker's formatted traceback as its message: keep the original
    # message, which follows the last line naming the exception type.
    marker = 'Original Traceback (most recent call last):'
    if marker in text:
        tail = text.split(marker, 1)[1]
        name = type(error).__name__
        lines = tail.splitlines()
        for i in range(len(lines) - 1, -1, -1):
            head = lines[i].split(':', 1)[0].strip()
            if head == name or head.endswith('.' + name):
                first = lines[i].split(':', 1)[1].strip() if ':' in lines[
                    i] else ''
                text = '\n'.join([first] + lines[i + 1:]).strip()
                break
    return text.strip()


def registry_suggestions(name: str, scope: str, registry: str,
                         limit: int = 3) -> List[str]:
    """Registered names close to ``name`` in the registry mmengine named in
    its ``KeyError`` (``<scope>::<registry>``), its parents and children."""
    try:
        from mmengine.registry import Registry
        import mmpretrain.registry as mmpretrain_registry
    except ImportError:  # pragma: no cover - both are requirements
        return []
    candidates = set()
    for value in vars(mmpretrain_registry).values():
        if isinstance(value, Registry) and value.name == registry.strip():
            root = value
            while root.parent is not None:
                root = root.parent
            stack = [root]
            while stack:
                node = stack.pop()
                prefix = '' if node.scope in (scope, 'mmengine') else \
                    f'{node.scope}.'
                candidates.update(prefix + k for k in node.module_dict)
                stack.extend(node.children.values())
    short = name.split('.')[-1]
    lower = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(
        short.lower(), list(lower), n=limit, cutoff=0.6)
    return [lower[c] for c in close]


def user_error_message(error: BaseException) -> Optional[str]:
    """The message to print for ``error`` if it is a user error, else None.

    See the module docstring for what counts as a user error.
    """
    from .checkpoint import UntrustedCheckpointError
    for link in _chain(error):
        if isinstance(link, KeyError):
            match = _REGISTRY_MISS.search(_message(link))
            if match:
                name = match['name']
                hints = registry_suggestions(name, match['scope'],
                                             match['registry'])
                tip = (f' Did you mean {", ".join(repr(h) for h in hints)}?'
                       if hints else '')
                return (f'{name!r} is not a registered {match["registry"]} '
                        f'type (scope {match["scope"]}).{tip} Check the '
                        '`type` in the config, and that the package '
                        'defining it is in `custom_imports`.')
    for link in _chain(error):
        if isinstance(link, (FERPretrainError, UntrustedCheckpointError)):
            return _message(error if type(error) is type(link) else link)
    # mmengine's registry re-raises ``type(e)(prefix + message)``, so the
    # outermost error holds the class prefix; the innermost one shows where
    # it was raised.
    innermost = list(_chain(error))[-1]
    if (isinstance(innermost, _EXPLICIT_TYPES)
            and _raised_explicitly_by_us(innermost)):
        outer = error if type(error) is type(innermost) else innermost
        return _message(outer)
    return None


def _wants_debug(argv: List[str]) -> bool:
    return '--debug' in argv or os.environ.get(DEBUG_ENV, '') not in (
        '', '0', 'false', 'False')


def run_tool(main: Callable[[], object],
             argv: Optional[List[str]] = None) -> object:
    """Run a tool's ``main()``: user errors become one message and exit 1.

    ``--debug`` in ``argv`` (``sys.argv`` by default; the tools also accept
    it in their parsers) or ``FERPRETRAIN_DEBUG=1`` re-raises instead, with
    the full traceback. Returns what ``main()`` returns.
    """
    argv = sys.argv[1:] if argv is None else argv
    try:
        return main()
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as error:  # noqa: BLE001 - sorted below
        message = None if _wants_debug(argv) else user_error_message(error)
        if message is None:
            raise
        sys.stderr.flush()
        sys.stdout.flush()
        print(f'\nERROR: {message}\n(run with --debug or {DEBUG_ENV}=1 for '
              'the traceback)', file=sys.stderr)
        raise SystemExit(1) from None
