# ViT-SE (Aouayeb et al., arXiv 2107.03107) at full size: ViT-B/16 at 224
# (mmpretrain's VisionTransformer, arch 'b': 12 layers, 768 dims, 12 heads)
# -> final-norm CLS token -> SE block (768 -> 192 -> 768, sigmoid gate) ->
# linear head. See ferpretrain/models/classifiers/vit_se.py.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='LayoutAwareViT',
        arch='b',
        img_size=224,
        patch_size=16,
        out_type='cls_token',
        final_norm=True,
        drop_path_rate=0.1),
    neck=dict(type='SENeck', channels=768, ratio=4, gate='sigmoid'),
    head=dict(
        type='LinearClsHead',
        num_classes=7,
        in_channels=768,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
)
