"""get_flops.py, benchmark.py and the APViT converter, run as a user would."""
import os
import os.path as osp
import subprocess
import sys

import torch
from mmengine.config import Config

from ferpretrain.datasets.categories import (APVIT_RAFDB_CATEGORIES,
                                             RAFDB_CATEGORIES)
from ferpretrain.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs', 'apvit', 'demo_cpu.py')


def _run(*args):
    env = dict(os.environ)
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    proc = subprocess.run([sys.executable, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_get_flops_counts_the_whole_model():
    out = _run('tools/analysis_tools/get_flops.py',
               'configs/apvit/raf.py')
    assert 'input shape: (3, 112, 112)' in out
    assert 'parameters: 65.21 M' in out
    assert 'MACs: 12.67 G' in out


def test_benchmark_prints_a_table_and_writes_json(tmp_path):
    import json
    out_file = tmp_path / 'bench.json'
    out = _run('tools/analysis_tools/benchmark.py', DEMO, '--iters', '2',
               '--warmup', '1', '--batch-size', '4', '--test-batch-size',
               '4', '--out', str(out_file))
    assert '| fp32 |' in out and '| bf16 |' in out, out
    assert 'threads' in out and 'features:' in out
    report = json.loads(out_file.read_text())
    assert [r['dtype'] for r in report['results']] == ['fp32', 'bf16']
    for row in report['results']:
        assert row['train_batch'] == 4 and row['train_images_per_s'] > 0
        assert row['infer_ms_per_image_batch1'] > 0
        assert row['infer_batch'] == 4 and row['infer_images_per_s'] > 0
    assert report['threads'] >= 1 and 'flags' in report['cpu']
    # It measures with the allocator settings the training tools use.
    assert 'memory allocator: glibc' in out, out
    assert report['allocator'].startswith('glibc')


def test_benchmark_compiled(tmp_path):
    import json
    out_file = tmp_path / 'bench.json'
    # backend=eager: the switch, without minutes of C++ compilation.
    out = _run('tools/analysis_tools/benchmark.py', DEMO, '--compile',
               '--dtypes', 'bf16', '--iters', '1', '--warmup', '1',
               '--batch-size', '4', '--test-batch-size', '4', '--out',
               str(out_file), '--cfg-options', 'compile.backend=eager')
    assert 'compiled: backbone, neck, head' in out, out
    report = json.loads(out_file.read_text())
    assert report['compile'] == {'backend': 'eager'}
    assert report['results'][0]['compiled'] == ['backbone', 'neck', 'head']


def test_benchmark_with_real_batches(tmp_path):
    from ferpretrain.datasets import generate_synthetic_rafdb
    generate_synthetic_rafdb(str(tmp_path), num_train=14, num_test=7)
    root = str(tmp_path / 'basic')
    out = _run('tools/analysis_tools/benchmark.py', DEMO, '--with-data',
               '--dtypes', 'fp32', '--iters', '1', '--warmup', '1',
               '--batch-size', '4', '--test-batch-size', '4', '--cfg-options',
               f'train_dataloader.dataset.dataset.data_root={root}',
               f'test_dataloader.dataset.data_root={root}',
               'train_dataloader.num_workers=0',
               'test_dataloader.num_workers=0')
    assert 'dataloaders' in out


def test_apvit_converter_cli(tmp_path):
    cfg = Config.fromfile(DEMO)
    model = MODELS.build(cfg.model)
    ours = {k: torch.randn_like(v) if v.is_floating_point() else v
            for k, v in model.state_dict().items()}
    to_apvit = [RAFDB_CATEGORIES.index(c) for c in APVIT_RAFDB_CATEGORIES]
    official = {}
    for key, value in ours.items():
        if key.startswith('backbone.'):
            official['extractor.' + key[len('backbone.'):]] = value
        elif key.startswith('neck.proj.'):
            official['vit.projs.0.' + key[len('neck.proj.'):]] = value
        elif key.startswith('neck.'):
            official['vit.' + key[len('neck.'):]] = value
        else:
            official[key] = value[to_apvit]
    src = tmp_path / 'APViT_RAF.pth'
    dst = tmp_path / 'converted.pth'
    torch.save(dict(state_dict=official, meta=dict(epoch=40)), src)
    out = _run('tools/model_converters/apvit_to_ferpretrain.py', str(src),
               str(dst), '--config', DEMO)
    assert 'Converted' in out and 'Checked: loads strictly' in out
    converted = torch.load(dst, weights_only=True)
    assert converted['meta']['dataset_meta']['classes'] == list(
        RAFDB_CATEGORIES)
    result = model.load_state_dict(converted['state_dict'], strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(model.head.fc.weight, ours['head.fc.weight'])

    # It never overwrites an existing output by accident.
    proc = subprocess.run(
        [sys.executable, 'tools/model_converters/apvit_to_ferpretrain.py',
         str(src), str(dst)], cwd=REPO, capture_output=True, text=True,
        env=dict(os.environ, PYTHONPATH=REPO))
    assert proc.returncode == 1 and '--overwrite' in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_fused_attention_counts_as_its_explicit_form():
    import torch.nn as nn
    import torch.nn.functional as F

    from ferpretrain.analysis import get_model_complexity

    class Attention(nn.Module):

        def __init__(self, fused):
            super().__init__()
            self.fused = fused

        def forward(self, x):
            # (1, 3, 8, 8) image -> 2 heads x 12 queries; keys/values from
            # 16 other tokens with a different value width.
            x = x.reshape(1, 2, 96)
            q = x[..., :48].reshape(1, 2, 12, 4)
            k = x[..., 48:].reshape(1, 2, 12, 4)
            v = x[..., :64].reshape(1, 2, 8, 8)
            k = torch.cat([k, k[:, :, :4]], 2)  # 16 keys
            v = torch.cat([v, v], 2)  # 16 values of 8
            if self.fused:
                return F.scaled_dot_product_attention(q, k, v)
            return (q @ k.transpose(-1, -2) * 0.5).softmax(-1) @ v

    fused = get_model_complexity(Attention(True), (3, 8, 8))
    explicit = get_model_complexity(Attention(False), (3, 8, 8))
    # batch 2 heads x 12 queries x 16 keys x (4 + 8)
    assert fused.macs == explicit.macs == 2 * 12 * 16 * (4 + 8)


def test_inferencer_benchmark_finds_the_face_of_every_frame(tmp_path):
    """benchmark_inferencer.py writes its 640x480 video, and the face in it
    is found in every counted frame; the table and the JSON agree."""
    import json
    out_file = tmp_path / 'bench.json'
    out = _run('tools/analysis_tools/benchmark_inferencer.py', '--configs',
               'configs/apvit/fer2013_cpu.py', '--backends', 'pytorch',
               '--dtypes', 'fp32', '--frames', '8', '--warmup', '2',
               '--full-scan-intervals', '1', '3', '--out', str(out_file))
    rows = json.loads(out_file.read_text())['rows']
    assert [row['full_scan_interval'] for row in rows] == [1, 3]
    for row in rows:
        assert row['frames'] == 6 and row['faces'] == 6
        assert row['faces_per_s'] > 0 and row['detect_ms_per_face'] > 0
        assert (f"| `configs/apvit/fer2013_cpu.py` | pytorch | fp32 | "
                f"{row['full_scan_interval']} | "
                f"{row['faces_per_s']:.1f} |") in out
