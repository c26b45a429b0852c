"""Training-loop components: optimizer wrappers (SAM)."""
from .optimizers import *  # noqa: F401,F403
