"""The package's layers import downwards only.

``utils`` sits below everything, ``datasets`` and ``models`` sit side by
side above it, and ``evaluation`` and ``engine`` sit on top. A module that
imports upwards (or sideways, between ``datasets`` and ``models``) ties two
concerns together and, sooner or later, makes an import cycle; this test
reads every module's source (nothing is imported) so that such an import
fails here, with its file and line, instead of in review.

Imports inside functions count: a deferred import is still a dependency.
``import ferpretrain`` (or a name read from the package itself) counts as
importing every layer, since the package's ``__init__`` imports them all.
"""
import ast
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / 'ferpretrain'
TOP = 'ferpretrain'

#: folder -> the layers its modules must not import.
FORBIDDEN = {
    'datasets': ('evaluation', 'models', 'engine'),
    'models': ('datasets', 'evaluation', 'engine'),
    'utils': ('datasets', 'models', 'evaluation', 'engine'),
}

#: (file, imported module) pairs that break a rule on purpose, each with
#: its reason. Keep this list short and every entry exact.
ALLOWED = {
    # register_all_modules() exists to import the whole package, so that
    # every component is registered before a Runner builds anything.
    ('ferpretrain/utils/setup_env.py', TOP),
    # Converters build the model a config names, so its classes must be
    # registered first.
    ('ferpretrain/utils/conversion.py', TOP),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts.pop()
    return '.'.join(parts)


def _import_module_call(node: ast.Call) -> str:
    """The literal module of ``importlib.import_module('...')`` or
    ``__import__('...')``, else ''."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(
        func, 'id', '')
    if name not in ('import_module', '__import__') or not node.args:
        return ''
    arg = node.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) \
            and not arg.value.startswith('.'):
        return arg.value
    return ''


def imported_modules(source: str,
                     module: str,
                     is_package: bool = False) -> List[Tuple[int, str]]:
    """``(line, absolute module)`` of every import in ``source``, at any
    depth, in line order; ``from a import b`` gives ``a.b`` (``b`` may be a
    submodule)."""
    return sorted(_imports(source, module, is_package))


def _imports(source: str, module: str,
             is_package: bool) -> Iterator[Tuple[int, str]]:
    package = module if is_package else module.rpartition('.')[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = package.split('.')
                parent = '.'.join(parts[:len(parts) - node.level + 1])
                base = f'{parent}.{base}' if base else parent
            for alias in node.names:
                yield node.lineno, f'{base}.{alias.name}'
        elif isinstance(node, ast.Call):
            target = _import_module_call(node)
            if target:
                yield node.lineno, target


def _normalise(target: str) -> str:
    """``target`` with a name read from the package itself (``from
    ferpretrain import register_all_modules``) replaced by the package."""
    parts = target.split('.')
    if parts[0] != TOP or len(parts) == 1:
        return target
    if (PACKAGE / parts[1]).is_dir() or (PACKAGE / f'{parts[1]}.py').is_file():
        return target
    return TOP


def _layers_reached(target: str) -> List[str]:
    """The layers of ferpretrain that importing ``target`` depends on."""
    target = _normalise(target)
    if target == TOP:
        return sorted({lay for lays in FORBIDDEN.values() for lay in lays})
    if not target.startswith(TOP + '.'):
        return []
    return [target.split('.')[1]]


def _violations(folder: str) -> List[str]:
    found = []
    for path in sorted((PACKAGE / folder).rglob('*.py')):
        rel = path.relative_to(ROOT).as_posix()
        source = path.read_text(encoding='utf-8')
        for line, target in imported_modules(source, _module_name(path),
                                             path.name == '__init__.py'):
            bad = set(_layers_reached(target)) & set(FORBIDDEN[folder])
            if bad and (rel, _normalise(target)) not in ALLOWED:
                found.append(f'{rel}:{line} imports {target} '
                             f'(reaches {", ".join(sorted(bad))})')
    return found


@pytest.mark.parametrize('folder', sorted(FORBIDDEN))
def test_layer_imports_only_downwards(folder):
    assert (PACKAGE / folder).is_dir()
    violations = _violations(folder)
    assert not violations, (
        f'ferpretrain/{folder} must not import '
        f'{", ".join(FORBIDDEN[folder])}:\n' + '\n'.join(violations))


def test_allowed_exceptions_are_still_needed():
    # A stale entry would quietly allow the next import of that kind.
    for rel, target in sorted(ALLOWED):
        path = ROOT / rel
        found = {
            _normalise(t)
            for _, t in imported_modules(
                path.read_text(encoding='utf-8'), _module_name(path))
        }
        assert target in found, f'{rel} no longer imports {target}'


def test_import_reader_sees_every_form():
    source = '\n'.join([
        'import ferpretrain.models',
        'from ..evaluation import metrics',
        'from . import categories',
        'from ferpretrain import register_all_modules',
        'def build():',
        '    from ferpretrain.engine.runner import FERRunner',
        '    importlib.import_module("ferpretrain.models.necks")',
    ])
    found = [
        t for _, t in imported_modules(source, 'ferpretrain.datasets.x')
    ]
    assert found == [
        'ferpretrain.models', 'ferpretrain.evaluation.metrics',
        'ferpretrain.datasets.categories',
        'ferpretrain.register_all_modules',
        'ferpretrain.engine.runner.FERRunner', 'ferpretrain.models.necks'
    ]
    assert _layers_reached('ferpretrain.register_all_modules') == \
        _layers_reached('ferpretrain')
    assert _layers_reached('ferpretrain.registry') == ['registry']
    assert _layers_reached('mmpretrain.models') == []
