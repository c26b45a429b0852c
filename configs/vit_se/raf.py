# ViT-SE on RAF-DB (7 classes, basic set): 87.22 in the paper (as listed by
# Papers with Code). ViT-B/16 from ImageNet-21k + SE on the class token (see
# ferpretrain/models/classifiers/vit_se.py), at 224, batch 64 on one GPU:
#   python tools/train.py configs/vit_se/raf.py
# RAF-DB has no validation split: the last epoch is reported.
_base_ = [
    '../_base_/models/vit_se_vit-b16_pretrained.py',
    '../_base_/datasets/rafdb_112.py',
    '../_base_/datasets/vit_se_aug_224.py',
    '../_base_/schedules/vit_se_adamw-cosine_50e.py',
    '../_base_/default_runtime.py',
]
data_preprocessor = _base_.vit_se_data_preprocessor
# The plain training set (the paper names no resampling).
train_dataloader = dict(
    batch_size=64,
    dataset=dict(
        _delete_=True,
        type='RAFDB',
        data_root=_base_.data_root,
        split='train',
        pipeline=_base_.vit_se_train_pipeline))
val_dataloader = dict(
    batch_size=64, dataset=dict(pipeline=_base_.vit_se_test_pipeline))
test_dataloader = val_dataloader
