# APViT on AffectNet, 7 classes (the paper reports 66.91), with the paper's
# RAF-DB recipe and a class-balanced sampler; faces cropped by AffectNet's
# boxes. Tested on the validation set (500 images a class).
#   bash tools/dist_train.sh configs/apvit/affectnet7.py 2
_base_ = [
    '../_base_/models/apvit_ir50_vit-s_pretrained.py',
    '../_base_/datasets/affectnet7_112.py',
    '../_base_/schedules/apvit_sgd-cosine_40e.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=7))
