# MobileFaceNet's 68-landmark regressor (the frozen landmark branch of POSTER
# and POSTER V2) trained from scratch on FER2013 faces (48x48 grayscale,
# resized to 64x64), with dlib's 68 points as labels
# (tools/dataset_converters/label_landmarks.py). Recipe, layout and results:
# configs/landmarks/README.md.
#   python tools/train.py configs/landmarks/mobilefacenet_fer2013_64.py
_base_ = ['../_base_/default_runtime.py']

input_size = 64  # FER2013's 48x48 faces, enlarged to a multiple of 16
# data_root holds the split folders and the two CSVs of label_landmarks.py,
# whose img_path values are relative to it ('train/angry/...').
data_root = 'data/fer2013'

# The normalisation of configs/_base_/datasets/fer_112.py (ImageNet mean and
# std, BGR -> RGB): POSTER and POSTER V2 feed the landmark branch the same
# normalised tensor as their image branch, so it is trained on that tensor.
data_preprocessor = dict(
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
)

model = dict(
    type='LandmarkRegressor',
    backbone=dict(
        type='MobileFaceNet',
        out_indices=(4, ),
        with_landmark_head=True,
        input_size=input_size),
    # Smooth L1 on the fractions; beta 0.01 = half a pixel of a 48-pixel face
    # (see LandmarkRegressor for why not L2).
    loss_type='smooth_l1',
    loss_beta=0.01,
)

# Resizing keeps the fraction labels valid; LandmarkRandomFlip flips the
# points with the image (mmpretrain's RandomFlip would not). Crops and
# rotations would move the face but not its labels, so there are none.
meta_keys = ('sample_idx', 'img_path', 'ori_shape', 'img_shape', 'flip',
             'flip_direction', 'box_source')
train_pipeline = [
    dict(type='LoadFERImage'),
    dict(type='Resize', scale=(input_size, input_size)),
    dict(type='LandmarkRandomFlip', prob=0.5),
    dict(
        type='PackInputs',
        algorithm_keys=('gt_landmarks', ),
        meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadFERImage'),
    dict(type='Resize', scale=(input_size, input_size)),
    dict(
        type='PackInputs',
        algorithm_keys=('gt_landmarks', ),
        meta_keys=meta_keys),
]

train_dataloader = dict(
    batch_size=64,
    # One loader process: decoding 48x48 images is cheap, and a second one
    # would compete with the two compute threads for the 2 cores.
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='FaceLandmarkDataset',
        data_root=data_root,
        ann_file='train_landmarks.csv',
        pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=256,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='FaceLandmarkDataset',
        data_root=data_root,
        ann_file='test_landmarks.csv',
        test_mode=True,
        pipeline=test_pipeline),
)
# NME (inter-ocular, %) and failure rate at 10 %, also per box source.
val_evaluator = dict(type='LandmarkNME')
test_dataloader = val_dataloader
test_evaluator = val_evaluator

# From scratch: AdamW, a short linear warm-up, cosine decay over the run.
# Sized for about 13 minutes on 2 CPU cores (0.85 s per iteration of 64).
max_epochs = 2
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.01),
    # BatchNorm and PReLU parameters (1-d) are not decayed: shrinking the
    # output BatchNorm's scale or bias towards 0 would pull every landmark
    # towards the corner of the image.
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.,
                       flat_decay_mult=0.),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=1e-5,
         by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=64)

default_hooks = dict(logger=dict(interval=50))
randomness = dict(seed=0)
