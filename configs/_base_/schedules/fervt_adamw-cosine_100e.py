# FER-VT's schedule. The paper's optimiser and schedule could not be read;
# the public re-implementation's (AdamW 1e-3, cosine, 100 epochs, batch 32)
# diverged to NaN in its own log. Chosen here: AdamW, lr 1e-4 for batch 64
# (the ImageNet ResNet is fine-tuned, the tokenizers and the transformer are
# new), weight decay 0.05 except norms, biases, CLS and position
# embeddings, gradients clipped at L2 norm 10, two epochs of linear warm-up,
# then cosine decay to 1e-6 over 100 epochs.
max_epochs = 100
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
    clip_grad=dict(max_norm=10, norm_type=2),
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
    dict(type='CosineAnnealingLR', T_max=max_epochs - 2, eta_min=1e-6,
         by_epoch=True, begin=2, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=64)
