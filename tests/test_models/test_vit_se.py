"""ViT-SE: the full-size figures (ViT-B/16 85.80 M + SE 0.30 M + head,
17.58 GMAC), the SE gate written out, and ImageNet-21k ViT files in timm's
and Hugging Face's layouts loading through ``init_cfg`` with the same
outputs as the model they came from."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from safetensors.torch import save_file

from ferpretrain.analysis import get_model_complexity
from ferpretrain.models.classifiers import (LayoutAwareViT, SENeck,
                                            convert_vit_keys, vit_key_layout)
from ferpretrain.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def _timm_vit(img_size=32, norm_eps=1e-6):
    from functools import partial

    from timm.models.vision_transformer import VisionTransformer
    torch.manual_seed(0)
    model = VisionTransformer(
        img_size=img_size, patch_size=16, embed_dim=32, depth=2, num_heads=2,
        mlp_ratio=2., num_classes=5,
        norm_layer=partial(torch.nn.LayerNorm, eps=norm_eps))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
    return model.eval()


def _hf_layout(timm_state, prefix=''):
    """The timm weights under the names of Hugging Face's ViTModel."""
    hf = {
        'embeddings.cls_token': timm_state['cls_token'],
        'embeddings.position_embeddings': timm_state['pos_embed'],
        'embeddings.patch_embeddings.projection.weight':
        timm_state['patch_embed.proj.weight'],
        'embeddings.patch_embeddings.projection.bias':
        timm_state['patch_embed.proj.bias'],
        'layernorm.weight': timm_state['norm.weight'],
        'layernorm.bias': timm_state['norm.bias'],
        'pooler.dense.weight': torch.randn(32, 32),
        'pooler.dense.bias': torch.randn(32),
    }
    for i in range(2):
        src, dst = f'blocks.{i}.', f'encoder.layer.{i}.'
        for p in ('weight', 'bias'):
            q, k, v = timm_state[f'{src}attn.qkv.{p}'].chunk(3)
            hf[f'{dst}attention.attention.query.{p}'] = q
            hf[f'{dst}attention.attention.key.{p}'] = k
            hf[f'{dst}attention.attention.value.{p}'] = v
            hf[f'{dst}attention.output.dense.{p}'] = timm_state[
                f'{src}attn.proj.{p}']
            hf[f'{dst}intermediate.dense.{p}'] = timm_state[
                f'{src}mlp.fc1.{p}']
            hf[f'{dst}output.dense.{p}'] = timm_state[f'{src}mlp.fc2.{p}']
            hf[f'{dst}layernorm_before.{p}'] = timm_state[f'{src}norm1.{p}']
            hf[f'{dst}layernorm_after.{p}'] = timm_state[f'{src}norm2.{p}']
    return {prefix + k: v.clone().contiguous() for k, v in hf.items()}


def _ours(path=None, img_size=32):
    init_cfg = dict(type='Pretrained', checkpoint=str(path)) if path else None
    model = LayoutAwareViT(arch=TINY, img_size=img_size, patch_size=16,
                           init_cfg=init_cfg)
    model.init_weights()
    model.eval()  # mmpretrain's ViT.train() returns None, so not chained
    return model


def test_full_vit_se_size_matches_the_paper_figures():
    model = MODELS.build(
        Config.fromfile(osp.join(REPO, 'configs/vit_se/raf.py')).model)
    model.eval()
    # models.md: ViT-B/16 without head 85.80 M, 17.58 GMAC at 224
    # (fvcore-style); SE at ratio 4 adds 0.30 M.
    backbone = sum(p.numel() for p in model.backbone.parameters())
    assert abs(backbone / 1e6 - 85.80) < 0.005
    se = sum(p.numel() for p in model.neck.parameters())
    assert se == 768 * 192 + 192 + 192 * 768 + 768  # 0.30 M
    result = get_model_complexity(model, 224)
    assert abs(result.params_m - 86.10) < 0.005
    assert abs(result.gmac - 17.58) < 0.01


def test_se_neck_is_the_written_gate():
    torch.manual_seed(0)
    neck = SENeck(16, ratio=4)
    x = torch.randn(3, 16)
    hidden = torch.relu(x @ neck.linear1.weight.T + neck.linear1.bias)
    gate = torch.sigmoid(hidden @ neck.linear2.weight.T + neck.linear2.bias)
    (out, ) = neck((x, ))
    assert torch.allclose(out, x * gate, atol=1e-6)
    assert neck.linear1.out_features == 4
    # The re-implementation's ReLU "gate" is available, and different.
    relu = SENeck(16, ratio=4, gate='relu')
    relu.load_state_dict(neck.state_dict())
    gate = torch.relu(hidden @ neck.linear2.weight.T + neck.linear2.bias)
    assert torch.allclose(relu((x, ))[0], x * gate, atol=1e-6)


def test_se_neck_explains_bad_arguments():
    with pytest.raises(ValueError, match="gate 'tanh' is not one of"):
        SENeck(16, gate='tanh')
    with pytest.raises(ValueError, match='not divisible by ratio 5'):
        SENeck(16, ratio=5)


def test_timm_file_loads_with_the_same_outputs(tmp_path):
    timm_vit = _timm_vit()
    state = timm_vit.state_dict()
    state['pre_logits.fc.weight'] = torch.randn(32, 32)  # old in21k files
    state['pre_logits.fc.bias'] = torch.randn(32)
    assert vit_key_layout(state) == 'timm'
    path = tmp_path / 'vit_base_patch16_224_in21k.pth'
    torch.save(state, path)
    ours = _ours(path)
    x = torch.randn(2, 3, 32, 32)
    expected = timm_vit.forward_features(x)[:, 0]
    assert torch.allclose(ours(x)[0], expected, atol=1e-5)

    # No key left: the conversion loads strictly, and only the parts a
    # fine-tuned ViT does not build are set aside.
    converted, not_built, layout = convert_vit_keys(state)
    assert layout == 'timm'
    result = _ours().load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert sorted(not_built) == [
        'head.bias', 'head.weight', 'pre_logits.fc.bias',
        'pre_logits.fc.weight'
    ]


@pytest.mark.parametrize('fmt,prefix', [('safetensors', ''), ('bin', ''),
                                        ('bin', 'vit.')])
def test_hugging_face_file_loads_with_the_same_outputs(
        tmp_path, fmt, prefix):
    # Hugging Face's ViT normalises with eps 1e-12 (ours: 1e-6).
    timm_vit = _timm_vit(norm_eps=1e-12)
    hf = _hf_layout(timm_vit.state_dict(), prefix)
    if prefix:  # ViTForImageClassification: a classifier beside `vit.`
        hf['classifier.weight'] = torch.randn(5, 32)
        hf['classifier.bias'] = torch.randn(5)
    if fmt == 'safetensors':
        path = tmp_path / 'model.safetensors'
        save_file(hf, str(path))
    else:
        path = tmp_path / 'pytorch_model.bin'
        torch.save(hf, path)
    ours = _ours(path)
    x = torch.randn(2, 3, 32, 32)
    expected = timm_vit.forward_features(x)[:, 0]
    assert torch.allclose(ours(x)[0], expected, atol=1e-5)

    converted, not_built, layout = convert_vit_keys(hf)
    assert layout == 'Hugging Face'
    result = _ours().load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert sorted(not_built) == sorted(
        ['pooler.dense.weight', 'pooler.dense.bias'] +
        (['classifier.weight', 'classifier.bias'] if prefix else []))


def test_position_embedding_of_another_grid_is_resized(tmp_path):
    path = tmp_path / 'vit.pth'
    torch.save(_timm_vit(img_size=32).state_dict(), path)  # 2x2 patches
    ours = _ours(path, img_size=48)  # 3x3 patches
    assert ours.pos_embed.shape == (1, 10, 32)
    assert ours(torch.randn(1, 3, 48, 48))[0].shape == (1, 32)


def test_own_checkpoints_load_unchanged(tmp_path):
    source = _ours()
    converted, not_built, layout = convert_vit_keys(source.state_dict())
    assert layout is None and not not_built
    assert converted.keys() == source.state_dict().keys()


def test_unknown_keys_and_incomplete_layers_are_explained():
    timm_state = _timm_vit().state_dict()
    with pytest.raises(KeyError, match='blocks.0.ls1.gamma: not a key'):
        convert_vit_keys(dict(timm_state, **{'blocks.0.ls1.gamma':
                                             torch.ones(32)}))
    hf = _hf_layout(timm_state)
    del hf['encoder.layer.1.attention.attention.key.bias']
    with pytest.raises(ValueError, match='encoder.layer.1.*no key bias'):
        convert_vit_keys(hf)


def test_vit_se_config_classifies_from_the_gated_class_token():
    cfg = Config.fromfile(osp.join(REPO, 'configs/vit_se/fer2013_cpu.py'))
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.eval()
    # configs/vit_se/README.md: 1.84 M parameters, 126.9 MMAC at 48.
    result = get_model_complexity(model, 48)
    assert abs(result.params_m - 1.84) < 0.005
    assert abs(result.gmac * 1000 - 126.9) < 0.05
    x = torch.randn(2, 3, 48, 48)
    cls = model.backbone(x)[0]
    expected = model.head.fc(model.neck.forward(cls))
    assert torch.allclose(model(x, mode='tensor'), expected, atol=1e-5)
