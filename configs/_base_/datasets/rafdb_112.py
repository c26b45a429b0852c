# RAF-DB (basic), 112x112 faces, APViT's augmentation and class-balanced
# resampling. Reads the official layout:
#   basic/EmoLabel/list_patition_label.txt, basic/Image/aligned/*.jpg
_base_ = ['./fer_112.py']
dataset_type = 'RAFDB'
data_root = 'data/RAF-DB/basic'

train_dataloader = dict(
    dataset=dict(
        # Class-balanced resampling: classes rarer than 15 % are repeated
        # ceil(sqrt(0.15 / f)) times (Fear x3; Surprise, Disgust, Anger x2).
        _delete_=True,
        type='ClassBalancedDataset',
        oversample_thr=0.15,
        dataset=dict(
            type=dataset_type,
            data_root=data_root,
            split='train',
            pipeline=_base_.train_pipeline)))

# RAF-DB has no validation split: the test split is evaluated each epoch and
# the last epoch is reported (never the best epoch on the test set).
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
