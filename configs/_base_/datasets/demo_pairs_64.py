# The synthetic demo persons as (neutral, target) pairs, 64x64: every
# person drawn with all seven expressions, so each expression image pairs
# with the same person's neutral image; 6 classes (Surprise, Fear, Disgust,
# Happiness, Sadness, Anger). Train and test persons are disjoint. Write
# the data first (about 30 s on 2 cores):
#   python tools/dataset_converters/generate_demo_pairs.py data/demo_pairs \
#       --num-train-subjects 150 --num-test-subjects 50 --takes 2 --size 64
# Disentangled DoE's stage 1 trains on `demo_faces` (single faces, all 7
# classes).
_base_ = ['./pairs_224.py']
input_size = 64
data_root = 'data/demo_pairs'
data_preprocessor = dict(_base_.pair_data_preprocessor, num_classes=6)
demo_faces = dict(
    type='FERFolder',
    data_root=data_root,
    # ferpretrain.datasets.EXPRESSIONS, the generator's classes
    classes=('Surprise', 'Fear', 'Disgust', 'Happiness', 'Sadness', 'Anger',
             'Neutral'),
    subject_pattern=r'^(p\d+)_')
demo_pairs = dict(
    type='NeutralPairDataset', neutral_class='Neutral', pair_by='subject')
# pairs_224.py's pipelines at 64 (the faces are drawn upright and aligned:
# no rotation; colour faces, so the jitter includes saturation).
demo_train_pipeline = [
    dict(type='LoadFERImage'),
    dict(type='Resize', scale=(input_size, input_size)),
    dict(
        type='RandomResizedCrop',
        scale=input_size,
        crop_ratio_range=(0.8, 1.0),
        aspect_ratio_range=(1., 1.)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='ColorJitter',
                brightness=0.4,
                contrast=0.4,
                saturation=0.4)
        ],
        prob=0.8),
    dict(type='PackInputs'),
]
demo_test_pipeline = [
    dict(type='LoadFERImage'),
    dict(type='Resize', scale=(input_size, input_size)),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    # One loader process: decoding 64x64 JPEGs is cheap, and a second one
    # would compete with the two compute threads for the 2 cores.
    num_workers=1,
    dataset=dict(
        **demo_pairs,
        dataset=dict(**demo_faces, split='train'),
        pipeline=demo_train_pipeline))
val_dataloader = dict(
    num_workers=1,
    dataset=dict(
        **demo_pairs,
        dataset=dict(**demo_faces, split='test', test_mode=True),
        pipeline=demo_test_pipeline))
test_dataloader = val_dataloader
