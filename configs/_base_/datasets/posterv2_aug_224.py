# POSTER V2's pipelines (Talented-Q/POSTER_V2 main.py): resize to 224,
# horizontal flip, ImageNet normalisation, random erasing; test: resize to
# 224 (the model resizes to 112 inside). Erasing on RAF-DB: p 0.5 (torchvision
# default), area 0.02-0.1 (`posterv2_train_pipeline`); the other datasets:
# p 1, area up to 0.05 (`posterv2_strong_erasing_train_pipeline`). Used as
# `_base_.<name>` next to a dataset file.
_mean_bgr = [103.53, 116.28, 123.675]
_std_bgr = [57.375, 57.12, 58.395]
posterv2_train_pipeline = [
    dict(type='LoadFERImage'),
    dict(type='Resize', scale=(224, 224)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandomErasing',
        erase_prob=0.5,
        min_area_ratio=0.02,
        max_area_ratio=0.1,
        mode='const',
        fill_color=_mean_bgr,  # zero after normalisation, as torchvision
        fill_std=None),
    dict(type='PackInputs'),
]
posterv2_test_pipeline = [
    dict(type='LoadFERImage'),
    dict(type='Resize', scale=(224, 224)),
    dict(type='PackInputs'),
]
posterv2_strong_erasing_train_pipeline = [
    dict(step, erase_prob=1., max_area_ratio=0.05)
    if step['type'] == 'RandomErasing' else step
    for step in posterv2_train_pipeline
]
