# POSTER V2's schedule (Talented-Q/POSTER_V2 main.py and README): SAM around
# Adam (rho 0.05, not adaptive), learning rate x0.98 every epoch, 200 epochs,
# batch 144, plain cross-entropy. The script parses a weight decay of 1e-4
# but never passes it to the optimizer: none here either. RAF-DB's lr.
optim_wrapper = dict(
    type='SAMOptimWrapper',
    rho=0.05,
    adaptive=False,
    optimizer=dict(type='Adam', lr=3.5e-5))
param_scheduler = dict(type='ExponentialLR', gamma=0.98, by_epoch=True)

train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=1)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=144)
