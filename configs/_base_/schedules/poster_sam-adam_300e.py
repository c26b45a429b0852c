# POSTER's schedule (zczcwh/POSTER train.py): SAM around Adam (rho 0.05, not
# adaptive), learning rate 4e-5 x0.98 every epoch, 300 epochs, batch 200 (on
# 2 GPUs). The weight decay in the script's comments is not used; the
# script seeds 123 (set `randomness` to match).
optim_wrapper = dict(
    type='SAMOptimWrapper',
    rho=0.05,
    adaptive=False,
    optimizer=dict(type='Adam', lr=4e-5))
param_scheduler = dict(type='ExponentialLR', gamma=0.98, by_epoch=True)

train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=200)
