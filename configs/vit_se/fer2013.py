# ViT-SE on FER2013 (7 classes); the paper uses FER2013 for pre-training in
# some runs and reports no FER2013 accuracy. PublicTest (`val`) selects the
# best checkpoint, PrivateTest (`test`) is reported:
#   python tools/train.py configs/vit_se/fer2013.py
#   python tools/test.py configs/vit_se/fer2013.py \
#       work_dirs/fer2013/best_accuracy_top1_epoch_*.pth
_base_ = [
    '../_base_/models/vit_se_vit-b16_pretrained.py',
    '../_base_/datasets/fer2013_112.py',
    '../_base_/datasets/vit_se_aug_224.py',
    '../_base_/schedules/vit_se_adamw-cosine_50e.py',
    '../_base_/default_runtime.py',
]
data_preprocessor = _base_.vit_se_data_preprocessor
train_dataloader = dict(
    batch_size=64, dataset=dict(pipeline=_base_.vit_se_gray_train_pipeline))
val_dataloader = dict(
    batch_size=64, dataset=dict(pipeline=_base_.vit_se_test_pipeline))
test_dataloader = dict(
    batch_size=64, dataset=dict(pipeline=_base_.vit_se_test_pipeline))
# Selection on the validation split, never on the test split.
default_hooks = dict(
    checkpoint=dict(save_best='accuracy/top1', rule='greater'))
