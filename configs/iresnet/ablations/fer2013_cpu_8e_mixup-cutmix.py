# Ablation: the recipe plus batch mixing, each batch either Mixup
# (alpha 0.2) or CutMix (alpha 1.0), chosen at random as in mmpretrain's
# DeiT recipes (there with alphas 0.8 and 1.0: 0.2 here, as a 1.6 M-parameter
# CNN on 28,709 faces underfits before it overfits). The mixed targets are
# soft; LabelSmoothLoss smooths them further.
_base_ = ['./fer2013_cpu_8e.py']

model = dict(
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.2),
        dict(type='CutMix', alpha=1.0),
    ]))
