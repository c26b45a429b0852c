# FER-VT on FERPlus (8 classes, majority labels): 90.04 reported for the
# paper (aggregator figure, unverified), with the RAF-DB recipe.
# FER2013Valid selects the best checkpoint; FER2013Test is reported:
#   python tools/train.py configs/fervt/ferplus.py
#   python tools/test.py configs/fervt/ferplus.py \
#       work_dirs/ferplus/best_accuracy_top1_epoch_*.pth
_base_ = [
    '../_base_/models/fervt_resnet34_pretrained.py',
    '../_base_/datasets/ferplus_112.py',
    '../_base_/datasets/fervt_aug_224.py',
    '../_base_/schedules/fervt_adamw-cosine_100e.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=8))
train_dataloader = dict(
    batch_size=64,
    dataset=dict(pipeline=_base_.fervt_gray_train_pipeline))
val_dataloader = dict(
    batch_size=64, dataset=dict(pipeline=_base_.fervt_test_pipeline))
test_dataloader = dict(
    batch_size=64, dataset=dict(pipeline=_base_.fervt_test_pipeline))
# Selection on the validation split, never on the test split.
default_hooks = dict(
    checkpoint=dict(save_best='accuracy/top1', rule='greater'))
