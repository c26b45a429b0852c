# Disentangled Difference of Embeddings, stage 2: the DoE model whose frozen
# encoder is stage 1's emotion encoder, read strictly from stage 1's
# checkpoint (its `backbone.` weights) when training starts. A stage 2
# config names that checkpoint:
#   model = dict(backbone_checkpoint='work_dirs/<stage 1>/epoch_30.pth')
_base_ = ['./doe_mobilenetv3-large.py']
model = dict(
    backbone=dict(init_cfg=None),  # the weights come from stage 1
    freeze_backbone=True,
    backbone_checkpoint='work_dirs/disentangled_doe_stage1/epoch_30.pth',
    backbone_checkpoint_prefix='backbone.',
)
