# AffectNet, 8-class protocol (Contempt kept); see affectnet7_112.py.
_base_ = ['./affectnet7_112.py']
num_classes = 8

data_preprocessor = dict(num_classes=num_classes)
train_dataloader = dict(dataset=dict(num_classes=num_classes))
val_dataloader = dict(dataset=dict(num_classes=num_classes))
test_dataloader = val_dataloader
