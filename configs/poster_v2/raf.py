# POSTER V2 on RAF-DB (Mao et al., arXiv 2301.12149): the official recipe,
# 92.21 in the paper.
#   python tools/train.py configs/poster_v2/raf.py      # batch 144, one GPU
# RAF-DB has no validation split: the last epoch is reported (the official
# script keeps the best epoch on the test set; see README.md).
_base_ = [
    '../_base_/models/poster_v2_pretrained.py',
    '../_base_/datasets/rafdb_112.py',
    '../_base_/datasets/posterv2_aug_224.py',
    '../_base_/schedules/posterv2_sam-adam_200e.py',
    '../_base_/default_runtime.py',
]

# No class-balanced resampling in POSTER V2's RAF-DB run.
train_dataloader = dict(
    batch_size=144,
    dataset=dict(
        _delete_=True,
        type='RAFDB',
        data_root=_base_.data_root,
        split='train',
        pipeline=_base_.posterv2_train_pipeline))
val_dataloader = dict(
    batch_size=64, dataset=dict(pipeline=_base_.posterv2_test_pipeline))
test_dataloader = val_dataloader
