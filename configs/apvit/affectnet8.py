# APViT on AffectNet, 8 classes (Contempt kept); otherwise as affectnet7.py.
_base_ = [
    '../_base_/models/apvit_ir50_vit-s_pretrained.py',
    '../_base_/datasets/affectnet8_112.py',
    '../_base_/schedules/apvit_sgd-cosine_40e.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=8))
