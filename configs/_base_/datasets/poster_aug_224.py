# POSTER's pipelines (zczcwh/POSTER train.py and dataset_raf.py): half of
# the training images get either a horizontal flip or Gaussian noise
# (variance 30) on the raw image ("basic_aug"), then a random horizontal
# flip, resize to 224, ImageNet normalisation and random erasing (p 0.5,
# area 0.02-0.1). Test: resize to 224 (the model resizes to 112 inside).
# Used as `_base_.<name>` next to a dataset file.
_mean_bgr = [103.53, 116.28, 123.675]
poster_train_pipeline = [
    dict(type='LoadFERImage'),
    dict(
        type='RandomApply',
        prob=0.5,
        transforms=[
            dict(
                type='RandomChoice',
                transforms=[
                    [dict(type='RandomFlip', prob=1., direction='horizontal')],
                    [dict(type='AddGaussianNoise', std=30**0.5)],
                ])
        ]),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='Resize', scale=(224, 224)),
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
poster_test_pipeline = [
    dict(type='LoadFERImage'),
    dict(type='Resize', scale=(224, 224)),
    dict(type='PackInputs'),
]
