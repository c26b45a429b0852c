# Difference of Embeddings on CK+ (seed system, no published CK+ result):
# each peak frame against the first frame of its own sequence, 7 classes,
# subject-independent 10-fold cross-validation. One run a fold, the mean of
# the folds' last-epoch accuracies reported:
#   for f in 0 1 2 3 4 5 6 7 8 9; do
#     python tools/train.py configs/doe/ckplus.py \
#       --work-dir work_dirs/doe_ckplus/fold$f --cfg-options \
#       train_dataloader.dataset.dataset.fold=$f \
#       val_dataloader.dataset.dataset.fold=$f \
#       test_dataloader.dataset.dataset.fold=$f
#   done
# Needs the official CK+ download (aligned, see
# _base_/datasets/ckplus_pairs_224.py) and mmpretrain's MobileNetV3-Large
# ImageNet checkpoint (_base_/models/doe_mobilenetv3-large.py).
_base_ = [
    '../_base_/models/doe_mobilenetv3-large.py',
    '../_base_/datasets/ckplus_pairs_224.py',
    '../_base_/schedules/doe_adam_30e.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=7))
