# POSTER (large) on AffectNet-7 (zczcwh/POSTER train_affect.py): 67.31 in
# the paper. The official AffectNet network: train_affect.py builds
# emotion_hyp_affect.py / hyp_crossvit_affect.py, whose cross-fusion blocks
# have no token-mixing Conv1d (the RAF-DB network has one per block):
# 58.66 M parameters instead of 58.91 M. Same loss; lr 2e-6, class-balanced
# sampling (the script's ImbalancedDatasetSampler), RGB images. AffectNet's
# validation set is its test set and there is no other: the last epoch is
# reported.
#   python tools/train.py configs/poster/affectnet7.py
_base_ = [
    '../_base_/models/poster_ir50_mfn_pretrained.py',
    '../_base_/datasets/affectnet7_112.py',
    '../_base_/datasets/poster_aug_224.py',
    '../_base_/schedules/poster_sam-adam_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(neck=dict(token_mixing=False))

_aug = _base_.poster_train_pipeline
_test = _base_.poster_test_pipeline
train_dataloader = dict(
    batch_size=200,
    dataset=dict(pipeline=_aug[:1] + [dict(type='CropFaceBox')] + _aug[1:]))
val_dataloader = dict(
    batch_size=32,
    dataset=dict(pipeline=_test[:1] + [dict(type='CropFaceBox')] + _test[1:]))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=2e-6))
