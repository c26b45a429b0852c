# JAFFE as (neutral, target) pairs: each non-neutral image of a subject
# paired with that subject's first neutral (NE) image by file name; 6
# expression classes (Anger, Disgust, Fear, Happiness, Sadness, Surprise).
# Subject-independent: 10 folds of one subject each (leave one subject out,
# fold = 0..9). JAFFE images are whole 256x256 frames: align them first:
#   python tools/dataset_converters/prepare_faces.py --layout jaffe \
#       data/jaffe data/jaffe_aligned
# Stage 1 of Disentangled DoE trains on `jaffe_faces` (all 7 classes).
_base_ = ['./pairs_224.py']
data_preprocessor = dict(_base_.pair_data_preprocessor, num_classes=6)
data_root = 'data/jaffe_aligned'
jaffe_faces = dict(
    type='JAFFE', data_root=data_root, protocol='kfold', num_folds=10,
    fold=0)
jaffe_pairs = dict(
    type='NeutralPairDataset', neutral_class='Neutral', pair_by='subject')

train_dataloader = dict(
    dataset=dict(
        **jaffe_pairs,
        dataset=dict(**jaffe_faces, split='train'),
        pipeline=_base_.pair_train_pipeline))
val_dataloader = dict(
    dataset=dict(
        **jaffe_pairs,
        dataset=dict(**jaffe_faces, split='test', test_mode=True),
        pipeline=_base_.pair_test_pipeline))
test_dataloader = val_dataloader
