from .attention import (AttentionRecorder, cls_attention_map, draw_map_grid,
                        overlay_heatmap)
from .complexity import (ModelComplexity, get_model_complexity,
                         infer_input_size)
from .inspection import (build_test_pipeline, load_model_for_analysis,
                         load_test_image, model_classes,
                         without_pretrained_init)

__all__ = [
    'AttentionRecorder', 'cls_attention_map', 'draw_map_grid',
    'overlay_heatmap', 'ModelComplexity', 'get_model_complexity',
    'infer_input_size', 'build_test_pipeline', 'load_model_for_analysis',
    'load_test_image', 'model_classes', 'without_pretrained_init'
]
