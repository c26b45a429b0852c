# FER-VT with its CNN initialised from ImageNet: an mmpretrain ResNet-34
# checkpoint (resnet34_8xb32_in1k_20210831-f257d4e6.pth) or torchvision's
# resnet34-b627a593.pth both load (same parameter names; torchvision's fc.*
# is reported unused). Grid-wise attention starts as the identity, the
# tokenizers and the transformer from scratch. ferpretrain cannot download
# the file: place it at this path or override the key.
_base_ = ['./fervt_resnet34.py']
model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/resnet34_8xb32_in1k_20210831-f257d4e6.pth',
            prefix='backbone.')))
