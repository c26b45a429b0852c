# Disentangled Difference of Embeddings, stage 2, on the synthetic demo
# pairs: stage 1's emotion encoder (demo_pairs_stage1_cpu.py), frozen, in the
# Difference-of-Embeddings model; only the MLP trains. Commands and results:
# demo_pairs_stage1_cpu.py, configs/disentangled_doe/README.md.
_base_ = [
    '../_base_/models/disentangled_doe_stage2.py',
    '../_base_/datasets/demo_pairs_64.py',
    '../_base_/schedules/doe_adam_30e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone_checkpoint='work_dirs/demo_pairs_stage1_cpu/epoch_15.pth',
    head=dict(num_classes=6))
max_epochs = 15
train_cfg = dict(max_epochs=max_epochs)
