"""Using a trained model.

* :class:`FERInferencer` finds, aligns and classifies every face of
  photos, folders, videos and a camera (``tools/demo/`` are thin scripts
  over it);
* :mod:`~ferpretrain.apis.sources`: where images and frames come from;
* :mod:`~ferpretrain.apis.config_info`: what a config says about the test
  pipeline, the input size, the classes and the alignment geometry;
* :mod:`~ferpretrain.apis.records`: results as JSON and CSV rows;
* :mod:`~ferpretrain.apis.cli`: the demos' shared command line.
"""
from .config_info import (ALIGNMENT_KEYS, alignment_geometry,
                          config_classes, config_input_size,
                          test_pipeline_cfg)
from .inferencer import BACKENDS, DTYPES, STAGES, FERInferencer
from .records import (csv_fields, face_rows, json_ready, write_csv,
                      write_json)
from .sources import (VIDEO_EXTENSIONS, InputSourceError, collect_images,
                      is_capture, is_video_source, open_video_source)

__all__ = [
    'FERInferencer', 'STAGES', 'BACKENDS', 'DTYPES', 'InputSourceError',
    'VIDEO_EXTENSIONS', 'collect_images', 'is_capture', 'is_video_source',
    'open_video_source', 'ALIGNMENT_KEYS', 'alignment_geometry',
    'config_classes', 'config_input_size', 'test_pipeline_cfg', 'csv_fields',
    'face_rows', 'json_ready', 'write_csv', 'write_json'
]
