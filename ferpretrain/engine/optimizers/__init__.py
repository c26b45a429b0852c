from .sam import SAMOptimWrapper, sam_perturbation

__all__ = ['SAMOptimWrapper', 'sam_perturbation']
