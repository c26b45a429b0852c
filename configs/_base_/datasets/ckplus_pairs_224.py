# CK+ as (neutral, target) pairs: each of the 981 peak frames (the last 3
# frames of the 327 labelled sequences) paired with the first frame of its
# own sequence, the subject's neutral face; 7 expression classes (anger,
# contempt, disgust, fear, happy, sadness, surprise). Subject-independent
# 10-fold cross-validation (fold = test split, 0..9). CK+48 has no neutral
# frames: it cannot give pairs (only `reference='self'`, the target against
# itself); use the official download, aligned first:
#   python tools/dataset_converters/prepare_faces.py --layout ckplus \
#       data/CK+ data/CK+_aligned
# Stage 1 of Disentangled DoE trains on `ckplus_faces` (single faces, the
# neutral frames included: 8 classes).
_base_ = ['./pairs_224.py']
data_preprocessor = dict(_base_.pair_data_preprocessor, num_classes=7)
data_root = 'data/CK+_aligned'
ckplus_faces = dict(
    type='CKPlus', data_root=data_root, num_folds=10, fold=0,
    with_neutral=True)
ckplus_pairs = dict(
    type='NeutralPairDataset', neutral_class='neutral', pair_by='sequence')

train_dataloader = dict(
    dataset=dict(
        **ckplus_pairs,
        dataset=dict(**ckplus_faces, split='train'),
        pipeline=_base_.pair_train_pipeline))
val_dataloader = dict(
    dataset=dict(
        **ckplus_pairs,
        dataset=dict(**ckplus_faces, split='test', test_mode=True),
        pipeline=_base_.pair_test_pipeline))
test_dataloader = val_dataloader
