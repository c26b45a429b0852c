# POSTER (large) on AffectNet-8 (contempt included): 63.34 in the paper.
# The AffectNet-7 recipe and network (no token mixing) with an 8-way head.
#   python tools/train.py configs/poster/affectnet8.py
_base_ = ['./affectnet7.py']
num_classes = 8
model = dict(head=dict(num_classes=num_classes))
data_preprocessor = dict(num_classes=num_classes)
train_dataloader = dict(dataset=dict(num_classes=num_classes))
val_dataloader = dict(dataset=dict(num_classes=num_classes))
test_dataloader = val_dataloader
