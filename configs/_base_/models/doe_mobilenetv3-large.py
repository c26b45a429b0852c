# Difference of Embeddings (seed system; configs/doe/README.md): an
# ImageNet MobileNetV3-Large embeds the neutral face and the target face of
# one subject (960-d each, global average pooled), and an MLP classifies
# concat(target - neutral, target) = 1920-d: 1920-256-128-64-32-classes with
# ReLU, no dropout, as the seed's re-implementation. The encoder is frozen
# (the seed's choice: `freeze_backbone=False` fine-tunes it).
# mmpretrain's MobileNetV3-Large ImageNet checkpoint (either of its model
# zoo's two files, or any file with mmpretrain's `backbone.` keys); ferpretrain
# cannot download it: place it at this path or override the key.
mobilenetv3_large = dict(
    type='MobileNetV3',
    arch='large',
    out_indices=(16, ),  # the 960-channel last convolution
    init_cfg=dict(
        type='Pretrained',
        checkpoint='checkpoints/mobilenet-v3-large_8xb128_in1k_20221114-'
        '0ed9ed9a.pth',
        prefix='backbone.'))
model = dict(
    type='DifferenceOfEmbeddings',
    backbone=mobilenetv3_large,
    neck=dict(type='GlobalAveragePooling'),
    combine=dict(type='EmbeddingDifference', parts=('difference', 'target')),
    head=dict(
        type='StackedLinearClsHead',
        num_classes=7,
        in_channels=2 * 960,
        mid_channels=[256, 128, 64, 32],
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, ),
        # Not the head's N(0, 0.01) default: through five layers it leaves
        # logits about 40x less spread over inputs (tests/test_models/
        # test_doe.py). Glorot-uniform, zero bias: the usual dense-layer
        # initialisation (Keras' default).
        init_cfg=dict(
            type='Xavier', layer='Linear', distribution='uniform', bias=0.)),
    freeze_backbone=True,
)
