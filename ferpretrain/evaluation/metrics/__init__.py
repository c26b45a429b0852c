from .fer_metric import FERMetric, confusion_matrix, format_confusion_matrix

__all__ = ['FERMetric', 'confusion_matrix', 'format_confusion_matrix']
