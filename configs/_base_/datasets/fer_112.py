# What every FER dataset config shares: 112x112 faces (the input of the face
# IR-50), APViT's augmentation, ImageNet normalisation, the FER metrics.
# A dataset file inherits it and names its dataset:
#   _base_ = ['./fer_112.py']
#   train_dataloader = dict(dataset=dict(type=..., data_root=..., ...))
# (the dicts merge: the pipelines and loader settings stay). Set `split` and
# `test_mode` there too: the splits differ between datasets.
data_preprocessor = dict(
    num_classes=7,
    # ImageNet statistics in RGB order; images are loaded as BGR.
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
)
bgr_mean = data_preprocessor['mean'][::-1]
bgr_std = data_preprocessor['std'][::-1]

# APViT's training augmentation (configs/_base_/datasets/RAF.py of the
# official code).
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

# The same without the steps that do nothing on grayscale sources
# (FER2013, FERPlus, CK+, JAFFE): grayscale, saturation and hue jitter.
gray_train_pipeline = [
    step for step in train_pipeline
    if step['type'] not in ('RandomGrayscale', 'RandomApply')
]
gray_train_pipeline.insert(
    -2,
    dict(
        type='RandomApply',
        transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4)],
        prob=0.8))

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
    dataset=dict(split='train', pipeline=train_pipeline),
)

val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(split='test', test_mode=True, pipeline=test_pipeline),
)
# Top-1 accuracy (the standard key), then the numbers FER papers report:
# mean class accuracy, per-class accuracy and the confusion matrix.
val_evaluator = [
    dict(type='Accuracy', topk=(1, )),
    dict(type='FERMetric'),
]

test_dataloader = val_dataloader
test_evaluator = val_evaluator
