# Disentangled Difference of Embeddings on JAFFE, stage 1: the emotion
# encoder learns to classify single faces (all 7 classes, neutral included)
# beside the frozen VGGFace2 identity encoder. Per fold (f = 0..9, one
# subject each), stage 1 then stage 2:
#   W=work_dirs/ddoe_jaffe/fold$f
#   python tools/train.py configs/disentangled_doe/jaffe_stage1.py \
#     --work-dir $W/stage1 --cfg-options \
#     train_dataloader.dataset.fold=$f val_dataloader.dataset.fold=$f \
#     test_dataloader.dataset.fold=$f
#   python tools/train.py configs/disentangled_doe/jaffe_stage2.py \
#     --work-dir $W/stage2 --cfg-options \
#     model.backbone_checkpoint=$W/stage1/epoch_30.pth \
#     train_dataloader.dataset.dataset.fold=$f \
#     val_dataloader.dataset.dataset.fold=$f \
#     test_dataloader.dataset.dataset.fold=$f
_base_ = [
    '../_base_/models/disentangled_doe_stage1.py',
    '../_base_/datasets/jaffe_pairs_224.py',
    '../_base_/schedules/doe_adam_30e.py',
    '../_base_/default_runtime.py',
]
data_preprocessor = dict(_base_.single_data_preprocessor, num_classes=7)
model = dict(head=dict(num_classes=7))
train_dataloader = dict(
    batch_size=16,
    dataset=dict(
        _delete_=True,
        **_base_.jaffe_faces,
        split='train',
        pipeline=_base_.pair_train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        **_base_.jaffe_faces,
        split='test',
        test_mode=True,
        pipeline=_base_.pair_test_pipeline))
test_dataloader = val_dataloader
