# POSTER (Zheng, Mendieta, Chen, arXiv 2204.04083), the large model the
# paper reports: 224 input resized to 112 for both branches; IR-50 stages
# 1-3 (256x14x14, raw-reshaped to 49 x 1024 -> Linear 512) and the frozen
# 68-landmark MobileFaceNet (conv_6_sep, 49 x 512) as two token streams with
# mean CLS tokens -> 8 pyramid cross-fusion layers (widths 512/256/128, 8
# heads, MLP ratio 2, qkv bias, drop-path up to 0.1) -> LayerNorm -> image
# CLS -> SE -> Linear. Loss: CE + 2 x label-smoothed CE (0.2).
# 58.91 M parameters built (the paper's 71.8 M counts 12.85 M of an IR-50
# output layer that never runs: see ferpretrain/models/classifiers/poster.py),
# 7.89 GMAC at 224. arch='base' / 'small' give depth 6 / 4.
# No pretrained files here: _base_/models/poster_ir50_mfn_pretrained.py names
# the ones the paper uses.
model = dict(
    type='Poster',
    input_size=112,
    backbone=dict(
        type='IResNet',
        depth=50,
        num_stages=3,  # stage 3: 256x14x14 for a 112 face
        channels_last=True,  # NHWC convolutions (oneDNN, tensor cores)
    ),
    landmark_backbone=dict(
        type='MobileFaceNet',
        out_indices=(4, ),  # conv_6_sep, 512x7x7
        frozen=True,  # weights fixed and BatchNorm kept in eval
        channels_last=True,
    ),
    neck=dict(
        type='PosterNeck',
        arch='large',
        num_tokens=49,
        image_token_dims=1024,  # 256 * 14 * 14 / 49
        landmark_channels=512,
        embed_dims=512,
        num_scales=3,
        num_heads=8,
        mlp_ratio=2.,
        qkv_bias=True,
        drop_rate=0.,
        attn_drop_rate=0.,
        drop_path_rate=0.1,
        norm_eps=1e-6),
    head=dict(
        type='LinearClsHead',
        num_classes=7,
        in_channels=512,
        loss=dict(type='POSTERLoss', ce_weight=1., ls_weight=2.,
                  label_smooth_val=0.2),
        topk=(1, )),
)
