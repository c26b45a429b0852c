"""Hooks of the training loop."""
from .reproducible_randomness import (ReproducibleRandomnessHook,
                                      use_reproducible_randomness)

__all__ = ['ReproducibleRandomnessHook', 'use_reproducible_randomness']
