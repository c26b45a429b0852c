# TransFER reduced for 2 CPU cores, trained in bfloat16: fer2013_cpu.py made
# twice as wide (IR stages 32/64/128, 256-d ViT-FER), on APViT's bf16 CPU
# recipe (configs/apvit/fer2013_cpu_bf16.py: 8 epochs, AdamW, bf16 autocast
# for training, validation and testing), so the two compare. fp32 would not
# fit this width in the 30-minute budget on the project's 2 cores (no AMX);
# see configs/apvit/fer2013_cpu_bf16.py. Results: configs/transfer/README.md.
#   python tools/train.py configs/transfer/fer2013_cpu_bf16.py --cfg-options \
#       train_dataloader.dataset.data_root=../shared/data/fer2013 \
#       val_dataloader.dataset.data_root=../shared/data/fer2013
_base_ = ['../apvit/fer2013_cpu_bf16.py']

model = dict(
    neck=dict(
        # TransFER has no patch or token pooling.
        patch_pooling=None,
        token_keep_rates=None,
        feature_attention=dict(
            type='MultiAttentionDropping',
            in_channels=128,
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
