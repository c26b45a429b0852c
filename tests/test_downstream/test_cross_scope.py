"""The README's cross-scope lines ("Use in other OpenMMLab projects"), as
another project's config would use them: read from the README, built from
the ``mmengine`` default scope through mmengine's root registry (where a
downstream project's ``MODELS.build`` ends up for a ``mmpretrain.`` name),
run on a face, and equal to the same parts built in mmpretrain's scope.
Needs no downstream install."""
import torch
from mmengine.config import Config
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import DefaultScope

from ferpretrain.models import IResNet, PoolingViT
from ferpretrain.registry import MODELS


def _bare(part: dict) -> dict:
    """``mmpretrain.X`` -> ``X``: the name as mmpretrain's configs give
    it."""
    return dict(part, type=part['type'].split('.', 1)[1])


def test_readme_backbone_and_neck_build_from_another_scope(readme_config):
    cfg = Config.fromfile(readme_config("type='mmpretrain.PoolingViT'"))
    assert cfg.backbone.type == 'mmpretrain.IResNet'
    with DefaultScope.overwrite_default_scope('mmengine'):
        backbone = ROOT_MODELS.build(cfg.backbone)
        neck = ROOT_MODELS.build(cfg.neck)
        assert DefaultScope.get_current_instance().scope_name == 'mmengine'
    assert type(backbone) is IResNet and type(neck) is PoolingViT
    assert neck.patch_pooling.num_keep == 160

    # The same parts built in mmpretrain's scope, with the same weights,
    # give the same output: the prefix changes where names resolve, not
    # what is built.
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        ref_backbone = MODELS.build(_bare(cfg.backbone))
        ref_neck = MODELS.build(_bare(cfg.neck))
    ref_backbone.load_state_dict(backbone.state_dict(), strict=True)
    ref_neck.load_state_dict(neck.state_dict(), strict=True)

    torch.manual_seed(0)
    face = torch.randn(2, 3, 112, 112)
    modules = (backbone, neck, ref_backbone, ref_neck)
    for m in modules:
        m.eval()
    with torch.no_grad():
        feats = backbone(face)
        assert feats[-1].shape == (2, 256, 14, 14)
        (cls_token, ) = neck(feats)
        (ref_token, ) = ref_neck(ref_backbone(face))
    assert cls_token.shape == (2, 768)
    assert torch.isfinite(cls_token).all()
    torch.testing.assert_close(cls_token, ref_token)
