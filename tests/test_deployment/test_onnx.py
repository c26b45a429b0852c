"""ONNX export and onnxruntime inference: every model family exports and
gives PyTorch's logits at another batch size, the metadata reproduces the
config's preprocessing to the pixel, wrong inputs are refused with a clear
message, and inference runs without torch.

The families are exported in their CPU-recipe sizes (the same code as the
full-size configs, narrower and shallower: a few seconds each); the
full-size numbers are in the report of issue 17. Weights are random, but
not the ones the exporter would build on its own: the reference is the
model that wrote the checkpoint, so an export that ignored the checkpoint
fails here.
"""
import json
import os.path as osp
import subprocess
import sys
import warnings
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from ferpretrain.apis import onnx_export
from ferpretrain.apis.onnx_backend import (METADATA_KEY, ONNXFERModel,
                                           OnnxMetadataError, OnnxModelInfo,
                                           preprocess_faces, read_model_info,
                                           softmax, write_model_info)
from ferpretrain.apis.onnx_export import (demo_faces, export_onnx,
                                          load_export_config,
                                          preprocess_from_config,
                                          torch_inputs, torch_reference,
                                          verify_onnx)
from ferpretrain.datasets import FER2013_CATEGORIES
from ferpretrain.registry import MODELS
from ferpretrain.utils.errors import (CheckpointMismatchError, ConfigError,
                                      run_tool)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'deployment', 'pytorch2onnx.py')

#: family -> its reduced config (the CPU recipe: same code, small sizes).
FAMILIES = {
    'apvit': 'configs/apvit/fer2013_cpu.py',
    'transfer': 'configs/transfer/fer2013_cpu.py',
    'poster': 'configs/poster/fer2013_cpu.py',
    'poster_v2': 'configs/poster_v2/fer2013_cpu.py',
    'fervt': 'configs/fervt/fer2013_cpu.py',
    'vit_se': 'configs/vit_se/fer2013_cpu.py',
    'doe': 'configs/doe/demo_pairs_cpu.py',
    'disentangled_doe_stage1':
    'configs/disentangled_doe/demo_pairs_stage1_cpu.py',
}


def _randomise(model, seed):
    """Weights no fresh build has, with logits spread over the classes:
    every tensor moved by noise, BatchNorm statistics set (a fresh
    MobileNetV3's make its features vanish), the head drawn anew (TransFER's
    starts at zero)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            noise = torch.randn(tensor.shape, generator=gen)
            if name.endswith('running_var'):
                tensor.copy_(noise.abs() * 0.5 + 0.5)
            elif name.endswith('running_mean'):
                tensor.copy_(noise * 0.1)
            elif name.startswith('head.'):
                tensor.copy_(noise * 0.3)
            else:
                tensor.add_(noise * 0.02)
    return model.eval()


def _calibrate(model, cfg):
    """BatchNorm statistics measured on demo faces, and logits of a few
    units: after :func:`_randomise` alone, MobileNetV3's features vanish
    and every face (every pair, either way round) gets the same logits, so
    a comparison could not see a wrong input. Scaling the head's last
    linear layer scales the logits, so the softmax is not saturated."""
    from torch.nn.modules.batchnorm import _BatchNorm
    faces = demo_faces(8, pairs=_pairs(model), seed=99)
    inputs = torch_inputs(model, cfg, faces)
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # the plain mean over the batch
    model.train()  # frozen encoders keep eval mode and their statistics
    with torch.no_grad():
        model(inputs, mode='tensor')
        model.eval()
        spread = model(inputs, mode='tensor').std()
        linears = [m for m in model.head.modules()
                   if isinstance(m, torch.nn.Linear)]
        if linears and spread > 0:
            linears[-1].weight.mul_(3 / spread)
            if linears[-1].bias is not None:
                linears[-1].bias.mul_(3 / spread)
    return model


def _trained_like(config, seed=0, options=None):
    """The config's model (no pretrained files), randomised and
    calibrated; and its config."""
    cfg = load_export_config(config, options)
    model = _randomise(onnx_export._build_model(cfg), seed)
    return _calibrate(model, cfg), cfg


def _save(model, path, **meta):
    torch.save(dict(state_dict=model.state_dict(), meta=meta), str(path))
    return str(path)


def _pairs(model):
    return getattr(model, 'faces_per_input', 1) == 2


@pytest.fixture(scope='module')
def apvit(tmp_path_factory):
    """The reduced APViT, its checkpoint and its export."""
    folder = tmp_path_factory.mktemp('apvit')
    model, cfg = _trained_like(FAMILIES['apvit'])
    checkpoint = _save(model, folder / 'apvit.pth')
    out = str(folder / 'apvit.onnx')
    result = export_onnx(FAMILIES['apvit'], checkpoint, out)
    return SimpleNamespace(model=model, cfg=cfg, checkpoint=checkpoint,
                           out=out, result=result, folder=folder)


# ---------------------------------------------------------------------------
# Every family
# ---------------------------------------------------------------------------
#: Test pipelines that resize to 96 px: POSTER and POSTER V2 then resize to
#: their 64 px inside, in the graph, as the full-size models do 224 -> 112.
_RESIZE_INSIDE = {
    'test_dataloader.dataset.pipeline': [
        dict(type='LoadFERImage'),
        dict(type='Resize', scale=(96, 96)),
        dict(type='PackInputs')
    ]
}


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_family_exports_and_matches_pytorch(family, tmp_path):
    config = FAMILIES[family]
    options = _RESIZE_INSIDE if family.startswith('poster') else None
    model, cfg = _trained_like(config, len(family), options)
    checkpoint = _save(model, tmp_path / 'model.pth')
    out = str(tmp_path / 'model.onnx')
    result = export_onnx(config, checkpoint, out, cfg_options=options)

    onnx_model = ONNXFERModel(out, providers=['CPUExecutionProvider'])
    assert onnx_model.info == result.info == read_model_info(out)
    assert onnx_model.info.faces_per_input == (2 if _pairs(model) else 1)
    # Traced at batch 1, run at batch 3.
    faces = demo_faces(3, pairs=_pairs(model), seed=1)
    batch = onnx_model.preprocess(faces)
    assert batch.shape[0] == 3
    got = onnx_model(batch)
    want = torch_reference(model, cfg, faces)
    # The answer depends on the face, so a wrong input would show.
    assert want.std(0).mean() > 0.3
    assert want.std() > 0.5  # the labels below mean something
    if _pairs(model):
        swapped = torch_reference(model, cfg, [(t, n) for n, t in faces])
        assert np.abs(swapped - want).max() > 0.3
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert (got.argmax(1) == want.argmax(1)).all()
    # One face alone gives its row of the batch.
    np.testing.assert_allclose(onnx_model(batch[1:2]), got[1:2], rtol=1e-5,
                               atol=1e-5)
    probs = onnx_model.predict(faces)
    # Logits agree to 1e-4, so probabilities to about that.
    np.testing.assert_allclose(probs, softmax(want), atol=1e-4)
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-6)


def test_export_does_not_need_the_configs_pretrained_files(tmp_path):
    """configs/apvit/raf.py names weights/ files for training; a full
    checkpoint is enough to export (a reduced model through
    --cfg-options, the pretrained init_cfg kept)."""
    options = {
        'model.backbone.stage_channels': (8, 16, 32, 64),
        'model.backbone.stage_units': (1, 1, 1, 1),
        'model.neck.in_channels': 32,
        'model.neck.embed_dims': 32,
        'model.neck.num_layers': 2,
        'model.neck.num_heads': 2,
        'model.neck.token_keep_rates': [1., 0.9],
        'model.head.in_channels': 32,
    }
    cfg = load_export_config('configs/apvit/raf.py', options)
    assert cfg.model.backbone.init_cfg.type == 'Pretrained'
    assert not osp.exists(osp.join(REPO, cfg.model.backbone.init_cfg[
        'checkpoint']))
    model = _randomise(onnx_export._build_model(cfg), 3)
    checkpoint = _save(model, tmp_path / 'raf.pth')
    result = export_onnx('configs/apvit/raf.py', checkpoint,
                         str(tmp_path / 'raf.onnx'), cfg_options=options)
    info = result.info
    assert info.input_size == (112, 112)
    assert info.model_name == 'apvit_ir50-vit-s_2xb128-40e_rafdb-112px'
    assert info.config == 'configs/apvit/raf.py'
    assert info.classes[0] == 'Surprise'
    check = verify_onnx(model, cfg, result.path, demo_faces(4))
    assert check.ok, check.summary()


# ---------------------------------------------------------------------------
# Metadata
# ---------------------------------------------------------------------------
def test_metadata_round_trip(apvit):
    info = apvit.result.info
    props = info.to_metadata()
    assert json.loads(props[METADATA_KEY]) == 1
    assert all(isinstance(v, str) for v in props.values())
    assert json.loads(props['classes']) == list(FER2013_CATEGORIES)
    assert json.loads(props['input_size']) == [48, 48]
    assert json.loads(props['mean']) == [123.675, 116.28, 103.53]
    assert json.loads(props['channel_order']) == 'rgb'
    assert OnnxModelInfo.from_metadata(props) == info
    assert read_model_info(apvit.out) == info
    assert info.ferpretrain_version and info.opset == 17
    assert info.checkpoint == 'apvit.pth'
    assert info.config == 'configs/apvit/fer2013_cpu.py'


def test_metadata_values_are_checked():
    info = OnnxModelInfo(classes=('a', 'b'), input_size=(8, 8),
                         mean=(0, 0, 0), std=(1, 1, 1))
    props = info.to_metadata()
    for key, value, words in [
        ('channel_order', '"rbg"', 'channel_order'),
        ('std', '[1, 0, 1]', 'std'),
        ('input_size', '[8]', 'input_size'),
        ('faces_per_input', '3', 'faces_per_input'),
        ('classes', '["a", "a"]', 'distinct'),
        ('mean', 'not json', 'not valid JSON'),
        (METADATA_KEY, '2', 'version'),
    ]:
        with pytest.raises(OnnxMetadataError, match=words):
            OnnxModelInfo.from_metadata(dict(props, **{key: value}), 'x.onnx')
    with pytest.raises(OnnxMetadataError, match='lacks mean'):
        OnnxModelInfo.from_metadata(
            {k: v for k, v in props.items() if k != 'mean'}, 'x.onnx')


def _data_preprocessor_model(cfg):
    """What preprocess_from_config reads of a model, without building the
    (full-size) network: the data preprocessor and the face count."""
    from mmengine.registry import DefaultScope
    dp_cfg = dict(cfg.model.get('data_preprocessor') or
                  cfg.data_preprocessor)
    pairs = dp_cfg.get('type') == 'PairDataPreprocessor'
    dp_cfg.setdefault('type', 'ClsDataPreprocessor')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        preprocessor = MODELS.build(dp_cfg)
    return SimpleNamespace(data_preprocessor=preprocessor,
                           faces_per_input=2 if pairs else 1)


@pytest.mark.parametrize('config, size, order', [
    ('configs/apvit/raf.py', 112, 'rgb'),
    ('configs/poster/raf.py', 224, 'bgr'),  # BGR kept on purpose
    ('configs/vit_se/raf.py', 224, 'rgb'),  # mean = std = 127.5
    ('configs/apvit/affectnet7.py', 112, 'rgb'),  # CropFaceBox left out
    ('configs/doe/ckplus.py', 224, 'rgb'),  # pairs
    ('configs/fervt/fer2013_cpu.py', 48, 'rgb'),
])
def test_preprocess_equals_the_config_pipeline(config, size, order):
    """ONNXFERModel's preprocessing from the metadata gives the very tensor
    the config's test pipeline and data preprocessor give."""
    cfg = Config.fromfile(osp.join(REPO, config))
    model = _data_preprocessor_model(cfg)
    fields = preprocess_from_config(cfg, model, config)
    assert fields['input_size'] == (size, size)
    assert fields['channel_order'] == order
    info = OnnxModelInfo(classes=('a', ), **fields)
    pairs = model.faces_per_input == 2
    faces = demo_faces(5, pairs=pairs, seed=2)
    # A gray face, as FER2013, CK+ and JAFFE are.
    gray = faces[1][1][:, :, 1] if pairs else faces[1][:, :, 1]
    faces[1] = (faces[1][0], gray) if pairs else gray
    got = preprocess_faces(faces, info)
    want = torch_inputs(model, cfg, faces).numpy()
    assert got.shape == want.shape == (5, ) + (2, ) * pairs + (3, size,
                                                                 size)
    np.testing.assert_array_equal(got, want)  # to the bit
    if config.endswith('affectnet7.py'):
        assert any('CropFaceBox' in n for n in fields['notes'])


def test_verify_detects_wrong_metadata(apvit, tmp_path):
    """The channel order or mean order swapped in the metadata: --verify
    sees it (what a wiring bug of the exporter would look like)."""
    assert verify_onnx(apvit.model, apvit.cfg, apvit.out).ok
    info = apvit.result.info
    for wrong in (dict(channel_order='bgr'), dict(mean=info.mean[::-1])):
        path = str(tmp_path / 'wrong.onnx')
        with open(apvit.out, 'rb') as src, open(path, 'wb') as dst:
            dst.write(src.read())
        write_model_info(path, OnnxModelInfo(**{**vars(info), **wrong}))
        check = verify_onnx(apvit.model, apvit.cfg, path)
        assert not check.ok, wrong
        assert check.max_logit_diff > 1e-3


# ---------------------------------------------------------------------------
# Clear errors
# ---------------------------------------------------------------------------
def test_onnx_file_without_metadata_is_refused(tmp_path):
    path = str(tmp_path / 'plain.onnx')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the legacy exporter's notice
        torch.onnx.export(torch.nn.Linear(4, 2), (torch.zeros(1, 4), ),
                          path, dynamo=False)
    with pytest.raises(OnnxMetadataError) as error:
        ONNXFERModel(path)
    assert path in str(error.value)
    assert 'tools/deployment/pytorch2onnx.py' in str(error.value)
    with pytest.raises(FileNotFoundError, match='missing.onnx'):
        ONNXFERModel(str(tmp_path / 'missing.onnx'))


def test_unsupported_pipeline_step_is_refused(apvit, tmp_path):
    out = tmp_path / 'cropped.onnx'
    pipeline = [
        dict(type='LoadFERImage'),
        dict(type='Resize', scale=(56, 56)),
        dict(type='CenterCrop', crop_size=48),
        dict(type='PackInputs'),
    ]
    with pytest.raises(ConfigError) as error:
        export_onnx(FAMILIES['apvit'], apvit.checkpoint, str(out),
                    cfg_options={'test_dataloader.dataset.pipeline':
                                 pipeline})
    message = str(error.value)
    assert FAMILIES['apvit'] in message and 'CenterCrop' in message
    assert not out.exists()
    load, pack = dict(type='LoadFERImage'), dict(type='PackInputs')
    for steps, words in [
        ([dict(type='Resize', scale=(48, 48), keep_ratio=True)],
         'keep_ratio'),
        ([dict(type='Resize', scale=(48, 48), backend='pillow')], 'pillow'),
        ([dict(type='Resize', scale=48)] * 2, 'a second Resize'),
        ([], 'no Resize'),
    ]:
        with pytest.raises(ConfigError, match=words):
            export_onnx(FAMILIES['apvit'], apvit.checkpoint, str(out),
                        cfg_options={'test_dataloader.dataset.pipeline':
                                     [load] + steps + [pack]})


def test_mismatching_checkpoint_is_refused(apvit, tmp_path):
    other, _ = _trained_like(FAMILIES['transfer'])
    wrong = _save(other, tmp_path / 'transfer.pth')
    out = tmp_path / 'x.onnx'
    with pytest.raises(CheckpointMismatchError,
                       match='holds a TransFER model'):
        export_onnx(FAMILIES['apvit'], wrong, str(out))
    state = dict(apvit.model.state_dict())
    state.pop('head.fc.weight')
    partial = str(tmp_path / 'partial.pth')
    torch.save(dict(state_dict=state), partial)
    with pytest.raises(CheckpointMismatchError, match='head.fc.weight'):
        export_onnx(FAMILIES['apvit'], partial, str(out))
    assert not out.exists()


def test_classes_come_from_the_checkpoint_and_must_fit(apvit, tmp_path):
    names = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6']
    checkpoint = _save(apvit.model, tmp_path / 'named.pth',
                       dataset_meta=dict(classes=names))
    result = export_onnx(FAMILIES['apvit'], checkpoint,
                         str(tmp_path / 'named.onnx'))
    assert list(result.info.classes) == names
    checkpoint = _save(apvit.model, tmp_path / 'eight.pth',
                       dataset_meta=dict(classes=names + ['c7']))
    with pytest.raises(ConfigError, match='8 .*7 logits'):
        export_onnx(FAMILIES['apvit'], checkpoint,
                    str(tmp_path / 'eight.onnx'))


def test_pair_model_wants_pairs(tmp_path):
    info = OnnxModelInfo(classes=('a', ), input_size=(8, 8),
                         mean=(0, 0, 0), std=(1, 1, 1), faces_per_input=2)
    face = np.zeros((10, 10, 3), np.uint8)
    assert preprocess_faces([(face, face)], info).shape == (1, 2, 3, 8, 8)
    with pytest.raises(ValueError, match='neutral, target'):
        preprocess_faces([face], info)
    with pytest.raises(TypeError, match='uint8'):
        preprocess_faces([(face, face.astype(np.float32))], info)


@pytest.mark.parametrize('family', ['apvit', 'doe'])
def test_inferencer_gives_the_same_scores_with_onnxruntime(family, tmp_path):
    """FERInferencer on the exported file gives the PyTorch backend's
    probabilities for the same aligned faces: a single-face model, and a
    pair model given a neutral face (the two backends pack pairs their own
    way; a swapped neutral/target would differ here)."""
    from ferpretrain.apis import FERInferencer
    model, _ = _trained_like(FAMILIES[family], seed=7)
    checkpoint = _save(model, tmp_path / 'model.pth')
    out = str(tmp_path / 'model.onnx')
    export_onnx(FAMILIES[family], checkpoint, out)
    by_torch = FERInferencer(FAMILIES[family], checkpoint, detect=False)
    by_onnx = FERInferencer(out, backend='onnxruntime', detect=False)
    assert by_onnx.classes == by_torch.classes
    size = by_torch.input_size
    if _pairs(model):
        (neutral, _), (_, t1), (_, t2) = demo_faces(3, pairs=True, seed=2)
        faces = [t1, t2]
    else:
        neutral, faces = None, demo_faces(2, seed=2)
    faces = [cv2.resize(f, (size, size)) for f in faces]
    if neutral is not None:
        neutral = cv2.resize(neutral, (size, size))

    def scores(inferencer):
        results = inferencer(faces, neutral=neutral)
        return np.array([list(r['faces'][0]['scores'].values())
                         for r in results])

    want, got = scores(by_torch), scores(by_onnx)
    assert want.std() > 0.05  # not a flat answer that any wiring gives
    np.testing.assert_allclose(got, want, atol=1e-4)
    if neutral is not None:
        # The neutral face matters: against itself the scores differ.
        alone = np.array([
            list(r['faces'][0]['scores'].values())
            for r in by_onnx(faces, neutral=faces[0])
        ])
        assert np.abs(alone[1] - got[1]).max() > 1e-3


# ---------------------------------------------------------------------------
# Without torch; the tool
# ---------------------------------------------------------------------------
def test_backend_runs_without_torch(apvit, tmp_path):
    faces = [np.ascontiguousarray(f[:64, :64]) for f in demo_faces(2)]
    np.save(tmp_path / 'faces.npy', np.stack(faces))
    np.save(tmp_path / 'expected.npy',
            softmax(torch_reference(apvit.model, apvit.cfg, faces)))
    script = f'''
import sys
for name in ('torch', 'torchvision', 'mmengine', 'mmcv', 'mmpretrain',
             'timm'):
    sys.modules[name] = None
sys.path.insert(0, {REPO!r})
import numpy as np
from ferpretrain.apis.onnx_backend import ONNXFERModel
model = ONNXFERModel({apvit.out!r})
faces = np.load({str(tmp_path / 'faces.npy')!r})
probs = model.predict(list(faces))
expected = np.load({str(tmp_path / 'expected.npy')!r})
assert np.abs(probs - expected).max() < 1e-5, np.abs(probs - expected).max()
loaded = [m for m in ('torch', 'mmengine', 'mmpretrain')
          if sys.modules.get(m) is not None]
assert not loaded, loaded
print('ok', model.classes[int(probs[0].argmax())])
'''
    done = subprocess.run([sys.executable, '-c', script], cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith('ok ')


def _tool_main():
    import importlib.util
    spec = importlib.util.spec_from_file_location('pytorch2onnx', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_tool_exports_and_verifies(apvit, tmp_path, capsys):
    out = str(tmp_path / 'tool.onnx')
    main = _tool_main()
    assert main([FAMILIES['apvit'], apvit.checkpoint, '--out', out,
                 '--verify', '--num-faces', '5']) == 0
    printed = capsys.readouterr().out
    assert 'Verify (onnxruntime vs PyTorch): 5 faces' in printed
    assert 'labels agree on 5/5' in printed and 'OK' in printed
    assert read_model_info(out).classes == FER2013_CATEGORIES


@pytest.mark.parametrize('problem', ['checkpoint', 'config', 'onnxruntime',
                                     'onnx'])
def test_tool_errors_are_one_message(problem, apvit, tmp_path, capsys,
                                     monkeypatch):
    main = _tool_main()
    config, checkpoint = FAMILIES['apvit'], apvit.checkpoint
    argv = ['--out', str(tmp_path / 'x.onnx'), '--verify']
    if problem == 'checkpoint':
        checkpoint = str(tmp_path / 'missing.pth')
    elif problem == 'config':
        config = str(tmp_path / 'missing.py')
    else:
        monkeypatch.setitem(sys.modules, problem, None)
    argv = [config, checkpoint] + argv
    with pytest.raises(SystemExit) as exit_:
        run_tool(lambda: main(argv), argv)
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert 'Traceback' not in err
    message = [line for line in err.splitlines() if line.startswith('ERROR')]
    assert len(message) == 1
    if problem in ('onnx', 'onnxruntime'):
        assert f'{problem} is not installed' in message[0]
        assert 'pip install -e ".[deploy]"' in message[0]
    else:
        assert f'missing.{"pth" if problem == "checkpoint" else "py"}' in \
            message[0]
