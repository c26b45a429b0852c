# APViT (Xue et al., IEEE TAC 2022): IR-50 stages 1-3 -> 1x1 projection ->
# attentive patch pooling (160 of 196) -> old timm ViT-Small (768-d, 8 layers,
# 8 heads, MLP ratio 3, no qkv bias) with attentive token pooling in blocks
# 5-8 (keep rate 0.9) -> linear head on the CLS token.
# 65.21 M parameters, 12.67 GMAC at 112x112 (fvcore-style).
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='IResNet',
        depth=50,
        num_stages=3,  # output 256x14x14 for a 112x112 face
        out_indices=(2, ),
        # NHWC convolutions: oneDNN's fast path on CPU (2x an fp32 3x3 conv
        # here) and tensor cores' native layout on GPU.
        channels_last=True),
    neck=dict(
        type='PoolingViT',
        in_channels=256,
        num_patches=196,
        embed_dims=768,
        num_layers=8,
        num_heads=8,
        mlp_ratio=3.,
        qkv_bias=False,
        norm_eps=1e-6,
        drop_rate=0.,
        attn_drop_rate=0.,
        drop_path_rate=0.,
        patch_pooling=dict(type='AttentivePatchPooling', num_keep=160),
        token_keep_rates=[1.] * 4 + [0.9] * 4),
    head=dict(
        type='LinearClsHead',
        num_classes=7,
        in_channels=768,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )),
)
