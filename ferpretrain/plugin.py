"""The entry point for configs: import this module, not the package.

``custom_imports = dict(imports=['ferpretrain.plugin'],
allow_failed_imports=False)`` registers every ferpretrain component and
calls :func:`ferpretrain.utils.setup_env.register_all_modules` (safe
checkpoint loading, mmcv's hue fix), so that a ferpretrain config runs the
same under mmpretrain's tools, another OpenMMLab project's tools or
ferpretrain's own. It is the only module of the package whose import does
more than register: that is its whole purpose.
"""
from ferpretrain.utils.setup_env import register_all_modules

# The default scope is the config's own (`default_scope`): the Runner sets
# it, so it is not forced here.
register_all_modules(init_default_scope=False)
