# POSTER V2 reduced to train on 2 CPU cores, from scratch on FER2013's 48x48
# faces (resized to 64): the same architecture (frozen 68-landmark
# MobileFaceNet maps as queries of window cross-attention over three IR
# stage maps -> 3 x 16 tokens + CLS -> 2-layer ViT -> SE -> linear), with a
# narrow IR-ResNet, narrow attention and a 128-wide ViT. The landmark branch
# is the full MobileFaceNet, frozen, trained first on dlib's 68 landmarks of
# the same training faces (configs/landmarks/mobilefacenet_fer2013_64.py);
# POSTER V2's released landmark weights cannot be downloaded here.
# Everything but the model is APViT's CPU recipe (configs/apvit/
# fer2013_cpu.py: AdamW, light augmentation; 6 epochs here), so the CPU models
# compare; SAM is left out (it doubles every step, i.e. halves the epochs a
# fixed budget buys). Results and timing: configs/poster_v2/README.md.
#   python tools/train.py configs/poster_v2/fer2013_cpu.py --cfg-options \
#       train_dataloader.dataset.data_root=../shared/data/fer2013 \
#       val_dataloader.dataset.data_root=../shared/data/fer2013
_base_ = ['../apvit/fer2013_cpu.py']

input_size = 64
# The landmark network trained by configs/landmarks/ (see its README).
landmark_checkpoint = \
    'work_dirs/landmarks/mobilefacenet_fer2013_64/epoch_2.pth'

model = dict(
    _delete_=True,
    type='PosterV2',
    input_size=input_size,
    backbone=dict(
        type='IResNet',
        depth=50,
        stage_channels=(16, 32, 64, 128),
        stage_units=(1, 2, 2, 1),
        num_stages=3,
        out_indices=(0, 1, 2),  # 16x32x32, 32x16x16, 64x8x8
        # NHWC convolutions: the same outputs, 1.25x faster steps here.
        channels_last=True,
    ),
    landmark_backbone=dict(
        type='MobileFaceNet',
        out_indices=(1, 2, 4),  # 64x16x16, 128x8x8, 512x4x4 at 64 px
        frozen=True,
        channels_last=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint=landmark_checkpoint,
            prefix='backbone.')),
    neck=dict(
        type='PosterV2Neck',
        in_channels=(16, 32, 64),
        landmark_channels=(64, 128, 512),  # 3x3 convs to dims (as 512->256)
        num_heads=(2, 4, 8),
        window_sizes=(16, 8, 4),  # one window per map, as POSTER V2
        drop_path_rates=(0., 0.05, 0.1),
        layer_scale=1e-5,
        embed_dims=128,
        num_layers=2,
        vit_num_heads=4,
        mlp_ratio=4.,
        qkv_bias=True,
        norm_eps=1e-6,
        drop_rate=0.),
    head=dict(
        type='LinearClsHead',
        num_classes=7,
        in_channels=128,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1),
        topk=(1, )),
)

# APViT's CPU pipelines (configs/apvit/fer2013_cpu.py), at 64 px.
train_pipeline = [
    dict(step, scale=input_size)
    if step['type'] == 'RandomResizedCrop' else step
    for step in _base_.train_pipeline
]
test_pipeline = [
    dict(step, scale=(input_size, input_size))
    if step['type'] == 'Resize' else step
    for step in _base_.test_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

# Six epochs fill the 30-minute budget of the other CPU recipes (the frozen
# landmark network's forward costs as much as the rest of a step here).
max_epochs = 6
param_scheduler = [
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], T_max=max_epochs - 1, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
