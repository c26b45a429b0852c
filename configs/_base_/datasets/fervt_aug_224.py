# FER-VT's pipelines at 224x224 (the input of the ImageNet ResNet). The
# paper's augmentation could not be read; these are APViT's (configs/_base_/
# datasets/fer_112.py: rotation, crop, flip, colour, erasing) at 224, with
# ImageNet normalisation, the statistics the ResNet was trained with.
# `fervt_gray_train_pipeline` drops the steps that do nothing on grayscale
# sources (FER2013, FERPlus, CK+, JAFFE). Used as `_base_.<name>` next to a
# dataset file.
_mean_bgr = [103.53, 116.28, 123.675]
_std_bgr = [57.375, 57.12, 58.395]
fervt_train_pipeline = [
    dict(type='LoadFERImage'),
    dict(type='FERRandomRotate', prob=0.5, degree=6.),
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.8, 1.0),
        aspect_ratio_range=(1., 1.)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True),
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='ColorJitter',
                brightness=0.4,
                contrast=0.4,
                saturation=0.4,
                hue=0.1)
        ],
        prob=0.8),
    dict(
        type='RandomErasing',
        erase_prob=0.5,
        min_area_ratio=0.02,
        max_area_ratio=0.33,
        aspect_range=(0.3, 3.3),
        mode='rand',
        fill_color=_mean_bgr,
        fill_std=_std_bgr),
    dict(type='PackInputs'),
]
fervt_gray_train_pipeline = [
    dict(step, transforms=[dict(type='ColorJitter', brightness=0.4,
                                contrast=0.4)])
    if step['type'] == 'RandomApply' else step
    for step in fervt_train_pipeline if step['type'] != 'RandomGrayscale'
]
fervt_test_pipeline = [
    dict(type='LoadFERImage'),
    dict(type='Resize', scale=(224, 224)),
    dict(type='PackInputs'),
]
