# APViT at full size on FER2013 (48x48 faces upsampled to 112x112), with the
# RAF-DB recipe of the paper. The paper reports no FER2013 result: this is
# ferpretrain's recipe, selected on PublicTest (the `val` split) and reported
# on PrivateTest (`test`).
#   bash tools/dist_train.sh configs/apvit/fer2013.py 2
_base_ = [
    '../_base_/models/apvit_ir50_vit-s_pretrained.py',
    '../_base_/datasets/fer2013_112.py',
    '../_base_/schedules/apvit_sgd-cosine_40e.py',
    '../_base_/default_runtime.py',
]
