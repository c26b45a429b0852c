# All 213 JAFFE images as a test set, for cross-dataset evaluation:
#   python tools/test.py configs/apvit/fer2013.py fer2013.pth \
#       --test-data configs/_base_/datasets/jaffe_all_112.py
_base_ = ['./jaffe_112.py']
test_dataloader = dict(dataset=dict(protocol=None))
