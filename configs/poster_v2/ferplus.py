# POSTER V2 on FERPlus (8 classes, majority labels), with the RAF-DB recipe
# (the paper gives no FERPlus recipe) and the erasing of its other datasets.
# FER2013Valid selects the best checkpoint; FER2013Test is reported:
#   python tools/test.py configs/poster_v2/ferplus.py \
#       work_dirs/ferplus/best_accuracy_top1_epoch_*.pth
_base_ = [
    '../_base_/models/poster_v2_pretrained.py',
    '../_base_/datasets/ferplus_112.py',
    '../_base_/datasets/posterv2_aug_224.py',
    '../_base_/schedules/posterv2_sam-adam_200e.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=8))
train_dataloader = dict(
    batch_size=144,
    dataset=dict(pipeline=_base_.posterv2_strong_erasing_train_pipeline))
val_dataloader = dict(
    batch_size=64, dataset=dict(pipeline=_base_.posterv2_test_pipeline))
test_dataloader = dict(
    batch_size=64, dataset=dict(pipeline=_base_.posterv2_test_pipeline))
# Selection on the validation split, never on the test split.
default_hooks = dict(
    checkpoint=dict(save_best='accuracy/top1', rule='greater'))
