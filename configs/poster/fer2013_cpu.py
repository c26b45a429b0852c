# POSTER reduced to train on 2 CPU cores, from scratch on FER2013's 48x48
# faces (resized to 64): the same architecture (IR stage-3 map raw-reshaped
# into tokens and the frozen 68-landmark MobileFaceNet's conv_6_sep tokens,
# two streams with mean CLS tokens -> pyramid cross-fusion along the
# embedding axis -> image CLS -> SE -> linear), with a narrow IR-ResNet, a
# 128-wide pyramid (128/64/32) and the 'small' depth (4). The landmark
# tokens (512 wide) get a linear projection to 128, which POSTER does not
# need at its sizes. The landmark branch is the full MobileFaceNet, frozen,
# trained first on dlib's 68 landmarks of the same training faces
# (configs/landmarks/mobilefacenet_fer2013_64.py). Loss: POSTER's
# CE + 2 x LSCE(0.2). Everything else is the POSTER V2 CPU recipe (APViT's:
# AdamW, light augmentation; 6 epochs), so the CPU models compare; SAM is
# left out (it doubles every step). Results and timing:
# configs/poster/README.md.
#   python tools/train.py configs/poster/fer2013_cpu.py --cfg-options \
#       train_dataloader.dataset.data_root=../shared/data/fer2013 \
#       val_dataloader.dataset.data_root=../shared/data/fer2013
_base_ = ['../poster_v2/fer2013_cpu.py']

model = dict(
    _delete_=True,
    type='Poster',
    input_size=_base_.input_size,
    backbone=dict(
        type='IResNet',
        depth=50,
        stage_channels=(16, 32, 64, 128),
        stage_units=(1, 2, 2, 1),
        num_stages=3,  # 64x8x8 at 64 px
        channels_last=True,
    ),
    landmark_backbone=dict(
        type='MobileFaceNet',
        out_indices=(4, ),  # conv_6_sep, 512x4x4 at 64 px
        frozen=True,
        channels_last=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint=_base_.landmark_checkpoint,
            prefix='backbone.')),
    neck=dict(
        type='PosterNeck',
        arch='small',
        num_tokens=16,  # the 4x4 landmark map
        image_token_dims=256,  # 64 * 8 * 8 / 16
        landmark_channels=512,
        embed_dims=128,
        num_scales=3,
        num_heads=4,
        mlp_ratio=2.,
        qkv_bias=True,
        drop_path_rate=0.1,
        norm_eps=1e-6),
    head=dict(
        type='LinearClsHead',
        num_classes=7,
        in_channels=128,
        loss=dict(type='POSTERLoss'),
        topk=(1, )),
)
