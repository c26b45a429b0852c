from .poster_loss import POSTERLoss

__all__ = ['POSTERLoss']
