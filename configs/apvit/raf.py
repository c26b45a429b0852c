# APViT on RAF-DB: the paper's recipe (Xue et al., IEEE TAC 2022).
#   bash tools/dist_train.sh configs/apvit/raf.py 2     # 128 per GPU x 2
#   python tools/test.py configs/apvit/raf.py work_dirs/raf/epoch_40.pth
# Needs the pretrained files named in
# _base_/models/apvit_ir50_vit-s_pretrained.py.
_base_ = [
    '../_base_/models/apvit_ir50_vit-s_pretrained.py',
    '../_base_/datasets/rafdb_112.py',
    '../_base_/schedules/apvit_sgd-cosine_40e.py',
    '../_base_/default_runtime.py',
]
