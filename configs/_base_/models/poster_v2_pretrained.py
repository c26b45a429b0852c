# POSTER V2 with the paper's pretrained files: the IR-50 (MS-Celeb-1M,
# face.evoLVe weights re-keyed as `ir50.pth`) and the 68-landmark
# MobileFaceNet (`mobilefacenet_model_best.pth.tar`, frozen). ferpretrain
# cannot download them: put them under weights/ or override the paths; both
# key layouts are remapped on load
# (tools/model_converters/mobilefacenet_to_ferpretrain.py also converts the
# MobileFaceNet file offline).
_base_ = ['./poster_v2.py']
model = dict(
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint='weights/ir50.pth')),
    landmark_backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='weights/mobilefacenet_model_best.pth.tar')))
