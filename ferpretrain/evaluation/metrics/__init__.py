from .fer_metric import FERMetric, confusion_matrix, format_confusion_matrix
from .landmark_metric import LandmarkNME, landmark_nme

__all__ = [
    'FERMetric', 'confusion_matrix', 'format_confusion_matrix', 'LandmarkNME',
    'landmark_nme'
]
