# TransFER's schedule (the authors' Paddle port, configs/RAF/TransFER.yaml):
# SGD, momentum 0.9, weight decay 1e-4, lr 1e-3 divided by 10 at epochs 15
# and 30, 40 epochs, batch 64.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(
    type='MultiStepLR', milestones=[15, 30], gamma=0.1, by_epoch=True)

train_cfg = dict(by_epoch=True, max_epochs=40, val_interval=1)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=64)
