# The face IR-ResNet (the CNN stem of APViT, TransFER and POSTER) as a
# classifier by itself, compact enough to train on FER2013 from scratch on 2
# CPU cores within 2 hours: the model that ships with ferpretrain
# (ferpretrain/weights/, `ferpretrain.get_model(NAME, pretrained=True)`).
# Results, timing and what each choice earned: configs/iresnet/README.md.
#   python tools/train.py configs/iresnet/fer2013_cpu.py --cfg-options \
#       train_dataloader.dataset.data_root=../shared/data/fer2013 \
#       val_dataloader.dataset.data_root=../shared/data/fer2013
_base_ = [
    '../_base_/datasets/fer2013_112.py',
    '../_base_/schedules/cpu_adamw-warmup-cosine_10e.py',
    '../_base_/default_runtime.py',
]

input_size = 48  # FER2013's own size: no upsampling

# IR units at 32/64/128/256 channels (2, 2, 2, 1 units): 48 -> 24 -> 12 ->
# 6 -> 3, global average pooling, a linear head; 1.62 M parameters, 0.11
# GMAC. In bf16 a step of 64 images took 0.23 s here (median of the
# training log).
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='IResNet',
        stage_channels=(32, 64, 128, 256),
        stage_units=(2, 2, 2, 1),
        num_stages=4,
        channels_last=True),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=7,
        in_channels=256,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1)),
)

# How FERInferencer and the demos crop a photo's faces for this model: as
# FER2013's faces are framed. `python tools/analysis_tools/face_geometry.py
# ../shared/data/fer2013/train` (dlib's 5 points on 4x-enlarged copies of
# 1,500 random training faces, one face found in 1,046): the eye centres lie
# 0.361 of the side apart (median; quartiles 0.324-0.390), on a line at
# 0.398 of the height (0.374-0.418). FaceAligner's defaults (0.3, 0.4)
# would frame faces looser than the model learnt them.
face_alignment = dict(face_scale=0.36, eye_line=0.4)

train_pipeline = [
    dict(type='LoadFERImage'),
    dict(type='FERRandomRotate', prob=0.5, degree=10.),
    dict(
        type='RandomResizedCrop',
        scale=input_size,
        crop_ratio_range=(0.8, 1.0),
        aspect_ratio_range=(1., 1.)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandomErasing',
        erase_prob=0.25,
        min_area_ratio=0.02,
        max_area_ratio=0.2,
        aspect_range=(0.3, 3.3),
        mode='rand',
        fill_color=_base_.bgr_mean,
        fill_std=_base_.bgr_std),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadFERImage'),
    dict(type='Resize', scale=(input_size, input_size)),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=64,
    # One loader process: decoding 48x48 images is cheap, and a second one
    # would compete with the two compute threads for the 2 cores.
    num_workers=1,
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256, num_workers=1, dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=256, num_workers=1, dataset=dict(pipeline=test_pipeline))

# bf16 autocast (master weights and AdamW's state in fp32).
max_epochs = 45
optim_wrapper = dict(
    type='MixedPrecisionOptimWrapper',
    dtype='bfloat16',
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
param_scheduler = [
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], T_max=max_epochs - 1, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
val_cfg = dict(fp16=True)
test_cfg = dict(fp16=True)

default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(interval=1, max_keep_ckpts=2))
randomness = dict(seed=0)
