# Disentangled Difference of Embeddings on JAFFE, stage 2: stage 1's emotion
# encoder, frozen, in the Difference-of-Embeddings model (each expression
# image against its subject's neutral image, 6 classes). Commands:
# jaffe_stage1.py.
_base_ = [
    '../_base_/models/disentangled_doe_stage2.py',
    '../_base_/datasets/jaffe_pairs_224.py',
    '../_base_/schedules/doe_adam_30e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone_checkpoint='work_dirs/jaffe_stage1/epoch_30.pth',
    head=dict(num_classes=6))
train_dataloader = dict(batch_size=16)
