from .face_backbone import FaceBackbone
from .iresnet import BottleneckIR, IResNet, convert_iresnet_keys
from .mobilefacenet import (MOBILEFACENET_OUT_NAMES, ConvBNPReLU,
                            DepthwiseBottleneck, LandmarkHead, MobileFaceNet,
                            convert_mobilefacenet_keys)
from .vggface2_resnet import VGGFace2ResNet, convert_vggface2_keys

__all__ = [
    'FaceBackbone', 'BottleneckIR', 'IResNet', 'convert_iresnet_keys',
    'MOBILEFACENET_OUT_NAMES', 'ConvBNPReLU', 'DepthwiseBottleneck',
    'LandmarkHead', 'MobileFaceNet', 'convert_mobilefacenet_keys',
    'VGGFace2ResNet', 'convert_vggface2_keys'
]
