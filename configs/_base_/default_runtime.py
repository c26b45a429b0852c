# Runtime shared by every ferpretrain config (kept in this repository, not
# `mmpretrain::`, so configs never depend on pkg_resources).

# ferpretrain registers into mmpretrain's registries: the scope is
# mmpretrain's. `ferpretrain.plugin` registers the components and prepares
# the process to run them (safe checkpoint loading, mmcv's hue fix), so that
# mmpretrain's own tools run these configs as ferpretrain's do.
default_scope = 'mmpretrain'
custom_imports = dict(
    imports=['ferpretrain.plugin'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Keeps the last 3 epoch checkpoints of this run plus `last_checkpoint`
    # for `--resume`; no best-on-test selection (FER test sets double as
    # validation sets, so picking the best epoch on them inflates results).
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
)
# Restarts every random stream (model, dataloader workers' augmentation) from
# (seed, epoch) each epoch, so that a run resumed with --resume, even after a
# kill -9, ends exactly like the uninterrupted run. A config that sets its own
# `custom_hooks` replaces this list; tools/train.py adds the hook back
# (ferpretrain.engine.use_reproducible_randomness).
custom_hooks = [dict(type='ReproducibleRandomnessHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py switches to gloo by itself on a machine without a GPU.
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=None, deterministic=False)
