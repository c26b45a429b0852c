# APViT on RAF-DB: the paper's recipe (Xue et al., IEEE TAC 2022).
#   bash tools/dist_train.sh configs/apvit/raf.py 2     # 128 per GPU x 2
#   python tools/test.py configs/apvit/raf.py work_dirs/raf/epoch_40.pth
_base_ = [
    '../_base_/models/apvit_ir50_vit-s.py',
    '../_base_/datasets/rafdb_112.py',
    '../_base_/schedules/apvit_sgd-cosine_40e.py',
    '../_base_/default_runtime.py',
]

# Pretrained initialisation, as in the paper: face.evoLVe's IR-50 trained on
# MS-Celeb-1M and the old timm ViT-Small trained on ImageNet. They cannot be
# downloaded by ferpretrain: put the files there (or point elsewhere with
# --cfg-options), or train from scratch with
#   --cfg-options model.backbone.init_cfg=None model.neck.init_cfg=None
# (much lower accuracy).
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
