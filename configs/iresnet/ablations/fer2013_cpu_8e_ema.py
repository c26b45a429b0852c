# Ablation: the recipe plus an exponential moving average of the weights
# (mmengine's EMAHook; validation uses the averaged weights). It starts at
# the middle of the schedule: averaging from the first step mixed the random
# initialisation into the weights for epochs (configs/iresnet/README.md).
# Momentum 1e-3: the average spans about 1,000 steps, two of the 449-step
# epochs.
_base_ = ['./fer2013_cpu_8e.py']

custom_hooks = [
    *_base_.custom_hooks,
    dict(
        type='EMAHook',
        momentum=1e-3,
        begin_epoch=4,
        update_buffers=True,
        priority='ABOVE_NORMAL'),
]
