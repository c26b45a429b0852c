# TransFER on AffectNet, 7 classes (the paper reports 66.23, not checked
# here), with the RAF-DB recipe and a class-balanced sampler; faces cropped
# by AffectNet's boxes, tested on the validation set.
_base_ = [
    '../_base_/models/transfer_ir50_vit-s_pretrained.py',
    '../_base_/datasets/affectnet7_112.py',
    '../_base_/datasets/transfer_aug_112.py',
    '../_base_/schedules/transfer_sgd-step_40e.py',
    '../_base_/default_runtime.py',
]
# Crop to the annotated face box right after loading.
_aug = _base_.transfer_train_pipeline
train_dataloader = dict(
    batch_size=64,
    dataset=dict(pipeline=_aug[:1] + [dict(type='CropFaceBox')] + _aug[1:]))
val_dataloader = dict(batch_size=64)
test_dataloader = val_dataloader
