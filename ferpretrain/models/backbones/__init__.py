from .iresnet import BottleneckIR, IResNet, convert_iresnet_keys

__all__ = ['BottleneckIR', 'IResNet', 'convert_iresnet_keys']
