# FER-VT reduced to train on 2 CPU cores, from scratch on FER2013's 48x48
# faces: the same architecture (ResNet with grid-wise attention after the
# stem -> one semantic token per stage 2-4 + CLS -> transformer -> linear
# head on CLS), narrower and shallower, with a 3x3 stride-1 stem and no
# max-pool so that a 48x48 face is not shrunk to 12x12 before the first
# stage. Everything but the model is APViT's CPU recipe
# (configs/apvit/fer2013_cpu.py: AdamW, 10 epochs, light augmentation), so
# the two compare. Results and timing: configs/fervt/README.md.
#   python tools/train.py configs/fervt/fer2013_cpu.py --cfg-options \
#       train_dataloader.dataset.data_root=../shared/data/fer2013 \
#       val_dataloader.dataset.data_root=../shared/data/fer2013
_base_ = ['../apvit/fer2013_cpu.py']

model = dict(
    _delete_=True,
    type='ImageClassifier',
    backbone=dict(
        type='GridAttentionResNet',
        depth=18,
        stem_channels=32,
        base_channels=32,
        small_input=True,
        # Every stage halves: 48 -> 24 -> 12 -> 6 -> 3 (the full model's
        # 56 -> 56 -> 28 -> 14 -> 7 after its stride-4 stem).
        strides=(2, 2, 2, 2),
        out_indices=(1, 2, 3),
        # 6x6 cells of 8x8 pixels on the 48x48 stem map.
        grid_attention=dict(
            type='GridWiseAttention', grid_size=6, num_heads=4)),
    neck=dict(
        type='SemanticTokenTransformer',
        in_channels=(64, 128, 256),
        embed_dims=128,
        num_layers=4,
        num_heads=4,
        mlp_ratio=2.),
    head=dict(
        type='LinearClsHead',
        num_classes=7,
        in_channels=128,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1)),
)
