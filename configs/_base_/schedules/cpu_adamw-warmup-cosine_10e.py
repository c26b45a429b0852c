# ferpretrain's CPU schedule (configs/*/fer2013_cpu.py, the quick-start
# demo): from scratch a ViT needs an adaptive optimiser, so AdamW with a
# short warm-up and cosine decay replaces the papers' SGD / SAM fine-tuning
# schedules. AdamW lr 1e-3, weight decay 0.05, gradients clipped at L2 norm
# 10; one epoch of linear warm-up from 0.1 x lr, then cosine decay to 1e-5
# over the other epochs, both stepped every iteration; 10 epochs, batch 64.
#
# `param_scheduler` is a list, so a config replaces it whole. One that trains
# for another number of epochs restates it from these entries:
#   max_epochs = 8
#   param_scheduler = [
#       _base_.param_scheduler[0],
#       dict(_base_.param_scheduler[1], T_max=max_epochs - 1, end=max_epochs),
#   ]
#   train_cfg = dict(max_epochs=max_epochs)
max_epochs = 10
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
    clip_grad=dict(max_norm=10, norm_type=2),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 1, eta_min=1e-5,
         by_epoch=True, begin=1, end=max_epochs,
         convert_to_iter_based=True),
]

train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=64)
