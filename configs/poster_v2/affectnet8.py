# POSTER V2 on AffectNet, 8 classes (63.77 in the paper); otherwise as
# affectnet7.py.
_base_ = ['./affectnet7.py']
num_classes = 8
model = dict(head=dict(num_classes=num_classes))
data_preprocessor = dict(num_classes=num_classes)
train_dataloader = dict(dataset=dict(num_classes=num_classes))
val_dataloader = dict(dataset=dict(num_classes=num_classes))
test_dataloader = val_dataloader
