# TransFER reduced to train on 2 CPU cores, from scratch on FER2013's 48x48
# faces: the same architecture (IR stages 1-3 -> 2 LANets with MAD -> 1x1
# projection -> ViT-FER with MSAD -> linear head on CLS), narrower and
# shallower. Everything but the model is APViT's CPU recipe
# (configs/apvit/fer2013_cpu.py: AdamW, 10 epochs, light augmentation), so
# the two compare. Results and timing: configs/transfer/README.md.
#   python tools/train.py configs/transfer/fer2013_cpu.py --cfg-options \
#       train_dataloader.dataset.data_root=../shared/data/fer2013 \
#       val_dataloader.dataset.data_root=../shared/data/fer2013
_base_ = ['../apvit/fer2013_cpu.py']

model = dict(
    neck=dict(
        # TransFER has no patch or token pooling.
        patch_pooling=None,
        token_keep_rates=None,
        feature_attention=dict(
            type='MultiAttentionDropping',
            in_channels=64,
            num_lanets=2,
            reduction=16,
            drop_prob=0.6,
            max_dropped=1),
        head_dropping=dict(
            type='MultiHeadSelfAttentionDropping',
            drop_prob=0.3,
            max_dropped=1)),
    head=dict(init_cfg=dict(type='Constant', layer='Linear', val=0)),
)
