# POSTER V2 on CAER-S (93.00 in the README's checkpoint table): lr 4e-5.
# CAER-S has no validation split: the last epoch is reported.
_base_ = [
    '../_base_/models/poster_v2_pretrained.py',
    '../_base_/datasets/caers_112.py',
    '../_base_/datasets/posterv2_aug_224.py',
    '../_base_/schedules/posterv2_sam-adam_200e.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(
    batch_size=144,
    dataset=dict(pipeline=_base_.posterv2_strong_erasing_train_pipeline))
val_dataloader = dict(
    batch_size=64, dataset=dict(pipeline=_base_.posterv2_test_pipeline))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=4e-5))
