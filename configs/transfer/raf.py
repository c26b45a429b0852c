# TransFER on RAF-DB (Xue, Wang, Guo, ICCV 2021): the paper's recipe as the
# authors' Paddle port sets it (90.91 % in its evaluation log).
#   python tools/train.py configs/transfer/raf.py     # batch 64, one GPU
#   python tools/test.py configs/transfer/raf.py work_dirs/raf/epoch_40.pth
_base_ = [
    '../_base_/models/transfer_ir50_vit-s_pretrained.py',
    '../_base_/datasets/rafdb_112.py',
    '../_base_/datasets/transfer_aug_112.py',
    '../_base_/schedules/transfer_sgd-step_40e.py',
    '../_base_/default_runtime.py',
]

# No class-balanced resampling in TransFER: the plain training split.
train_dataloader = dict(
    batch_size=64,
    dataset=dict(
        _delete_=True,
        type='RAFDB',
        data_root=_base_.data_root,
        split='train',
        pipeline=_base_.transfer_train_pipeline))
val_dataloader = dict(batch_size=64)
test_dataloader = dict(batch_size=64)
