"""Moved: see :mod:`ferpretrain.models.utils._moved` for where each name
went. Importing from here keeps working."""
from ._moved import *  # noqa: F401,F403
from ._moved import __all__  # noqa: F401
