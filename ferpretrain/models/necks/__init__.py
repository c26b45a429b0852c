from .pooling_vit import (PoolingViT, convert_apvit_checkpoint,
                          convert_timm_vit_keys,
                          convert_transfer_paddle_checkpoint)

__all__ = [
    'PoolingViT', 'convert_timm_vit_keys', 'convert_apvit_checkpoint',
    'convert_transfer_paddle_checkpoint'
]
