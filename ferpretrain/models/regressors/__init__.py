from .landmark_regressor import LandmarkRegressor

__all__ = ['LandmarkRegressor']
