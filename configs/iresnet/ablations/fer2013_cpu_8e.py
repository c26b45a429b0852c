# The shipped recipe (../fer2013_cpu.py) on an 8-epoch schedule: the
# reference of the ablations in configs/iresnet/README.md ("What earned its
# place"). Each other file here changes one thing against it, so that a
# technique's worth costs one 8-epoch run (11-14 minutes on 2 cores)
# instead of the 45-epoch one. Short runs favour weak regularisation; the
# README reads the figures with that in mind.
#   python tools/train.py configs/iresnet/ablations/fer2013_cpu_8e.py \
#       --cfg-options \
#       train_dataloader.dataset.data_root=../shared/data/fer2013 \
#       val_dataloader.dataset.data_root=../shared/data/fer2013
_base_ = ['../fer2013_cpu.py']

max_epochs = 8
param_scheduler = [
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], T_max=max_epochs - 1, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
