# JAFFE, 213 images of 10 subjects, subject-independent: 10 folds of one
# subject each (= leave-one-subject-out, fold=0..9). JAFFE images are whole
# 256x256 frames: align them first with
#   python tools/dataset_converters/prepare_faces.py --layout jaffe \
#       data/jaffe data/jaffe_aligned
_base_ = ['./fer_112.py']
dataset_type = 'JAFFE'
data_root = 'data/jaffe_aligned'
jaffe = dict(
    type=dataset_type,
    data_root=data_root,
    protocol='kfold',
    num_folds=10,
    fold=0)

train_dataloader = dict(
    dataset=dict(**jaffe, pipeline=_base_.gray_train_pipeline))
val_dataloader = dict(dataset=jaffe)
test_dataloader = val_dataloader
