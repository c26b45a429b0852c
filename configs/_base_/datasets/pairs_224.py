# What the Difference-of-Embeddings configs share: (neutral, target) pairs
# of one subject at 224x224, ImageNet normalisation (the MobileNetV3's), the
# FER metrics. A pair dataset file inherits it:
#   _base_ = ['./pairs_224.py']
# and wraps its dataset in NeutralPairDataset with `pair_train_pipeline` /
# `pair_test_pipeline`. Each pipeline runs once per face with the same
# random decisions for both faces of a pair (same crop, same flip, same
# jitter), so a difference of embeddings never sees augmentation noise;
# PairDataPreprocessor then normalises both alike.
pair_data_preprocessor = dict(
    type='PairDataPreprocessor',
    num_classes=7,
    # ImageNet statistics in RGB order; images are loaded as BGR.
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
)
# Stage 1 of Disentangled DoE sees single faces: the same normalisation.
single_data_preprocessor = dict(
    {k: v for k, v in pair_data_preprocessor.items() if k != 'type'},
    type='ClsDataPreprocessor')

input_size = 224
# The seed's augmentation was not given. Light, and the same for both faces
# of a pair: resize first (a neutral frame and its target may differ in
# size, and equal decisions need equal sizes), a mild crop, a flip, and a
# brightness/contrast jitter (CK+ and JAFFE are grayscale).
pair_train_pipeline = [
    dict(type='LoadFERImage'),
    dict(type='Resize', scale=(input_size, input_size)),
    dict(
        type='RandomResizedCrop',
        scale=input_size,
        crop_ratio_range=(0.8, 1.0),
        aspect_ratio_range=(1., 1.)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandomApply',
        transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4)],
        prob=0.8),
    dict(type='PackInputs'),
]
pair_test_pipeline = [
    dict(type='LoadFERImage'),
    dict(type='Resize', scale=(input_size, input_size)),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_dataloader = val_dataloader
# Top-1 accuracy, mean class accuracy, per-class accuracy, confusion matrix.
val_evaluator = [
    dict(type='Accuracy', topk=(1, )),
    dict(type='FERMetric'),
]
test_evaluator = val_evaluator
