from .complexity import (ModelComplexity, get_model_complexity,
                         infer_input_size)

__all__ = ['ModelComplexity', 'get_model_complexity', 'infer_input_size']
