# FER2013 (48x48 grayscale), upsampled to 112x112 for the face IR-50, with
# APViT's augmentation minus the grayscale/colour steps that do nothing on
# grayscale images. Reads `fer2013.csv` or the train/ + test/ class folders.
# PublicTest (`val`) selects, PrivateTest (`test`) is reported.
_base_ = ['./fer_112.py']
dataset_type = 'FER2013'
data_root = 'data/fer2013'

train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        pipeline=_base_.gray_train_pipeline))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='val'))
test_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
