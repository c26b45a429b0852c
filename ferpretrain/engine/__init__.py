"""Training-loop components: optimizer wrappers (SAM, mixed
precision on any device)."""
from .optimizers import *  # noqa: F401,F403
