"""Fixtures shared by the whole test suite."""
import pytest
from mmengine.registry import DefaultScope


@pytest.fixture(autouse=True)
def mmpretrain_scope():
    """Run every test in the ``mmpretrain`` default scope, as configs do.

    A Runner built by one test leaves its default scope behind (mmengine
    keeps the newest ``DefaultScope`` instance); without this, a test that
    builds from a registry would depend on which test ran before it.
    """
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        yield
