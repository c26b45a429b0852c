"""tools/visualization/vis_attention.py, run as a user would.

Two subprocess runs (the 48-pixel TransFER CPU model with a checkpoint
written here, and the untrained APViT CPU model) on synthetic faces in
``tmp_path``; the untrained TransFER run and the error paths call the
tool's ``main`` in this process, which saves a Python start-up (~6 s) each.
About 20 s on two cores. The recorder (and its token-position bookkeeping)
is tested in tests/test_analysis/test_attention.py.
"""
import os
import os.path as osp
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from ferpretrain.datasets.synthetic_faces import draw_face
from ferpretrain.registry import MODELS
from ferpretrain.utils import TRUSTED_CHECKPOINTS_ENV

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from tool_helpers import (REPO_ROOT, explain, load_tool,  # noqa: E402
                          run_python)

TOOL = osp.join(REPO_ROOT, 'tools', 'visualization', 'vis_attention.py')
TRANSFER = osp.join(REPO_ROOT, 'configs', 'transfer', 'fer2013_cpu.py')
APVIT = osp.join(REPO_ROOT, 'configs', 'apvit', 'fer2013_cpu.py')
# Names that are no dataset's: the tool must take them from the checkpoint.
CLASSES = tuple(f'expr{i}' for i in range(7))
STEMS = ('face', 'gradient')


@pytest.fixture(scope='module')
def vis_tool():
    return load_tool(TOOL, 'vis_attention')


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    """A 48x48 synthetic face and a 64x64 gray gradient (the test pipeline
    resizes it to 48x48)."""
    root = tmp_path_factory.mktemp('faces')
    face = draw_face('Happiness', np.random.default_rng(0), size=48)
    ramp = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (64, 1))
    paths = []
    for stem, img in zip(STEMS, (face, ramp)):
        paths.append(str(root / f'{stem}.png'))
        assert cv2.imwrite(paths[-1], img)
    return paths


def build_model(config):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(Config.fromfile(config).model)
    model.init_weights()
    return model.eval()


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """The TransFER CPU model, its head biased to class 5, as a plain state
    dict with class names: what a trained checkpoint looks like."""
    torch.manual_seed(0)
    model = build_model(TRANSFER)
    with torch.no_grad():
        model.head.fc.bias[5] = 5.
    path = tmp_path_factory.mktemp('ckpt') / 'transfer_cpu.pth'
    torch.save(
        dict(state_dict=model.state_dict(),
             meta=dict(dataset_meta=dict(classes=CLASSES))), path)
    return path


def run_tool(config, checkpoint, images, out_dir, *extra):
    proc = run_python(TOOL, config, checkpoint, *images, '--out-dir',
                      out_dir, *extra, cwd=REPO_ROOT, timeout=120)
    assert proc.returncode == 0, explain(proc)
    return proc.stdout


def png_size(path):
    img = cv2.imread(str(path))
    assert img is not None, f'{path} is not a readable image'
    return img.shape[1], img.shape[0]


def test_transfer_maps_from_checkpoint(checkpoint, images, tmp_path):
    out = run_tool(TRANSFER, checkpoint, images, tmp_path)
    # The weights (head bias) and the class names come from the checkpoint.
    assert out.count('predicted expr5') == 2, out
    for stem in STEMS:
        for name in ('lanet0', 'lanet1', 'lanet_max', 'cls_attention'):
            path = tmp_path / f'{stem}_{name}.png'
            assert f'wrote {path}' in out
            # Laid on the face the model saw: 48x48 after the resize.
            assert png_size(path) == (48, 48), path
        width, height = png_size(tmp_path / f'{stem}_grid.png')
        assert width > height

        maps = np.load(tmp_path / f'{stem}_maps.npz')
        assert maps['face'].shape == (48, 48, 3)
        lanets = [maps['lanet0'], maps['lanet1']]
        for m in lanets:
            assert m.shape == (6, 6)  # the 48-pixel model's patch grid
            assert ((m >= 0) & (m <= 1)).all()
        np.testing.assert_allclose(maps['lanet_max'], np.maximum(*lanets))
        cls = maps['cls_attention']
        assert cls.shape == (6, 6) and (cls >= 0).all()
        assert cls.sum() == pytest.approx(1, abs=1e-5)
        assert maps['cls_attention_kept'].all()  # TransFER pools nothing
        assert 0 < maps['cls_self_attention'] < 1
        assert int(maps['block']) == 3  # the last of 4 blocks
        assert int(maps['pred_label']) == 5


def test_transfer_untrained(vis_tool, images, tmp_path, capsys):
    # In this process (the CLI's own main) to save a Python start-up.
    vis_tool.main([TRANSFER, 'none', images[0], '--out-dir', str(tmp_path),
                   '--block', '0'])
    out = capsys.readouterr().out
    assert 'predicted ' in out
    # init_weights() would log a line per parameter; the tool silences it.
    assert 'init_weights' not in out
    maps = np.load(tmp_path / 'face_maps.npz')
    assert int(maps['block']) == 0
    assert maps['lanet0'].shape == (6, 6)
    assert png_size(tmp_path / 'face_lanet_max.png') == (48, 48)


def test_apvit_has_no_lanets(images, tmp_path):
    out = run_tool(APVIT, 'none', images[:1], tmp_path)
    assert 'no LANets' in out
    # Patch pooling keeps 30 of 36 patches, token pooling fewer still; the
    # CLS map is laid on the grid anyway, 0 where patches were removed.
    assert 'patch/token pooling left' in out
    assert not list(tmp_path.glob('*lanet*'))
    assert png_size(tmp_path / 'face_cls_attention.png') == (48, 48)
    assert (tmp_path / 'face_grid.png').is_file()
    maps = np.load(tmp_path / 'face_maps.npz')
    kept = maps['cls_attention_kept']
    assert kept.shape == (6, 6) and 0 < kept.sum() < 30
    assert (maps['cls_attention'][~kept] == 0).all()
    assert maps['cls_attention'].sum() == pytest.approx(1, abs=1e-5)


def test_missing_checkpoint_is_named(vis_tool, images, tmp_path):
    missing = tmp_path / 'nope.pth'
    with pytest.raises(SystemExit) as error:
        vis_tool.main([TRANSFER, str(missing), images[0], '--out-dir',
                       str(tmp_path)])
    assert 'not found' in str(error.value)
    assert str(missing.name) in str(error.value)


class _Payload:

    def __reduce__(self):  # unpickling this runs a shell command
        return os.system, (f'touch {self.marker}', )


def test_refuses_untrusted_checkpoint(vis_tool, checkpoint, images,
                                      tmp_path, monkeypatch):
    monkeypatch.delenv(TRUSTED_CHECKPOINTS_ENV, raising=False)
    payload = _Payload()
    payload.marker = tmp_path / 'MARKER'
    ckpt = torch.load(checkpoint, weights_only=True)
    ckpt['meta']['note'] = payload
    evil = tmp_path / 'evil.pth'
    torch.save(ckpt, evil)
    with pytest.raises(SystemExit) as error:
        vis_tool.main([TRANSFER, str(evil), images[0], '--out-dir',
                       str(tmp_path / 'out')])
    message = str(error.value)
    assert message.startswith('ERROR: Refused to load the checkpoint')
    assert str(evil) in message and '--trust-checkpoint' in message
    assert not payload.marker.exists()
    assert not (tmp_path / 'out').exists()


def test_refuses_checkpoint_of_another_model(vis_tool, checkpoint, images,
                                             tmp_path):
    # A TransFER checkpoint on the APViT config: loaded leniently, the maps
    # would come from a half-random model.
    with pytest.raises(SystemExit) as error:
        vis_tool.main([APVIT, str(checkpoint), images[0], '--out-dir',
                       str(tmp_path)])
    assert 'does not fit the model' in str(error.value)
    assert str(checkpoint) in str(error.value)
