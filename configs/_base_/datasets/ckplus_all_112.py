# All 981 CK+ images as a test set, for cross-dataset evaluation:
#   python tools/test.py configs/apvit/raf.py raf.pth \
#       --test-data configs/_base_/datasets/ckplus_all_112.py
# (a RAF-DB model cannot predict contempt: those images are left out and
# reported; RAF-DB's Neutral is left out of the arg-max).
_base_ = ['./ckplus_112.py']
test_dataloader = dict(dataset=dict(num_folds=None))
