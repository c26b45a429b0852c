# FER-VT (Huang et al., Information Sciences 2021) at full size, 224x224
# faces: ResNet-34 with grid-wise attention after the stem (7x7 grid on the
# 64x56x56 map) -> stages 2-4 (128x28x28, 256x14x14, 512x7x7) -> one
# semantic token per stage + CLS -> 4-layer transformer (256 dims, 8 heads,
# MLP 1024) -> linear head on CLS. Every choice the paper leaves open is
# explained in ferpretrain/models/classifiers/fervt.py.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='GridAttentionResNet',
        depth=34,
        out_indices=(1, 2, 3),
        grid_attention=dict(
            type='GridWiseAttention', grid_size=7, num_heads=4)),
    neck=dict(
        type='SemanticTokenTransformer',
        in_channels=(128, 256, 512),
        embed_dims=256,
        num_layers=4,
        num_heads=8,
        mlp_ratio=4.,
        # Small FER training sets: stochastic depth regularises the
        # transformer trained from scratch on top of the ImageNet CNN.
        drop_path_rate=0.1),
    head=dict(
        type='LinearClsHead',
        num_classes=7,
        in_channels=256,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
)
