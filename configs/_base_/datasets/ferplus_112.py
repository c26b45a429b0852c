# FERPlus (FER2013 images relabelled by 10 annotators), 8 classes, 48x48
# grayscale upsampled to 112x112. Reads the folders the official FERPlus
# generator writes (FER2013Train/, FER2013Valid/, FER2013Test/, each with
# label.csv). Training uses the majority label (the FERPlus paper's
# "majority voting" mode; label_mode='crossentropy' trains on the vote
# distribution with `CrossEntropyLoss(use_soft=True)`); evaluation is always
# majority: 25,045 / 3,191 / 3,137 images after the official rule.
_base_ = ['./fer_112.py']
dataset_type = 'FERPlus'
data_root = 'data/FERPlus'

data_preprocessor = dict(num_classes=8)
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        label_mode='majority',
        pipeline=_base_.gray_train_pipeline))
# FER2013Valid selects, FER2013Test is reported.
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='val'))
test_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
