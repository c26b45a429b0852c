# TransFER on FERPlus (8 classes, majority labels) with the RAF-DB recipe;
# the paper reports 90.83 (not checked here).
_base_ = [
    '../_base_/models/transfer_ir50_vit-s_pretrained.py',
    '../_base_/datasets/ferplus_112.py',
    '../_base_/datasets/transfer_aug_112.py',
    '../_base_/schedules/transfer_sgd-step_40e.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=8))
train_dataloader = dict(
    batch_size=64, dataset=dict(pipeline=_base_.transfer_train_pipeline))
val_dataloader = dict(batch_size=64)
test_dataloader = dict(batch_size=64)
