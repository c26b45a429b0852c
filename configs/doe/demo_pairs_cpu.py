# Difference of Embeddings on the synthetic demo pairs, on 2 CPU cores: the
# full MobileNetV3-Large and the seed's MLP, at 64x64, trained from scratch
# (no ImageNet file can be downloaded here, so the encoder trains instead of
# staying frozen). Result, timing and the cost of having no neutral face:
# configs/doe/README.md.
#   python tools/dataset_converters/generate_demo_pairs.py data/demo_pairs \
#       --num-train-subjects 150 --num-test-subjects 50 --takes 2 --size 64
#   python tools/train.py configs/doe/demo_pairs_cpu.py
#   # the same model, each target against itself (no neutral face):
#   python tools/test.py configs/doe/demo_pairs_cpu.py \
#       work_dirs/demo_pairs_cpu/epoch_15.pth \
#       --cfg-options test_dataloader.dataset.reference=self
_base_ = [
    '../_base_/models/doe_mobilenetv3-large.py',
    '../_base_/datasets/demo_pairs_64.py',
    '../_base_/schedules/doe_adam_30e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(init_cfg=None), freeze_backbone=False,
    head=dict(num_classes=6))
# The seed's Adam at 1e-3 and batch 32, for 15 epochs: about 5 minutes on 2
# cores. The loss is still falling at epoch 15 (1.11); more epochs give more.
max_epochs = 15
train_cfg = dict(max_epochs=max_epochs)
