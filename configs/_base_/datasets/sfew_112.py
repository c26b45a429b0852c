# SFEW 2.0, 7 classes, Train/ and Val/ class folders of aligned faces. The
# Test labels were never released: Val is evaluated each epoch and the last
# epoch is reported (the EmotiW protocol every SFEW paper follows).
_base_ = ['./fer_112.py']
dataset_type = 'SFEW'
data_root = 'data/SFEW_2.0'

train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='train'))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='val'))
test_dataloader = val_dataloader
