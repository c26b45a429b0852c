# POSTER V2 on AffectNet, 7 classes (67.49 in the paper): lr 1e-6, the
# imbalanced sampler of the official script (ClassBalancedSampler), faces
# cropped by AffectNet's boxes. AffectNet's validation set is its test set:
# the last epoch is reported (the official script keeps the best epoch on
# it; see README.md).
_base_ = [
    '../_base_/models/poster_v2_pretrained.py',
    '../_base_/datasets/affectnet7_112.py',
    '../_base_/datasets/posterv2_aug_224.py',
    '../_base_/schedules/posterv2_sam-adam_200e.py',
    '../_base_/default_runtime.py',
]
_aug = _base_.posterv2_strong_erasing_train_pipeline
_test = _base_.posterv2_test_pipeline
# Crop to the annotated face box right after loading.
train_dataloader = dict(
    batch_size=144,
    dataset=dict(pipeline=_aug[:1] + [dict(type='CropFaceBox')] + _aug[1:]))
val_dataloader = dict(
    batch_size=64,
    dataset=dict(pipeline=_test[:1] + [dict(type='CropFaceBox')] + _test[1:]))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=1e-6))
