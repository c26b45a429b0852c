"""Difference of Embeddings (DoE) and Disentangled Difference of Embeddings.

Two seed systems (no paper with code; ``../shared/docs/models.md``) that
read an expression as the change from the same person's neutral face:

- **DoE** (:class:`DifferenceOfEmbeddings`): one encoder (MobileNetV3-Large,
  ImageNet) embeds the neutral face and the target face of one subject; a
  head classifies ``concat(target - neutral, target)``
  (:class:`~ferpretrain.models.utils.EmbeddingDifference`)::

      inputs (B, 2, 3, H, W)  index 0 neutral, index 1 target
        -> flatten (2B, 3, H, W) -> backbone -> (2B, 960, H/32, W/32)
        -> GlobalAveragePooling (2B, 960) -> (B, 2, 960)
        -> EmbeddingDifference (B, 1920)
        -> MLP 1920-256-128-64-32-classes, ReLU (StackedLinearClsHead)

- **Disentangled DoE**, two training stages:

  1. :class:`EmotionIdentityClassifier`: a trainable emotion encoder
     (MobileNetV3-Large, the ``backbone``) beside a frozen identity encoder
     (the VGGFace2 ResNet-50, :class:`~ferpretrain.models.backbones.
     VGGFace2ResNet`) classifies single faces from ``concat(identity,
     emotion)`` (2048 + 960 = 3008 -> the same MLP shape). The identity
     embedding already tells who the person is, so the emotion embedding is
     free not to: there is no explicit disentanglement loss.
  2. :class:`DifferenceOfEmbeddings` with ``freeze_backbone=True`` and
     ``backbone_checkpoint`` = stage 1's checkpoint: the emotion encoder,
     frozen, in the DoE head.

Choices the seed left open, and what is done here:

- *Which MobileNetV3 output.* The 960-channel last convolution (before the
  1280-wide classifier layer), global-average-pooled: the seed's 960-d
  features. mmpretrain's ``MobileNetV3(arch='large', out_indices=(16, ))``.
- *DoE's encoder: frozen or fine-tuned.* The seed's re-implementation
  freezes the ImageNet encoder; ``configs/doe`` follow it
  (``freeze_backbone=True``); set it False to fine-tune.
- *Head.* The seed's MLP without dropout or normalisation; mmpretrain's
  ``StackedLinearClsHead`` builds exactly that (``mid_channels=[256, 128,
  64, 32]``, ReLU after each hidden layer).
- *Stage 1's data.* Every face of the training subjects, neutral included
  (the encoder must also embed neutral faces well, since stage 2 embeds
  them); the paired classes are the expressions without neutral.
- *Frozen means eval.* A frozen encoder's BatchNorm statistics never move:
  it stays in eval mode whatever ``train()`` is called with.
"""
import os.path as osp
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
from mmpretrain.models.classifiers import ImageClassifier

from ferpretrain.registry import MODELS
from ferpretrain.utils.errors import CheckpointMismatchError, ConfigError
from ..utils.scope import builds_in_mmpretrain_scope

__all__ = ['DifferenceOfEmbeddings', 'EmotionIdentityClassifier']


def _freeze(module: nn.Module) -> None:
    """No gradients and eval mode (``nn.Module.train`` directly, so that a
    backbone's own ``train`` cannot turn BatchNorm back on)."""
    for param in module.parameters():
        param.requires_grad = False
    nn.Module.train(module, False)
    for child in module.modules():
        nn.Module.train(child, False)


def _check_stage(model: nn.Module, stage: str) -> None:
    if stage not in ('backbone', 'neck', 'pre_logits'):
        raise ValueError(
            f'{type(model).__name__}: invalid stage {stage!r}, expected '
            "'backbone', 'neck' or 'pre_logits'.")


@MODELS.register_module()
@builds_in_mmpretrain_scope
class DifferenceOfEmbeddings(ImageClassifier):
    """Classify a face from how its embedding differs from the same
    person's neutral face (see the module docstring).

    ``model(inputs, mode='tensor')`` takes ``(B, 2, C, H, W)``: index 0 the
    neutral face, index 1 the target. Data come from
    :class:`~ferpretrain.datasets.NeutralPairDataset`, batched by
    :class:`~ferpretrain.models.utils.PairDataPreprocessor` (the default
    here), which normalises both faces alike.

    Without a neutral face of the person, pass the target twice (the
    dataset's ``reference='self'``): the difference is then zero and the
    head sees only the target; ``configs/doe/README.md`` gives the accuracy
    this costs.

    Args:
        backbone (dict): The encoder, e.g. ``dict(type='MobileNetV3',
            arch='large', out_indices=(16, ))``.
        head (dict): The classifier, on ``combine``'s output width.
        neck (dict): Turns the encoder's last map into one embedding a face.
            Defaults to ``GlobalAveragePooling``.
        combine (dict): How the pair's embeddings become one feature.
            Defaults to ``EmbeddingDifference`` (``concat(target - neutral,
            target)``).
        freeze_backbone (bool): Keep the encoder fixed (no gradients, eval
            mode, BatchNorm statistics unchanged). Defaults to False.
        backbone_checkpoint (str, optional): A checkpoint whose
            ``backbone_checkpoint_prefix`` weights are loaded, strictly, into
            the encoder when the model is initialised (training starts):
            Disentangled DoE's stage 2 names stage 1's checkpoint here.
            Not read when testing a trained model (its own checkpoint holds
            the encoder). Defaults to None.
        backbone_checkpoint_prefix (str): The encoder's key prefix in that
            file. Defaults to ``'backbone.'`` (stage 1's emotion encoder).
        train_cfg, data_preprocessor, init_cfg: as ``ImageClassifier``
            (the data preprocessor defaults to ``PairDataPreprocessor``).
    """

    #: Faces a sample (the complexity counter feeds ``(1, 2, C, H, W)``).
    faces_per_input = 2

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 neck: Optional[dict] = dict(type='GlobalAveragePooling'),
                 combine: dict = dict(type='EmbeddingDifference'),
                 freeze_backbone: bool = False,
                 backbone_checkpoint: Optional[str] = None,
                 backbone_checkpoint_prefix: str = 'backbone.',
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'PairDataPreprocessor')
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            train_cfg=train_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if not isinstance(combine, nn.Module):
            combine = MODELS.build(combine)
        self.combine = combine
        self.freeze_backbone = freeze_backbone
        self.backbone_checkpoint = backbone_checkpoint
        self.backbone_checkpoint_prefix = backbone_checkpoint_prefix
        if freeze_backbone:
            _freeze(self.backbone)

    def init_weights(self):
        super().init_weights()
        if self.backbone_checkpoint is not None:
            load_part(self.backbone, self.backbone_checkpoint,
                      self.backbone_checkpoint_prefix,
                      'model.backbone_checkpoint')

    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze_backbone:
            _freeze(self.backbone)
        return self

    def embed(self, faces: torch.Tensor) -> torch.Tensor:
        """One embedding a face: ``(N, C, H, W)`` -> ``(N, D)``."""
        feats = self.backbone(faces)
        if self.with_neck:
            feats = self.neck(feats)
        return feats[-1] if isinstance(feats, (tuple, list)) else feats

    def extract_feat(self,
                     inputs: torch.Tensor,
                     stage: str = 'neck') -> Tuple[torch.Tensor]:
        """``(B, 2, C, H, W)`` -> ``(combine(embeddings), )``.

        ``stage='backbone'`` returns the encoder's outputs for the ``2B``
        faces (neutral and target of each pair, in that order);
        ``'pre_logits'`` the head's last hidden features.
        """
        _check_stage(self, stage)
        if inputs.dim() != 5 or inputs.shape[1] != 2:
            raise ValueError(
                f'{type(self).__name__} takes pairs of faces, shape (B, 2, '
                f'C, H, W) with the neutral face first; got '
                f'{tuple(inputs.shape)}. Build the data with '
                'NeutralPairDataset and PairDataPreprocessor (see '
                'configs/doe/README.md).')
        batch = inputs.shape[0]
        faces = inputs.flatten(0, 1)
        if stage == 'backbone':
            return self.backbone(faces)
        pair = self.embed(faces).reshape(batch, 2, -1)
        feats = (self.combine(pair), )
        if stage == 'neck':
            return feats
        return self.head.pre_logits(feats)


@MODELS.register_module()
@builds_in_mmpretrain_scope
class EmotionIdentityClassifier(ImageClassifier):
    """Disentangled DoE, stage 1: expressions from ``concat(identity,
    emotion)`` embeddings of one face (see the module docstring).

    Shapes: ``(B, 3, H, W)`` -> identity ``(B, 2048)`` (frozen VGGFace2
    ResNet-50, pooled) and emotion ``(B, 960)`` (the trainable
    ``backbone``, pooled) -> ``(B, 3008)`` -> head.

    The emotion encoder is the ``backbone`` (so stage 2 reads it under the
    ``backbone.`` prefix, and mmpretrain's tools that look at a backbone see
    it); the identity encoder is :attr:`identity_encoder`, frozen: no
    gradients, eval mode whatever ``train()`` is called with.

    Args:
        backbone (dict): The emotion encoder (MobileNetV3-Large).
        identity_encoder (dict): The identity encoder, e.g.
            ``dict(type='VGGFace2ResNet', init_cfg=dict(type='Pretrained',
            checkpoint='checkpoints/vggface2_resnet50_ft.pth'))`` (the file
            ``tools/model_converters/vggface2_to_ferpretrain.py`` writes).
        head (dict): The classifier on ``2048 + 960`` features.
        neck (dict): Pools each encoder's last map. Defaults to
            ``GlobalAveragePooling``.
        train_cfg, data_preprocessor, init_cfg: as ``ImageClassifier``.
    """

    def __init__(self,
                 backbone: dict,
                 identity_encoder: dict,
                 head: dict,
                 neck: Optional[dict] = dict(type='GlobalAveragePooling'),
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            train_cfg=train_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if not isinstance(identity_encoder, nn.Module):
            identity_encoder = MODELS.build(identity_encoder)
        self.identity_encoder = identity_encoder
        _freeze(self.identity_encoder)

    def train(self, mode: bool = True):
        super().train(mode)
        _freeze(self.identity_encoder)
        return self

    def _pool(self, feats) -> torch.Tensor:
        if self.with_neck:
            feats = self.neck(feats)
        return feats[-1] if isinstance(feats, (tuple, list)) else feats

    def extract_feat(self,
                     inputs: torch.Tensor,
                     stage: str = 'neck') -> Tuple[torch.Tensor]:
        """``(B, C, H, W)`` -> ``(concat(identity, emotion), )``;
        ``stage='backbone'`` returns the emotion encoder's outputs."""
        _check_stage(self, stage)
        if inputs.dim() != 4:
            raise ValueError(
                f'{type(self).__name__} takes single faces (B, C, H, W), got '
                f'{tuple(inputs.shape)}; stage 2 (DifferenceOfEmbeddings) '
                'takes the pairs.')
        emotion = self.backbone(inputs)
        if stage == 'backbone':
            return emotion
        with torch.no_grad():
            identity = self._pool(self.identity_encoder(inputs))
        feats = (torch.cat([identity, self._pool(emotion)], dim=1), )
        if stage == 'neck':
            return feats
        return self.head.pre_logits(feats)


def load_part(module: nn.Module, filename: str, prefix: str,
              key: str) -> None:
    """Load the ``prefix`` weights of a checkpoint into ``module``, strictly.

    Raises:
        ConfigError: The file is missing (``key`` names the config entry).
        CheckpointMismatchError: It holds no ``prefix`` weights, or they do
            not fit ``module`` exactly (missing, unexpected or other
            shapes).
    """
    from mmengine.runner.checkpoint import _load_checkpoint
    if not osp.isfile(filename):
        raise ConfigError(
            f'{key}={filename!r}: no such file. It is the checkpoint of '
            'Disentangled DoE stage 1 (train configs/disentangled_doe/'
            '*_stage1.py first, see configs/disentangled_doe/README.md), or '
            f'set {key} to its path.')
    checkpoint = _load_checkpoint(filename, map_location='cpu')
    state_dict = checkpoint.get('state_dict', checkpoint) \
        if isinstance(checkpoint, dict) else {}
    part = {
        k[len(prefix):]: v
        for k, v in state_dict.items() if k.startswith(prefix)
    }
    if not part:
        raise CheckpointMismatchError(
            f'{filename}: no weights under {prefix!r} ({key}). A stage 1 '
            'checkpoint of Disentangled DoE keeps its emotion encoder '
            "under 'backbone.'; is this another model's file?")
    own = module.state_dict()
    missing = sorted(set(own) - set(part))
    unexpected = sorted(set(part) - set(own))
    shapes: List[str] = [
        f'{k} {tuple(part[k].shape)} vs {tuple(own[k].shape)}'
        for k in sorted(set(own) & set(part))
        if tuple(part[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:
        details = '; '.join(
            f'{what} ({len(keys)}): {", ".join(keys[:4])}'
            + (' ...' if len(keys) > 4 else '')
            for what, keys in (('missing', missing),
                               ('unexpected', unexpected),
                               ('other shapes', shapes)) if keys)
        raise CheckpointMismatchError(
            f'{filename}: its {prefix!r} weights do not fit the model\'s '
            f'{type(module).__name__} ({key}): {details}. Stage 2 must use '
            "stage 1's encoder config unchanged.")
    module.load_state_dict(part, strict=True)
