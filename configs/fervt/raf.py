# FER-VT on RAF-DB (7 classes, basic set): 88.26 reported for the paper
# (aggregator figure, unverified). ImageNet ResNet-34 with grid-wise
# attention, tokens of stages 2-4, a 4-layer transformer (see
# ferpretrain/models/classifiers/fervt.py for the choices the paper leaves
# open), at 224, batch 64 on one GPU:
#   python tools/train.py configs/fervt/raf.py
# RAF-DB has no validation split: the last epoch is reported.
_base_ = [
    '../_base_/models/fervt_resnet34_pretrained.py',
    '../_base_/datasets/rafdb_112.py',
    '../_base_/datasets/fervt_aug_224.py',
    '../_base_/schedules/fervt_adamw-cosine_100e.py',
    '../_base_/default_runtime.py',
]

# The plain training set (no class-balanced resampling: the paper names
# none).
train_dataloader = dict(
    batch_size=64,
    dataset=dict(
        _delete_=True,
        type='RAFDB',
        data_root=_base_.data_root,
        split='train',
        pipeline=_base_.fervt_train_pipeline))
val_dataloader = dict(
    batch_size=64, dataset=dict(pipeline=_base_.fervt_test_pipeline))
test_dataloader = val_dataloader
