# APViT reduced to train on 2 CPU cores: the same architecture (face IR-ResNet
# stages 1-3 -> 1x1 projection -> attentive patch pooling -> ViT with
# attentive token pooling in the last blocks -> linear head on CLS), made
# narrower and shallower, fed FER2013's native 48x48 faces, trained from
# scratch (no pretrained files). Results and timing: configs/apvit/README.md.
#   python tools/train.py configs/apvit/fer2013_cpu.py --cfg-options \
#       train_dataloader.dataset.data_root=../shared/data/fer2013 \
#       val_dataloader.dataset.data_root=../shared/data/fer2013
# fer2013.py's model and data, on the CPU schedule.
_base_ = [
    '../_base_/models/apvit_ir50_vit-s_pretrained.py',
    '../_base_/datasets/fer2013_112.py',
    '../_base_/schedules/cpu_adamw-warmup-cosine_10e.py',
    '../_base_/default_runtime.py',
]

input_size = 48
grid = input_size // 8  # three stride-2 stages

model = dict(
    backbone=dict(
        stage_channels=(16, 32, 64, 128),
        stage_units=(1, 2, 2, 1),
        num_stages=3,
        init_cfg=None),
    neck=dict(
        in_channels=64,
        num_patches=grid * grid,  # 36
        embed_dims=128,
        num_layers=4,
        num_heads=4,
        mlp_ratio=2.,
        # APViT keeps 160/196 = 82 % of the patches, then pools tokens at
        # rate 0.9 in the second half of the blocks.
        patch_pooling=dict(type='AttentivePatchPooling', num_keep=30),
        token_keep_rates=[1., 1., 0.9, 0.9],
        init_cfg=None),
    head=dict(in_channels=128, loss=dict(label_smooth_val=0.1,
                                         type='LabelSmoothLoss')),
)

# Light augmentation: with 10 epochs from scratch, a 0.7 M parameter model
# under-fits rather than over-fits, and heavy augmentation (erasing, colour
# jitter) only slows it down.
train_pipeline = [
    dict(type='LoadFERImage'),
    dict(type='FERRandomRotate', prob=0.5, degree=10.),
    dict(
        type='RandomResizedCrop',
        scale=input_size,
        crop_ratio_range=(0.8, 1.0),
        aspect_ratio_range=(1., 1.)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadFERImage'),
    # FER2013 faces are already 48x48; the resize guards other inputs.
    dict(type='Resize', scale=(input_size, input_size)),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=64,
    # One loader process: decoding 48x48 images is cheap, and a second one
    # would compete with the two compute threads for the 2 cores.
    num_workers=1,
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256, num_workers=2, dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=256, num_workers=2, dataset=dict(pipeline=test_pipeline))

# The CPU schedule (AdamW, warm-up, cosine; 10 epochs) with no weight decay
# on the norms, the biases, the position embeddings and the CLS token.
optim_wrapper = dict(
    paramwise_cfg=dict(
        norm_decay_mult=0.,
        bias_decay_mult=0.,
        custom_keys={
            'pos_embed': dict(decay_mult=0.),
            'cls_token': dict(decay_mult=0.)
        }))
default_hooks = dict(logger=dict(interval=100))
randomness = dict(seed=0)
