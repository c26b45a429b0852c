# POSTER V2 / POSTER++ (Mao et al., arXiv 2301.12149): 224 input resized to
# 112 for both branches; frozen 68-landmark MobileFaceNet maps are the
# unprojected queries of window cross-attention over IR-50 stage maps at three
# scales (dims 64/128/256, heads 2/4/8, windows 28/14/7); 3 x 49 tokens + CLS
# -> 2-layer ViT (768-d, 8 heads, MLP ratio 4, qkv bias) -> SE -> linear.
# 43.75 M parameters (paper / thop: 43.7 M), 8.48 GMAC thop-style at 224.
# No pretrained files here: the ones the paper uses go in the commented
# init_cfg lines (both key layouts are remapped on load).
model = dict(
    type='PosterV2',
    input_size=112,
    backbone=dict(
        type='IResNet',
        depth=50,
        num_stages=3,  # 64x56x56, 128x28x28, 256x14x14 for a 112 face
        out_indices=(0, 1, 2),
        channels_last=True,  # NHWC convolutions (oneDNN, tensor cores)
        # init_cfg=dict(type='Pretrained', checkpoint='ir50.pth'),
    ),
    landmark_backbone=dict(
        type='MobileFaceNet',
        out_indices=(1, 2, 4),  # conv_3, conv_4, conv_6_sep
        frozen=True,  # weights fixed and BatchNorm kept in eval
        channels_last=True,
        # init_cfg=dict(
        #     type='Pretrained',
        #     checkpoint='mobilefacenet_model_best.pth.tar'),
    ),
    neck=dict(
        type='PosterV2Neck',
        in_channels=(64, 128, 256),
        landmark_channels=(64, 128, 512),
        num_heads=(2, 4, 8),
        window_sizes=(28, 14, 7),
        drop_path_rates=(0., 0.125, 0.25),
        layer_scale=1e-5,
        embed_dims=768,
        num_layers=2,
        vit_num_heads=8,
        mlp_ratio=4.,
        qkv_bias=True,
        norm_eps=1e-6,
        drop_rate=0.),
    head=dict(
        type='LinearClsHead',
        num_classes=7,
        in_channels=768,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )),
)
