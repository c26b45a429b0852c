# Disentangled Difference of Embeddings on CK+, stage 1: the emotion
# encoder learns to classify single faces (the 981 peak frames and the 327
# neutral first frames of the training subjects: 8 classes) beside the
# frozen VGGFace2 identity encoder. Stage 2 (ckplus_stage2.py) reads this
# run's checkpoint. Per fold (f = 0..9), stage 1 then stage 2:
#   W=work_dirs/ddoe_ckplus/fold$f
#   python tools/train.py configs/disentangled_doe/ckplus_stage1.py \
#     --work-dir $W/stage1 --cfg-options \
#     train_dataloader.dataset.fold=$f val_dataloader.dataset.fold=$f \
#     test_dataloader.dataset.fold=$f
#   python tools/train.py configs/disentangled_doe/ckplus_stage2.py \
#     --work-dir $W/stage2 --cfg-options \
#     model.backbone_checkpoint=$W/stage1/epoch_30.pth \
#     train_dataloader.dataset.dataset.fold=$f \
#     val_dataloader.dataset.dataset.fold=$f \
#     test_dataloader.dataset.dataset.fold=$f
# Needs the official CK+ (aligned), mmpretrain's MobileNetV3-Large ImageNet
# checkpoint and the converted VGGFace2 ResNet-50
# (_base_/models/disentangled_doe_stage1.py).
_base_ = [
    '../_base_/models/disentangled_doe_stage1.py',
    '../_base_/datasets/ckplus_pairs_224.py',
    '../_base_/schedules/doe_adam_30e.py',
    '../_base_/default_runtime.py',
]
data_preprocessor = dict(_base_.single_data_preprocessor, num_classes=8)
model = dict(head=dict(num_classes=8))
# Single faces: the CK+ dataset itself, the same folds as stage 2.
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        **_base_.ckplus_faces,
        split='train',
        pipeline=_base_.pair_train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        **_base_.ckplus_faces,
        split='test',
        test_mode=True,
        pipeline=_base_.pair_test_pipeline))
test_dataloader = val_dataloader
