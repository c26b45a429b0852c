# TransFER (Xue, Wang, Guo, ICCV 2021) at full size, 112x112 faces:
# IR-50 stages 1-3 (256x14x14) -> 2 LANets with Multi-Attention Dropping ->
# 1x1 conv to 768 -> 196 tokens + CLS -> ViT-FER (8 blocks, 768 dims, 8
# heads, MLP ratio 3, no qkv bias) with Multi-head Self-Attention Dropping
# -> Linear 768 -> 7 on the CLS token (zero initialised).
# The stem, transformer and head are APViT's (which grew from TransFER);
# what differs is set here.
_base_ = ['./apvit_ir50_vit-s.py']
model = dict(
    neck=dict(
        # No patch or token pooling: that came later, with APViT.
        patch_pooling=None,
        token_keep_rates=None,
        # LANets + MAD: 2 maps, one dropped for 60 % of the samples.
        feature_attention=dict(
            type='MultiAttentionDropping',
            in_channels=256,
            num_lanets=2,
            reduction=16,
            drop_prob=0.6,
            max_dropped=1),
        # MSAD: one whole head dropped for 30 % of the samples, each block.
        head_dropping=dict(
            type='MultiHeadSelfAttentionDropping',
            drop_prob=0.3,
            max_dropped=1)),
    head=dict(init_cfg=dict(type='Constant', layer='Linear', val=0)),
)
