# ViT-SE on SFEW 2.0 (7 classes): 54.29 in the paper (as listed by Papers
# with Code). Train/ trains, Val/ is evaluated and the last epoch reported
# (SFEW's test labels were never released):
#   python tools/train.py configs/vit_se/sfew.py
# Whether the paper first trained on FER2013 for SFEW could not be read;
# to start from a FER2013 run, override the initialisation:
#   --cfg-options load_from=work_dirs/fer2013/best_accuracy_top1_epoch_N.pth
_base_ = [
    '../_base_/models/vit_se_vit-b16_pretrained.py',
    '../_base_/datasets/sfew_112.py',
    '../_base_/datasets/vit_se_aug_224.py',
    '../_base_/schedules/vit_se_adamw-cosine_50e.py',
    '../_base_/default_runtime.py',
]
data_preprocessor = _base_.vit_se_data_preprocessor
# 958 training images: batch 32, half the learning rate.
train_dataloader = dict(
    batch_size=32, dataset=dict(pipeline=_base_.vit_se_train_pipeline))
val_dataloader = dict(
    batch_size=64, dataset=dict(pipeline=_base_.vit_se_test_pipeline))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=2.5e-5))
auto_scale_lr = dict(base_batch_size=32)
