# POSTER with the paper's pretrained files: the IR-50 (MS-Celeb-1M; POSTER
# loads it as `ir50.pth`, the flat face.evoLVe layout; the re-keyed
# body1/2/3 layout works too) and the 68-landmark MobileFaceNet
# (`mobilefacenet_model_best.pth.tar`, frozen). ferpretrain cannot download
# them: put them under weights/ or override the paths; both key layouts are
# remapped on load.
_base_ = ['./poster_ir50_mfn.py']
model = dict(
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint='weights/ir50.pth')),
    landmark_backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='weights/mobilefacenet_model_best.pth.tar')))
