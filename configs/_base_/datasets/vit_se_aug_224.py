# ViT-SE's pipelines at 224x224 (ViT-B/16's input). The paper's
# augmentation could not be read; these are APViT's (rotation, crop, flip,
# colour, erasing) at 224, with the erasing filled with noise of the
# ImageNet-21k ViT's statistics. The model's normalisation must match the
# pre-training's: mean = std = 127.5 per channel (Hugging Face's and timm's
# in21k ViT-B/16), not ImageNet's; every ViT-SE config sets
#   data_preprocessor = _base_.vit_se_data_preprocessor
# `vit_se_gray_train_pipeline` drops the steps that do nothing on grayscale
# sources (CK+, JAFFE, FER2013). Used as `_base_.<name>` next to a dataset
# file.
vit_se_data_preprocessor = dict(
    mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5], to_rgb=True)
vit_se_train_pipeline = [
    dict(type='LoadFERImage'),
    dict(type='FERRandomRotate', prob=0.5, degree=10.),
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
        erase_prob=0.25,
        min_area_ratio=0.02,
        max_area_ratio=0.33,
        aspect_range=(0.3, 3.3),
        mode='rand',
        fill_color=[127.5, 127.5, 127.5],
        fill_std=[127.5, 127.5, 127.5]),
    dict(type='PackInputs'),
]
vit_se_gray_train_pipeline = [
    dict(step, transforms=[dict(type='ColorJitter', brightness=0.4,
                                contrast=0.4)])
    if step['type'] == 'RandomApply' else step
    for step in vit_se_train_pipeline if step['type'] != 'RandomGrayscale'
]
vit_se_test_pipeline = [
    dict(type='LoadFERImage'),
    dict(type='Resize', scale=(224, 224)),
    dict(type='PackInputs'),
]
