"""The squeeze-and-excitation gate POSTER and POSTER V2 put before the head.

POSTER (Zheng et al., arXiv 2204.04083) and POSTER V2 / POSTER++ (Mao et
al., arXiv 2301.12149) recalibrate the final CLS feature with what their
code calls ``SE_block``: ``x * sigmoid(W2 relu(W1 x + b1) + b2)``, where
``W1`` and ``W2`` are both ``dim x dim`` (no reduction), so a 768-d block
holds ``2 * (768 * 768 + 768) = 1,181,184`` parameters. It acts on a
token vector, not on a feature map: there is no spatial squeeze, unlike the
convolutional SE of Hu et al. (mmpretrain's ``SELayer``). ViT-SE (Aouayeb
et al., arXiv 2107.03107) puts the same gate, with reduction 4, on a ViT's
class token (``classifiers/vit_se.py``).
"""
from typing import Optional

import torch
import torch.nn as nn

from ferpretrain.registry import MODELS


@MODELS.register_module()
class SEBlock(nn.Module):
    """Channel gate on a feature vector (POSTER's ``SE_block``).

    Args:
        channels (int): Feature width ``C``.
        hidden_channels (int, optional): Width of the bottleneck. Defaults
            to ``channels``: POSTER / POSTER V2 use no reduction, and the
            parameter count of their 43.72 M figure depends on it.
        gate (str): ``'sigmoid'`` (SE's gate, default) or ``'relu'``: the
            public ViT-SE re-implementation ends with a ReLU, which is not
            a gate (unbounded, zero for negative logits); kept only to
            reproduce it.

    Shapes:
        input (..., C) -> output (..., C), the input times a gate in (0, 1).
    """

    GATES = {'sigmoid': nn.Sigmoid, 'relu': nn.ReLU}

    def __init__(self,
                 channels: int,
                 hidden_channels: Optional[int] = None,
                 gate: str = 'sigmoid'):
        super().__init__()
        if gate not in self.GATES:
            raise ValueError(f'{type(self).__name__}: gate {gate!r} is not '
                             f'one of {sorted(self.GATES)}.')
        hidden_channels = hidden_channels or channels
        # Child names follow the official ``SE_block`` (``linear1``,
        # ``linear2``) so its weights load without a key map.
        self.linear1 = nn.Linear(channels, hidden_channels)
        self.relu = nn.ReLU()
        self.linear2 = nn.Linear(hidden_channels, channels)
        self.gate = self.GATES[gate]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.gate(self.linear2(self.relu(self.linear1(x))))
        return x * gate
