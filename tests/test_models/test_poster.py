"""POSTER (Zheng et al., arXiv 2204.04083) at full size, and its small
modules: two-way cross-attention and the embedding-axis pyramid.

Reference sizes (docs/reference/paper-facts.md, measured on the official
code at 224): 7.89 GMAC (fvcore 7.885, thop 7.895); 71.85 M parameters in
``model.parameters()``, of which 12.85 M are the never-run IR-50 output
layer; thop's count 58.98 M. ferpretrain builds only what runs: 58.91 M.
"""
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config

from ferpretrain.analysis import get_model_complexity
from ferpretrain.models.classifiers import POSTER_ARCH_DEPTHS, PosterNeck
from ferpretrain.models.classifiers.poster import (CrossAttention,
                                                   CrossFusionBlock,
                                                   PyramidCrossFusion)
from ferpretrain.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs/_base_/models/poster_ir50_mfn.py')


@pytest.fixture(scope='module')
def poster():
    model = MODELS.build(Config.fromfile(CONFIG).model)
    model.eval()
    return model


def test_poster_macs_match_and_parameters_are_explained(poster):
    thop = get_model_complexity(poster, 224, convention='thop')
    assert abs(thop.gmac - 7.895) / 7.895 < 0.03
    fvcore = get_model_complexity(poster, 224)
    assert abs(fvcore.gmac - 7.885) / 7.885 < 0.03
    # Paper's 71.85 M = what runs + 12.85 M IR-50 output layer + the unused
    # landmark regressor (0.10 M) and cls_token (512).
    official_unused = 12.85e6 + 0.096e6 + 512
    total = sum(p.numel() for p in poster.parameters())
    assert abs(total + official_unused - 71.85e6) / 71.85e6 < 0.005
    assert abs(total / 1e6 - 58.91) < 0.01
    frozen = sum(p.numel() for p in poster.landmark_backbone.parameters())
    assert frozen == 911232
    assert all(not p.requires_grad
               for p in poster.landmark_backbone.parameters())
    assert len(poster.neck.layers) == 8


@pytest.mark.parametrize('arch', ['small', 'base'])
def test_poster_arch_depths(arch):
    neck = PosterNeck(arch=arch)
    assert len(neck.layers) == POSTER_ARCH_DEPTHS[arch]
    assert len(PosterNeck(arch=arch, depth=2).layers) == 2
    with pytest.raises(ValueError, match="arch 'huge'"):
        PosterNeck(arch='huge')


def test_poster_forward_and_frozen_landmark_branch(poster):
    poster.train()
    stats = poster.landmark_backbone.conv1.bn.running_mean.clone()
    x = torch.randn(2, 3, 224, 224)
    loss = poster.loss(x, [_sample(i) for i in range(2)])
    assert set(loss) == {'loss'}
    loss['loss'].backward()
    assert torch.equal(poster.landmark_backbone.conv1.bn.running_mean, stats)
    assert poster.landmark_backbone.conv1.bn.training is False
    assert poster.neck.image_proj.weight.grad is not None
    poster.eval()
    with torch.no_grad():
        feats = poster.extract_feat(x, stage='backbone')
        assert [tuple(f.shape) for f in feats] == [(2, 256, 14, 14),
                                                   (2, 512, 7, 7)]
        assert poster(x).shape == (2, 7)
        assert poster.extract_feat(x)[0].shape == (2, 512)


def _sample(label):
    from mmpretrain.structures import DataSample
    return DataSample().set_gt_label(label)


def explicit_attention(query, context, module):
    """Multi-head attention written out: unprojected queries."""
    b, n, c = query.shape
    h = module.num_heads
    kv = module.kv(context).reshape(b, -1, 2, h, c // h)
    k, v = kv[:, :, 0].transpose(1, 2), kv[:, :, 1].transpose(1, 2)
    q = query.reshape(b, n, h, c // h).transpose(1, 2)
    attn = (q @ k.transpose(-2, -1) * (c // h)**-0.5).softmax(-1)
    return module.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


def test_cross_attention_equals_explicit_computation():
    torch.manual_seed(0)
    attn = CrossAttention(64, num_heads=8).eval()
    query, context = torch.randn(2, 10, 64), torch.randn(2, 10, 64)
    torch.testing.assert_close(
        attn(query, context), explicit_attention(query, context, attn))
    # No query projection: one Linear for keys and values, one output.
    assert [n for n, _ in attn.named_children()
            ] == ['kv', 'proj', 'proj_drop']


def test_cross_fusion_block_matches_the_official_data_flow():
    torch.manual_seed(0)
    n, c = 5, 32
    block = CrossFusionBlock(c, n, num_heads=4).eval()
    x = torch.randn(2, 2 * n, c)
    img, lm = x[:, :n], x[:, n:]
    # Written from the official Block.forward (zczcwh/POSTER).
    a = block.image_attn_norm(x)
    img = img + explicit_attention(a[:, n:], a[:, :n], block.image_attn)
    img = img + block.image_mlp(block.image_mlp_norm(img))
    a = block.landmark_attn_norm(x)
    lm = lm + explicit_attention(a[:, :n], a[:, n:], block.landmark_attn)
    lm = lm + block.landmark_mlp(block.landmark_mlp_norm(lm))
    mixed = torch.cat([img, lm], 1)
    expected = torch.einsum('oi,bic->boc', block.token_mix.weight[..., 0],
                            mixed) + block.token_mix.bias[:, None]
    torch.testing.assert_close(block(x), expected)
    with pytest.raises(ValueError, match='2 x 5 tokens'):
        block(torch.randn(1, 9, c))


def test_pyramid_fuses_small_into_medium_before_large():
    torch.manual_seed(0)
    layer = PyramidCrossFusion((32, 16, 8), 3, num_heads=2).eval()
    xs = [torch.randn(1, 6, d) for d in (32, 16, 8)]
    out_l, out_m, out_s = layer(xs)
    b_l, b_m, b_s = (blk(x) for blk, x in zip(layer.blocks, xs))
    m = b_m + layer.upsamples[1](b_s)
    torch.testing.assert_close(out_s, b_s)
    torch.testing.assert_close(out_m, m)
    torch.testing.assert_close(out_l, b_l + layer.upsamples[0](m))


def test_poster_neck_reshapes_raw_and_checks_sizes():
    torch.manual_seed(0)
    neck = PosterNeck(depth=1, num_tokens=4, image_token_dims=32,
                      landmark_channels=16, embed_dims=32, num_heads=2).eval()
    assert isinstance(neck.landmark_proj, nn.Linear)  # 16 != 32
    image, landmark = torch.randn(2, 8, 4, 4), torch.randn(2, 16, 2, 2)
    tokens = neck.tokens(image, landmark)
    assert tokens.shape == (2, 10, 32)
    # Image token i is the i-th run of 32 values of the channel-major map.
    proj = neck.image_proj(image.reshape(2, -1)[:, 32:64])
    torch.testing.assert_close(tokens[:, 2], proj + neck.pos_embed[0, 2])
    # The CLS tokens are token means.
    img_tokens = neck.image_proj(image.reshape(2, 4, 32))
    torch.testing.assert_close(tokens[:, 0],
                               img_tokens.mean(1) + neck.pos_embed[0, 0])
    lm_tokens = neck.landmark_proj(landmark.flatten(2).transpose(1, 2))
    torch.testing.assert_close(tokens[:, 5], lm_tokens.mean(1))
    assert neck((image, ), (landmark, ))[0].shape == (2, 32)
    with pytest.raises(ValueError, match='image_token_dims = C'):
        neck((torch.randn(2, 8, 6, 6), ), (landmark, ))
    with pytest.raises(ValueError, match='num_tokens=4'):
        neck((image, ), (torch.randn(2, 16, 3, 3), ))
    with pytest.raises(ValueError, match='divisible by num_heads'):
        PosterNeck(embed_dims=48, num_heads=8)


@pytest.mark.parametrize('name', [
    'Poster', 'PosterNeck', 'CrossAttention', 'CrossFusionBlock',
    'PyramidCrossFusion', 'LandmarkImageClassifier'
])
def test_poster_components_are_registered(name):
    assert MODELS.get(name) is not None


def test_poster_pipelines_run(tmp_path):
    import cv2
    import numpy as np
    from mmengine.dataset import Compose

    aug = Config.fromfile(
        osp.join(REPO, 'configs/_base_/datasets/poster_aug_224.py'))
    path = str(tmp_path / 'face.png')
    cv2.imwrite(path, np.random.RandomState(0).randint(
        0, 256, (100, 100, 3), np.uint8))
    for pipeline in (aug.poster_train_pipeline, aug.poster_test_pipeline):
        pipeline = Compose(pipeline)
        for _ in range(4):  # flip-or-noise is random: run it a few times
            out = pipeline(dict(img_path=path, gt_label=1))
            assert out['inputs'].shape == (3, 224, 224)


@pytest.mark.parametrize('config', ['poster/fer2013_cpu.py',
                                    'poster_v2/fer2013_cpu.py'])
def test_channels_last_gives_the_same_outputs(config):
    """Both backbones' ``channels_last`` (set in the CPU configs)."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', config)).model
    cfg.landmark_backbone.init_cfg = None
    assert cfg.backbone.channels_last and cfg.landmark_backbone.channels_last
    torch.manual_seed(0)
    fast = MODELS.build(cfg).eval()
    cfg.backbone.channels_last = cfg.landmark_backbone.channels_last = False
    plain = MODELS.build(cfg).eval()
    plain.load_state_dict(fast.state_dict())
    for conv in (fast.backbone.input_layer[0],
                 fast.landmark_backbone.conv1.conv):
        assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), plain(x), rtol=1e-4, atol=1e-5)
    fast.train()
    from mmpretrain.structures import DataSample
    loss = fast.loss(x, [DataSample().set_gt_label(i) for i in (0, 1)])
    loss['loss'].backward()  # trains in that layout too
    # NHWC stays inside the backbones: necks get plain NCHW maps.
    feats = fast.backbone(x) + fast.landmark_backbone(x)
    assert all(f.is_contiguous() for f in feats)


def test_affectnet_configs_build_the_official_affectnet_network():
    """train_affect.py's network has no token-mixing Conv1d: 24 blocks x
    (100 x 100 + 100) = 242,400 parameters fewer than the RAF-DB one."""
    from ferpretrain.utils.conversion import build_config_model
    raf = build_config_model('configs/poster/raf.py')
    affect = build_config_model('configs/poster/affectnet7.py')
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(raf) - count(affect) == 24 * (100 * 100 + 100)
    assert count(affect) == 58_663_855
    assert not any('token_mix' in k for k in affect.state_dict())
    assert sum('token_mix' in k for k in raf.state_dict()) == 48
    eight = build_config_model('configs/poster/affectnet8.py')
    assert not any('token_mix' in k for k in eight.state_dict())
