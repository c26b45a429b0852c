from .fer_metric import (FERMetric, confusion_matrix, format_confusion_matrix,
                         serializable_metrics)
from .landmark_metric import LandmarkNME, landmark_nme

__all__ = [
    'FERMetric', 'confusion_matrix', 'format_confusion_matrix',
    'serializable_metrics', 'LandmarkNME', 'landmark_nme'
]
