# CAER-S (static frames of CAER), 7 classes, train/ and test/ class folders.
# No validation split: the test split is evaluated and the last epoch is
# reported.
_base_ = ['./fer_112.py']
dataset_type = 'CAERS'
data_root = 'data/CAER-S'

train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
