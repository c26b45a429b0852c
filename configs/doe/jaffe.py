# Difference of Embeddings on JAFFE (seed system, no published JAFFE
# result): each expression image against its subject's neutral image, 6
# classes, leave one subject out (10 folds of one subject). One run a fold:
#   for f in 0 1 2 3 4 5 6 7 8 9; do
#     python tools/train.py configs/doe/jaffe.py \
#       --work-dir work_dirs/doe_jaffe/fold$f --cfg-options \
#       train_dataloader.dataset.dataset.fold=$f \
#       val_dataloader.dataset.dataset.fold=$f \
#       test_dataloader.dataset.dataset.fold=$f
#   done
# Needs JAFFE (aligned, see _base_/datasets/jaffe_pairs_224.py) and
# mmpretrain's MobileNetV3-Large ImageNet checkpoint.
_base_ = [
    '../_base_/models/doe_mobilenetv3-large.py',
    '../_base_/datasets/jaffe_pairs_224.py',
    '../_base_/schedules/doe_adam_30e.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=6))
# About 170 pairs a fold: batch 16 keeps 10 steps an epoch.
train_dataloader = dict(batch_size=16)
