# APViT on CK+ (7 expressions, last 3 frames), subject-independent 10-fold
# cross-validation with the paper's RAF-DB recipe. One run a fold:
#   for f in 0 1 2 3 4 5 6 7 8 9; do
#     python tools/train.py configs/apvit/ckplus.py \
#       --work-dir work_dirs/ckplus/fold$f --cfg-options \
#       train_dataloader.dataset.fold=$f val_dataloader.dataset.fold=$f \
#       test_dataloader.dataset.fold=$f
#   done
# and report the mean of the folds' last-epoch accuracies. Align the frames
# first (see _base_/datasets/ckplus_112.py).
_base_ = [
    '../_base_/models/apvit_ir50_vit-s_pretrained.py',
    '../_base_/datasets/ckplus_112.py',
    '../_base_/schedules/apvit_sgd-cosine_40e.py',
    '../_base_/default_runtime.py',
]
