from .face_backbone import FaceBackbone
from .iresnet import BottleneckIR, IResNet, convert_iresnet_keys
from .mobilefacenet import (MOBILEFACENET_OUT_NAMES, ConvBNPReLU,
                            DepthwiseBottleneck, LandmarkHead, MobileFaceNet,
                            convert_mobilefacenet_keys)

__all__ = [
    'FaceBackbone', 'BottleneckIR', 'IResNet', 'convert_iresnet_keys',
    'MOBILEFACENET_OUT_NAMES', 'ConvBNPReLU', 'DepthwiseBottleneck',
    'LandmarkHead', 'MobileFaceNet', 'convert_mobilefacenet_keys'
]
