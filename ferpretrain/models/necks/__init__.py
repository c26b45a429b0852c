from .pooling_vit import PoolingViT, convert_timm_vit_keys

__all__ = ['PoolingViT', 'convert_timm_vit_keys']
