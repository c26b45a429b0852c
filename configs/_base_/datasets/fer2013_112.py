# FER2013 (48x48 grayscale), upsampled to 112x112 for the face IR-50, with
# APViT's augmentation minus the grayscale/colour steps that do nothing on
# grayscale images. Reads `fer2013.csv` or the train/ + test/ class folders.
dataset_type = 'FER2013'
data_root = 'data/fer2013'

data_preprocessor = dict(
    num_classes=7,
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
    dict(
        type='RandomApply',
        transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4)],
        prob=0.8),
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
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline),
)

# PublicTest is the validation split; PrivateTest the test split.
val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        test_mode=True,
        pipeline=test_pipeline),
)
val_evaluator = [
    dict(type='Accuracy', topk=(1, )),
    # Mean class accuracy, per-class accuracy and the confusion matrix.
    dict(type='FERMetric'),
]

test_dataloader = dict(
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
test_evaluator = val_evaluator
