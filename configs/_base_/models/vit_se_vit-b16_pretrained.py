# ViT-SE with the ViT-B/16 pre-trained on ImageNet-21k, as the paper. Either
# file loads (LayoutAwareViT converts the names):
#   - Hugging Face google/vit-base-patch16-224-in21k: pytorch_model.bin or
#     model.safetensors (the checkpoint the public re-implementation used);
#   - timm vit_base_patch16_224.augreg_in21k (model.safetensors or .pth).
# Their pre-training classifier and pre-logits (pooler) layer are reported
# unused. ferpretrain cannot download the file: place it at this path or
# override the key.
_base_ = ['./vit_se_vit-b16.py']
model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/vit-base-patch16-224-in21k/'
            'pytorch_model.bin')))
