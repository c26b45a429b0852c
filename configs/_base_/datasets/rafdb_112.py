# RAF-DB (basic), 112x112 faces, APViT's augmentation.
dataset_type = 'RAFDB'
data_root = 'data/RAF-DB/basic'

data_preprocessor = dict(
    num_classes=7,
    # ImageNet statistics in RGB order; images are loaded as BGR.
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
)
bgr_mean = data_preprocessor['mean'][::-1]
bgr_std = data_preprocessor['std'][::-1]

train_pipeline = [
    dict(type='LoadFERImage'),
    dict(type='FERRandomRotate', prob=0.5, degree=6.),
    dict(
        type='RandomResizedCrop',
        scale=112,
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
    # Random-valued erasing: pixels drawn so that they are N(0, 1) after
    # normalisation, as APViT erases after normalising.
    dict(
        type='RandomErasing',
        erase_prob=0.5,
        min_area_ratio=0.02,
        max_area_ratio=0.33,
        aspect_range=(0.3, 3.3),
        mode='rand',
        fill_color=bgr_mean,
        fill_std=bgr_std),
    dict(type='PackInputs'),
]

test_pipeline = [
    dict(type='LoadFERImage'),
    dict(type='Resize', scale=(112, 112)),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        # Class-balanced resampling: classes rarer than 15 % are repeated
        # ceil(sqrt(0.15 / f)) times (Fear x3; Surprise, Disgust, Anger x2).
        type='ClassBalancedDataset',
        oversample_thr=0.15,
        dataset=dict(
            type=dataset_type,
            data_root=data_root,
            split='train',
            pipeline=train_pipeline)),
)

val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        test_mode=True,
        pipeline=test_pipeline),
)
# Top-1 accuracy (the standard key), then the numbers FER papers report.
val_evaluator = [
    dict(type='Accuracy', topk=(1, )),
    # Mean class accuracy, per-class accuracy and the confusion matrix.
    dict(type='FERMetric'),
]

# RAF-DB has no validation split: the test split is evaluated each epoch and
# the last epoch is reported (never the best epoch on the test set).
test_dataloader = val_dataloader
test_evaluator = val_evaluator
