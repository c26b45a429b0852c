# APViT with the paper's pretrained initialisation: face.evoLVe's IR-50
# trained on MS-Celeb-1M and the old timm ViT-Small trained on ImageNet.
# ferpretrain cannot download them: put the files under weights/ (or point
# elsewhere with --cfg-options), or train from scratch with
#   --cfg-options model.backbone.init_cfg=None model.neck.init_cfg=None
# (much lower accuracy).
_base_ = ['./apvit_ir50_vit-s.py']
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
