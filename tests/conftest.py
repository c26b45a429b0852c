"""Fixtures shared by the whole test suite."""
import pytest
from mmengine.registry import DefaultScope

from ferpretrain.utils import register_all_modules

# Tests run components the way the tools do: registered, with the safe
# checkpoint loader and mmcv's hue fix installed (tests/test_setup_env.py
# checks, in fresh processes, that a bare `import ferpretrain` installs
# neither).
register_all_modules(init_default_scope=False)


@pytest.fixture(autouse=True, scope='module')
def mmpretrain_scope_per_module():
    """Module-scoped fixtures in the ``mmpretrain`` scope too (they run
    before the function-scoped fixture below): a model one module's fixture
    builds must not depend on the Runner another module's fixture made,
    whatever the order of the modules. Leaving the block drops the scopes
    this module's Runners made."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        yield


@pytest.fixture(autouse=True)
def mmpretrain_scope():
    """Run every test in the ``mmpretrain`` default scope, as configs do.

    A Runner built by one test leaves its default scope behind (mmengine
    keeps the newest ``DefaultScope`` instance); without this, a test that
    builds from a registry would depend on which test ran before it.
    """
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        yield
