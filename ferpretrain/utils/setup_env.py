"""The one place where ferpretrain changes the process it runs in.

``import ferpretrain`` only registers components into mmpretrain's
registries. Two changes to other libraries are needed to *run* them, and
they happen here, when asked for, never as a side effect of an import:

* **safe checkpoint loading**: mmengine 0.10.7 calls ``torch.load`` without
  ``weights_only``; torch >= 2.6 then refuses every checkpoint mmengine
  itself saved. :func:`~ferpretrain.utils.checkpoint.
  install_safe_checkpoint_loader` registers a weights-only loader that
  accepts them and refuses foreign code (see
  :mod:`ferpretrain.utils.checkpoint`);
* **mmcv's ``adjust_hue`` under numpy 2**: mmcv 2.2.0 overflows on negative
  hue shifts, which crashed every ``ColorJitter(hue=...)`` (APViT's
  augmentation) on about half of its draws (see
  :mod:`ferpretrain.utils.compat`).

Who calls :func:`register_all_modules`:

* every tool in ``tools/`` (train, test, converters, analysis,
  visualization), first thing;
* configs, through ``custom_imports = dict(imports=['ferpretrain.plugin'])``
  (:mod:`ferpretrain.plugin` calls it): mmpretrain's own tools and other
  OpenMMLab projects then run ferpretrain's configs exactly as ours do;
* a script or notebook: ``from ferpretrain import register_all_modules;
  register_all_modules()``, as with ``mmpretrain.utils.register_all_modules``.
"""
import datetime
import warnings

from mmengine.registry import DefaultScope

__all__ = ['register_all_modules']


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register ferpretrain's components and prepare the process to run them.

    Idempotent: a second call changes nothing.

    Args:
        init_default_scope (bool): Also make ``mmpretrain`` the default scope
            (ferpretrain registers into mmpretrain's registries), as
            :func:`mmpretrain.utils.register_all_modules` does: a current
            scope of another name is replaced with a warning. Defaults to
            True.
    """
    import ferpretrain  # noqa: F401  (registers every component)
    from .checkpoint import install_safe_checkpoint_loader
    from .compat import install_mmcv_fixes
    install_safe_checkpoint_loader()
    install_mmcv_fixes()
    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None:
        DefaultScope.get_instance('mmpretrain', scope_name='mmpretrain')
    elif current.scope_name != 'mmpretrain':
        warnings.warn(
            f'The current default scope "{current.scope_name}" is not '
            '"mmpretrain", where ferpretrain registers; '
            '`register_all_modules` makes "mmpretrain" the default scope. '
            'Pass init_default_scope=False to keep yours.')
        DefaultScope.get_instance(
            f'mmpretrain-{datetime.datetime.now()}', scope_name='mmpretrain')
