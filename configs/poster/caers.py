# POSTER (large) on CAER-S. The POSTER paper reports no CAER-S result and its
# code ships no CAER-S script: this is the RAF-DB recipe (lr 4e-5) on RGB
# images, for comparison with POSTER V2's 93.00. CAER-S has train and test
# folders only: the last epoch is reported.
#   python tools/train.py configs/poster/caers.py
_base_ = [
    '../_base_/models/poster_ir50_mfn_pretrained.py',
    '../_base_/datasets/caers_112.py',
    '../_base_/datasets/poster_aug_224.py',
    '../_base_/schedules/poster_sam-adam_300e.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(
    batch_size=200, dataset=dict(pipeline=_base_.poster_train_pipeline))
val_dataloader = dict(
    batch_size=32, dataset=dict(pipeline=_base_.poster_test_pipeline))
test_dataloader = val_dataloader
