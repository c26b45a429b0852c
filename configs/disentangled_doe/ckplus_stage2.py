# Disentangled Difference of Embeddings on CK+, stage 2: stage 1's emotion
# encoder, frozen, in the Difference-of-Embeddings model (pairs of each peak
# frame and its sequence's first frame, 7 classes). The commands for both
# stages are in ckplus_stage1.py; `model.backbone_checkpoint` names stage
# 1's checkpoint (by default where tools/train.py puts it for
# configs/disentangled_doe/ckplus_stage1.py without --work-dir).
_base_ = [
    '../_base_/models/disentangled_doe_stage2.py',
    '../_base_/datasets/ckplus_pairs_224.py',
    '../_base_/schedules/doe_adam_30e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone_checkpoint='work_dirs/ckplus_stage1/epoch_30.pth',
    head=dict(num_classes=7))
