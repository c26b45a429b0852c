# TransFER with the paper's pretrained initialisation: face.evoLVe's IR-50
# (MS-Celeb-1M) for the stem and the old timm ViT-Small (ImageNet) for
# ViT-FER; the LANets, the projection and the head start from scratch.
# ferpretrain cannot download them: put the files under weights/ (or point
# elsewhere with --cfg-options).
_base_ = ['./transfer_ir50_vit-s.py']
model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='weights/backbone_ir50_ms1m_epoch120.pth')),
    neck=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='weights/vit_small_p16_224-15ec54c9.pth')),
)
