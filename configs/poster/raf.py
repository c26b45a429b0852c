# POSTER (large) on RAF-DB (Zheng et al., arXiv 2204.04083): the official
# recipe, 92.05 in the paper.
#   python tools/train.py configs/poster/raf.py     # batch 200 (2 GPUs there)
#   bash tools/dist_train.sh configs/poster/raf.py 2
# RAF-DB has no validation split: the last epoch is reported (the official
# script keeps the best epoch on the test set; see README.md).
_base_ = [
    '../_base_/models/poster_ir50_mfn_pretrained.py',
    '../_base_/datasets/rafdb_112.py',
    '../_base_/datasets/poster_aug_224.py',
    '../_base_/schedules/poster_sam-adam_300e.py',
    '../_base_/default_runtime.py',
]

# The official RAF-DB loader feeds OpenCV's BGR image to a network
# normalised with RGB statistics (dataset_raf.py never converts; its
# AffectNet loader does). Kept, so released RAF-DB weights see what they
# were trained on: channels stay BGR, the statistics apply by position.
data_preprocessor = dict(to_rgb=False)

# No class-balanced resampling in POSTER's RAF-DB run.
train_dataloader = dict(
    batch_size=200,
    dataset=dict(
        _delete_=True,
        type='RAFDB',
        data_root=_base_.data_root,
        split='train',
        pipeline=_base_.poster_train_pipeline))
val_dataloader = dict(
    batch_size=32, dataset=dict(pipeline=_base_.poster_test_pipeline))
test_dataloader = val_dataloader
