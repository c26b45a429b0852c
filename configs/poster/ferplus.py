# POSTER (large) on FERPlus, 8 classes by majority vote: 91.62 in the paper.
# The official code ships no FERPlus script; this is its RAF-DB recipe (SAM
# Adam lr 4e-5, 300 epochs, batch 200, CE + 2 x LSCE) on RGB images, with
# the checkpoint selected on FERPlus's validation split (FER2013Valid),
# never on the test split.
#   python tools/train.py configs/poster/ferplus.py
#   python tools/test.py configs/poster/ferplus.py \
#       work_dirs/ferplus/best_accuracy_top1_epoch_*.pth
_base_ = [
    '../_base_/models/poster_ir50_mfn_pretrained.py',
    '../_base_/datasets/ferplus_112.py',
    '../_base_/datasets/poster_aug_224.py',
    '../_base_/schedules/poster_sam-adam_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=8))
train_dataloader = dict(
    batch_size=200, dataset=dict(pipeline=_base_.poster_train_pipeline))
val_dataloader = dict(
    batch_size=32, dataset=dict(pipeline=_base_.poster_test_pipeline))
test_dataloader = dict(
    batch_size=32, dataset=dict(pipeline=_base_.poster_test_pipeline))
default_hooks = dict(
    checkpoint=dict(save_best='accuracy/top1', rule='greater'))
