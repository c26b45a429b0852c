"""Build a component's sub-modules in mmpretrain's scope, whoever builds it.

mmengine resolves a bare type name (``dict(type='AttentivePatchPooling')``)
in the *caller's* default scope. Another OpenMMLab project that builds a
ferpretrain component with the cross-scope syntax,
``backbone=dict(type='mmpretrain.PoolingViT', ...)``, runs with its own
default scope (``mmpose``, ``mmaction``, ...): a sub-module the component
builds by bare name, from its own defaults or from the nested configs of
ferpretrain's configs, would be looked up in that project's registry and
not be found. Every ferpretrain name lives in mmpretrain's registries
(``ferpretrain.registry``), so a component that builds sub-modules runs its
``__init__`` in the ``mmpretrain`` scope: bare names resolve there, and
prefixed ones (``mmpose.X``) still reach their own project.
"""
import functools
from contextlib import contextmanager

from mmengine.registry import DefaultScope

SCOPE = 'mmpretrain'


@contextmanager
def mmpretrain_scope():
    """Make ``mmpretrain`` the default scope inside the block (no-op when
    it already is, which is the common case: configs and the tools set it).
    """
    current = DefaultScope.get_current_instance()
    if current is not None and current.scope_name == SCOPE:
        yield
    else:
        with DefaultScope.overwrite_default_scope(SCOPE):
            yield


def builds_in_mmpretrain_scope(cls):
    """Class decorator: run ``cls.__init__`` under :func:`mmpretrain_scope`.

    For every registered component that builds sub-modules through a
    registry (``MODELS.build``), including ``ImageClassifier`` subclasses,
    whose parent builds the backbone, neck, head and data preprocessor.
    ``tests/test_models/test_scope_safety.py`` builds every registered
    ferpretrain model from the ``mmengine`` scope to keep this true.
    """
    init = cls.__init__

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        with mmpretrain_scope():
            init(self, *args, **kwargs)

    cls.__init__ = __init__
    return cls
