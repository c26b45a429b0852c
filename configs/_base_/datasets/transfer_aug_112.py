# TransFER's training augmentation (the authors' Paddle port): random
# resized crop to 112 (PaddleClas RandCropImage defaults: scale 0.08-1,
# ratio 3/4-4/3), horizontal flip, RandAugment with 2 operations at
# magnitude 5 of 10, random erasing (p 0.5, area 0.02-0.4, aspect 0.3-3.3).
# Test: resize to 112 (fer_112.py). Used as `_base_.transfer_train_pipeline`
# next to a dataset file.
_mean_bgr = [103.53, 116.28, 123.675]
_std_bgr = [57.375, 57.12, 58.395]
transfer_train_pipeline = [
    dict(type='LoadFERImage'),
    dict(type='RandomResizedCrop', scale=112),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandAugment',
        policies='timm_increasing',
        num_policies=2,
        total_level=10,
        magnitude_level=5,
        hparams=dict(pad_val=[round(x) for x in _mean_bgr])),
    dict(
        type='RandomErasing',
        erase_prob=0.5,
        min_area_ratio=0.02,
        max_area_ratio=0.4,
        aspect_range=(0.3, 1 / 0.3),
        mode='rand',
        fill_color=_mean_bgr,
        fill_std=_std_bgr),
    dict(type='PackInputs'),
]
