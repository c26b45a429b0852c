# ViT-SE's schedule. The paper's optimiser and schedule could not be read.
# Chosen here, the usual fine-tuning of an ImageNet-21k ViT-B/16 on a small
# dataset: AdamW, lr 5e-5 for batch 64, weight decay 0.05 except norms,
# biases, CLS and position embeddings, gradients clipped at L2 norm 1, two
# epochs of linear warm-up, cosine decay to 1e-7 over 50 epochs.
max_epochs = 50
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=5e-5, weight_decay=0.05),
    clip_grad=dict(max_norm=1, norm_type=2),
    paramwise_cfg=dict(
        norm_decay_mult=0.,
        bias_decay_mult=0.,
        custom_keys={
            'pos_embed': dict(decay_mult=0.),
            'cls_token': dict(decay_mult=0.)
        }),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=2,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 2, eta_min=1e-7,
         by_epoch=True, begin=2, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=64)
