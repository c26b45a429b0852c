# AffectNet, 7-class protocol (Contempt dropped), faces cropped by the
# annotated box and resized to 112x112. Reads the official layout:
#   Manually_Annotated_file_lists/{training,validation}.csv
#   Manually_Annotated_Images/<subDirectory>/<file>.jpg
# The validation set (500 a class) is the test set, as in the papers.
_base_ = ['./fer_112.py']
dataset_type = 'AffectNet'
data_root = 'data/AffectNet'
num_classes = 7

data_preprocessor = dict(num_classes=num_classes)
# The whole picture is loaded, then cropped to the annotated face box.
train_pipeline = _base_.train_pipeline[:1] + [dict(type='CropFaceBox')] + \
    _base_.train_pipeline[1:]
test_pipeline = _base_.test_pipeline[:1] + [dict(type='CropFaceBox')] + \
    _base_.test_pipeline[1:]

train_dataloader = dict(
    # AffectNet's training set is very imbalanced (Happy 134 k images,
    # Contempt 4 k): every class is drawn equally often.
    sampler=dict(_delete_=True, type='ClassBalancedSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        num_classes=num_classes,
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        num_classes=num_classes,
        split='val',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
