"""APViT at full size: the figures of models.md, the token counts, and every
way of loading weights into it (face.evoLVe IR-50, old timm ViT-Small,
APViT's release)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from ferpretrain.analysis import get_model_complexity
from ferpretrain.datasets.categories import (APVIT_RAFDB_CATEGORIES,
                                             RAFDB_CATEGORIES)
from ferpretrain.models.necks import PoolingViT, convert_timm_vit_keys
from ferpretrain.datasets.categories import label_permutation
from ferpretrain.models.necks import convert_apvit_checkpoint
from ferpretrain.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def apvit():
    cfg = Config.fromfile(osp.join(REPO, 'configs/apvit/raf.py'))
    model = MODELS.build(cfg.model)
    model.eval()
    return model


def test_apvit_parameters_and_macs_match_the_paper(apvit):
    result = get_model_complexity(apvit, 112)
    # models.md: 65.21 M parameters, 12.67 GMAC (fvcore) at 112x112.
    assert abs(result.params_m - 65.21) / 65.21 < 0.005
    assert abs(result.gmac - 12.67) / 12.67 < 0.03
    # thop-style on the same model (reference: 12.40 on the official code).
    thop_style = get_model_complexity(apvit, 112, convention='thop')
    assert abs(thop_style.gmac - 12.40) / 12.40 < 0.01
    assert 'thop-style' in str(thop_style)


def test_apvit_without_pooling_costs_15_30_gmac():
    cfg = Config.fromfile(osp.join(REPO, 'configs/apvit/raf.py'))
    cfg.model.neck.patch_pooling = None
    cfg.model.neck.token_keep_rates = None
    result = get_model_complexity(MODELS.build(cfg.model), 112)
    assert abs(result.gmac - 15.30) / 15.30 < 0.03


def test_apvit_token_counts(apvit):
    seen = []
    hooks = [
        block.register_forward_hook(
            lambda m, i, o: seen.append((i[0].shape[1], o.shape[1])))
        for block in apvit.neck.blocks
    ]
    captured = {}

    def count_patches(module, inputs, output):
        captured['patches'] = output.shape[2] * output.shape[3]

    hooks.append(apvit.neck.proj.register_forward_hook(count_patches))
    with torch.no_grad():
        logits = apvit(torch.randn(2, 3, 112, 112), mode='tensor')
    for h in hooks:
        h.remove()
    assert logits.shape == (2, 7)
    # 196 patches + CLS = 197 -> APP -> 161 -> ATP in blocks 5-8.
    assert captured['patches'] + 1 == 197
    assert [n_in for n_in, _ in seen][:1] == [161]
    assert [n_out for _, n_out in seen] == [161] * 4 + [145, 130, 117, 105]
    assert apvit.neck.num_tokens_per_block()[-1] == 105


def test_pooling_vit_rejects_wrong_patch_count():
    neck = PoolingViT(in_channels=8, num_patches=16, embed_dims=16,
                      num_layers=1, num_heads=2)
    with pytest.raises(ValueError, match='num_patches'):
        neck((torch.randn(1, 8, 5, 5), ))


def _old_timm_vit_small_state(neck):
    """A state dict laid out like vit_small_p16_224-15ec54c9.pth."""
    state = {}
    for key, value in neck.state_dict().items():
        if key.startswith(('blocks.', 'norm.')):
            state[key] = torch.randn_like(value)
    dims = neck.embed_dims
    state['cls_token'] = torch.randn(1, 1, dims)
    state['pos_embed'] = torch.randn(1, 197, dims)
    state['patch_embed.proj.weight'] = torch.randn(dims, 3, 16, 16)
    state['patch_embed.proj.bias'] = torch.randn(dims)
    state['head.weight'] = torch.randn(1000, dims)
    state['head.bias'] = torch.randn(1000)
    return state


def small_neck(**kwargs):
    return PoolingViT(in_channels=16, num_patches=196, embed_dims=32,
                      num_layers=2, num_heads=4, **kwargs)


def test_timm_vit_small_initialisation(tmp_path):
    state = _old_timm_vit_small_state(small_neck())
    path = tmp_path / 'vit_small_p16_224-15ec54c9.pth'
    torch.save(state, path)
    neck = small_neck(init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    neck.init_weights()
    assert torch.equal(neck.cls_pos_embed, state['pos_embed'][:, :1])
    assert torch.equal(neck.patch_pos_embed, state['pos_embed'][:, 1:])
    assert torch.equal(neck.cls_token, state['cls_token'])
    assert torch.equal(neck.blocks[1].mlp.fc2.weight,
                       state['blocks.1.mlp.fc2.weight'])

    converted, dropped = convert_timm_vit_keys(state, neck.patch_grid)
    result = small_neck().load_state_dict(converted, strict=False)
    # Only APViT's own 1x1 projection is new; nothing is left over.
    assert sorted(result.missing_keys) == ['proj.bias', 'proj.weight']
    assert result.unexpected_keys == []
    assert sorted(dropped) == sorted(
        k for k in state if k.startswith(('patch_embed', 'head')))


def test_timm_pos_embed_is_resized_to_other_grids():
    state = _old_timm_vit_small_state(small_neck())
    converted, _ = convert_timm_vit_keys(state, (7, 7))
    assert converted['patch_pos_embed'].shape == (1, 49, 32)
    assert converted['cls_pos_embed'].shape == (1, 1, 32)


def test_apvit_release_converter_permutes_head_rows(apvit):
    ours = {k: torch.randn_like(v) if v.is_floating_point() else v
            for k, v in apvit.state_dict().items()}
    # Rebuild the official layout from it: extractor/vit/head names, head
    # rows in APViT's label order.
    to_apvit = [RAFDB_CATEGORIES.index(c) for c in APVIT_RAFDB_CATEGORIES]
    official = {}
    for key, value in ours.items():
        if key.startswith('backbone.'):
            official['extractor.' + key[9:]] = value
        elif key.startswith('neck.proj.'):
            official['vit.projs.0.' + key[10:]] = value
        elif key.startswith('neck.'):
            official['vit.' + key[5:]] = value
        elif key.startswith('head.fc.'):
            official['module.' + key] = value[to_apvit]
    converted, dropped, unknown = convert_apvit_checkpoint(
        official, label_permutation(APVIT_RAFDB_CATEGORIES, RAFDB_CATEGORIES))
    assert unknown == [] and dropped == {}
    result = apvit.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for key in ours:
        assert torch.equal(converted[key], ours[key]), key

    _, _, unknown = convert_apvit_checkpoint({
        'vit.alien.weight': torch.ones(1),
        **official
    })
    assert unknown == ['vit.alien.weight']
    # The old import path keeps working, with its old signature.
    from ferpretrain.models.utils.checkpoint_convert import \
        convert_apvit_checkpoint as old
    converted_old, unknown = old(official)
    assert unknown == [] and converted_old.keys() == converted.keys()
    assert torch.equal(converted_old['head.fc.weight'],
                       converted['head.fc.weight'])


def test_app_scores_the_features_before_the_position_embedding():
    """APViT scores each patch by its projected features, *then* pools the
    position-embedded tokens. Patches 0 and 1 have the largest features,
    patches 2 and 3 the largest position embeddings: scored on the wrong
    tensor, the pooling would keep 2 and 3."""
    neck = PoolingViT(in_channels=8, num_patches=4, embed_dims=8,
                      num_layers=1, num_heads=2,
                      patch_pooling=dict(type='AttentivePatchPooling',
                                         num_keep=2))
    features = torch.zeros(1, 8, 2, 2)
    for patch, value in enumerate((4., 3., 2., 1.)):
        features[0, :, patch // 2, patch % 2] = value
    with torch.no_grad():
        neck.proj.weight.copy_(torch.eye(8).view(8, 8, 1, 1))
        neck.proj.bias.zero_()
        neck.patch_pos_embed.zero_()
        neck.patch_pos_embed[0, 2] = 50.
        neck.patch_pos_embed[0, 3] = -50.
    kept = []
    neck.patch_pooling.register_forward_hook(
        lambda m, i, o: kept.append(o))
    neck.eval()
    neck((features, ))
    tokens = features.flatten(2).transpose(1, 2) + neck.patch_pos_embed
    assert torch.equal(kept[0], tokens[:, :2].detach())
