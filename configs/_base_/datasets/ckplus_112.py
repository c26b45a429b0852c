# CK+, 7 expressions (the 981 images of the last 3 frames of the 327
# labelled sequences), subject-independent 10-fold cross-validation.
# CK+ frames are 640x490 pictures, not face crops: align them first with
#   python tools/dataset_converters/prepare_faces.py --layout ckplus \
#       data/CK+ data/CK+_aligned
# (the official layout: cohn-kanade-images/S005/001/*.png + Emotion/...).
# One training run a fold: set `fold` (0..9) on each loader's dataset, see
# configs/apvit/ckplus.py. The CK+48 copy reads too (the layout is detected).
_base_ = ['./fer_112.py']
dataset_type = 'CKPlus'
data_root = 'data/CK+_aligned'
# Subject-independent folds: fold `fold` of `num_folds` is the test split.
ckplus = dict(
    type=dataset_type, data_root=data_root, num_folds=10, fold=0)

train_dataloader = dict(
    dataset=dict(**ckplus, pipeline=_base_.gray_train_pipeline))
# The held-out fold is evaluated each epoch and the last epoch is reported.
val_dataloader = dict(dataset=ckplus)
test_dataloader = val_dataloader
