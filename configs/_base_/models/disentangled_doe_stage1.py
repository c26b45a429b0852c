# Disentangled Difference of Embeddings, stage 1 (seed system;
# configs/disentangled_doe/README.md): a trainable emotion encoder
# (MobileNetV3-Large, ImageNet, 960-d) beside a frozen identity encoder (the
# VGGFace2 ResNet-50: MS1M pre-training, VGGFace2 fine-tuning, 2048-d)
# classifies single faces from concat(identity, emotion) = 3008-d with the
# DoE head's MLP shape (3008-256-128-64-32-classes, ReLU). Stage 2
# (disentangled_doe_stage2.py) puts the trained emotion encoder, frozen, in
# the DoE model.
# The identity encoder's file is the published resnet50_ft_weight.pkl,
# converted once:
#   python tools/model_converters/vggface2_to_ferpretrain.py \
#       resnet50_ft_weight.pkl checkpoints/vggface2_resnet50_ft.pth
_base_ = ['./doe_mobilenetv3-large.py']
model = dict(
    _delete_=True,
    type='EmotionIdentityClassifier',
    backbone=_base_.mobilenetv3_large,
    identity_encoder=dict(
        type='VGGFace2ResNet',
        frozen=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/vggface2_resnet50_ft.pth')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='StackedLinearClsHead',
        num_classes=8,
        in_channels=2048 + 960,
        mid_channels=[256, 128, 64, 32],
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, ),
        init_cfg=_base_.model.head.init_cfg),
)
