"""tools/test.py and tools/train.py load a checkpoint only where it fits,
and say what is wrong with bad input in one message.

The refusals run the tools' ``main`` in-process (they stop before any
iteration); two runs go through a subprocess, as a user sees them.
"""
import os.path as osp
import shutil
import sys

import pytest
import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from tool_helpers import (TEST_PY, TRAIN_PY, explain,  # noqa: E402
                          load_tool, run_python, write_config,
                          write_image_folder)

from ferpretrain.utils.errors import (CheckpointError,  # noqa: E402
                                      CheckpointMismatchError, ConfigError)


@pytest.fixture(scope='module')
def tools():
    return (load_tool(TRAIN_PY, 'train_tool'),
            load_tool(TEST_PY, 'test_tool'))


@pytest.fixture(scope='module')
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp('strict')
    write_image_folder(str(root / 'data'))
    config = write_config(root / 'tiny.py', root / 'data', max_epochs=1)
    work_dir = root / 'work_dir'
    proc = run_python(TRAIN_PY, config, '--work-dir', work_dir, cwd=root)
    assert proc.returncode == 0, explain(proc)
    return root, config, work_dir / 'epoch_1.pth'


def _variant(checkpoint, path, edit):
    ckpt = torch.load(checkpoint, weights_only=False)
    edit(ckpt['state_dict'])
    torch.save(ckpt, path)
    return path


def _three_class_head(state):
    state['head.fc.weight'] = torch.zeros(3, 64)
    state['head.fc.bias'] = torch.zeros(3)


def test_test_refuses_another_head_before_testing(project, tmp_path):
    root, config, checkpoint = project
    head3 = _variant(checkpoint, tmp_path / 'head3.pth', _three_class_head)
    proc = run_python(TEST_PY, config, head3, '--work-dir', tmp_path / 'w',
                      cwd=root)
    assert proc.returncode == 1, explain(proc)
    assert 'Epoch(test)' not in proc.stdout  # refused before any iteration
    assert 'Traceback' not in proc.stdout, explain(proc)
    tail = proc.stdout[proc.stdout.index('ERROR:'):]
    assert 'head.fc.weight: [3, 64] in the file, [2, 64] in the model' in \
        tail
    assert 'model.head.num_classes=3' in tail and '--allow-partial-load' in \
        tail
    assert len(tail.splitlines()) <= 3, tail
    # On request it tests, and says what stays random.
    proc = run_python(TEST_PY, config, head3, '--work-dir', tmp_path / 'w',
                      '--allow-partial-load', cwd=root)
    assert proc.returncode == 0, explain(proc)
    assert 'stay at their initial (random) values' in proc.stdout
    assert 'Epoch(test)' in proc.stdout


def test_test_refuses_part_of_a_model_and_other_files(project, tools,
                                                      tmp_path):
    root, config, checkpoint = project
    test = tools[1]
    backbone = _variant(
        checkpoint, tmp_path / 'backbone.pth',
        lambda s: [s.pop(k) for k in list(s) if k.startswith('head.')])
    with pytest.raises(CheckpointMismatchError,
                       match='holds only a part of the model'):
        test.main([config, str(backbone), '--work-dir', str(tmp_path / 'w')])
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    with pytest.raises(CheckpointError, match='is empty'):
        test.main([config, str(empty), '--work-dir', str(tmp_path / 'w')])
    page = tmp_path / 'page.pth'
    page.write_text('<html>404</html>')
    with pytest.raises(CheckpointError, match='not a checkpoint at all'):
        test.main([config, str(page), '--work-dir', str(tmp_path / 'w')])


def test_test_stops_when_no_test_class_is_known(project, tools, tmp_path):
    _, config, checkpoint = project
    with pytest.raises(ConfigError, match='nothing to evaluate'):
        tools[1].main([config, str(checkpoint), '--work-dir',
                       str(tmp_path / 'w'), '--model-classes', 'Anger,Fear'])


@pytest.mark.skipif(not osp.isdir('/proc'), reason='needs /proc')
def test_outputs_are_checked_before_the_run(project, tools, tmp_path):
    _, config, checkpoint = project
    train, test = tools
    with pytest.raises(ConfigError, match='--out /proc/m.json is not'):
        test.main([config, str(checkpoint), '--work-dir', str(tmp_path),
                   '--out', '/proc/m.json', '--out-item', 'metrics'])
    with pytest.raises(ConfigError, match='is a file, so it cannot hold'):
        test.main([config, str(checkpoint), '--work-dir',
                   str(checkpoint / 'sub')])
    with pytest.raises(ConfigError, match='not writable'):
        train.main([config, '--work-dir', '/proc/ferpretrain_run'])
    with pytest.raises(SystemExit):  # predictions are a pickle
        test.parse_args([config, str(checkpoint), '--out', 'preds.json'])


def test_resume_refuses_another_models_checkpoint(project, tools, tmp_path):
    root, config, checkpoint = project
    other = tmp_path / 'wider.py'
    other.write_text(
        open(config).read().replace('base_channels=8', 'base_channels=16')
        .replace('in_channels=64', 'in_channels=128'))
    with pytest.raises(CheckpointMismatchError) as refused:
        tools[0].main([str(other), '--work-dir', str(tmp_path / 'w'),
                       '--resume', str(checkpoint)])
    message = str(refused.value)
    assert 'does not match the model' in message
    assert '--resume continues a run of this same config' in message
    assert 'param' not in message.replace('parameters', '')
    # Starting from it (load_from) is refused too: more than a head differs.
    with pytest.raises(CheckpointMismatchError,
                       match='pass --allow-partial-load'):
        tools[0].main([str(other), '--work-dir', str(tmp_path / 'w2'),
                       '--cfg-options', f'load_from={checkpoint}'])


def test_resume_names_the_last_readable_checkpoint(project, tools,
                                                   tmp_path):
    root, config, checkpoint = project
    work_dir = tmp_path / 'run'
    work_dir.mkdir()
    shutil.copy(checkpoint, work_dir / 'epoch_1.pth')
    newest = work_dir / 'epoch_2.pth'
    newest.write_bytes(checkpoint.read_bytes()[:5000])  # killed mid-save
    (work_dir / 'last_checkpoint').write_text(str(newest))
    with pytest.raises(CheckpointError) as refused:
        tools[0].main([config, '--work-dir', str(work_dir), '--resume',
                       '--cfg-options', 'train_cfg.max_epochs=3'])
    message = str(refused.value)
    assert 'truncated' in message and str(newest) in message
    assert f'--resume {work_dir / "epoch_1.pth"}' in message
    assert newest.exists()  # nothing of the user's is removed


def test_finetuning_drops_only_a_head_of_another_size(project, tmp_path):
    root, config, checkpoint = project
    proc = run_python(
        TRAIN_PY, config, '--work-dir', tmp_path / 'ft', '--cfg-options',
        f'load_from={checkpoint}', 'model.head.num_classes=3',
        'data_preprocessor.num_classes=3', cwd=root)
    assert proc.returncode == 0, explain(proc)
    assert proc.stdout.count('the classifier is trained anew') == 1, \
        explain(proc)
    assert 'head.fc.weight [2, 64] (model [3, 64])' in proc.stdout


def test_tta_loads_the_checkpoint_into_the_wrapped_model(project, tmp_path):
    """--tta wraps the model (keys ``module.*``) without a model wrapper:
    every tensor must still load (mmengine's own load matched none)."""
    root, config, checkpoint = project
    proc = run_python(TEST_PY, config, checkpoint, '--tta', '--work-dir',
                      tmp_path / 'w', cwd=root)
    assert proc.returncode == 0, explain(proc)
    count = len(torch.load(checkpoint, weights_only=False)['state_dict'])
    assert f'{count} of {count} model tensors' in proc.stdout, explain(proc)


def test_dataset_error_is_one_message(project, tmp_path):
    root, config, checkpoint = project
    proc = run_python(
        TEST_PY, config, checkpoint, '--work-dir', tmp_path / 'w',
        '--cfg-options', 'test_dataloader.dataset.type=RAFDB',
        f'test_dataloader.dataset.data_root={tmp_path / "nowhere"}',
        cwd=root)
    assert proc.returncode == 1, explain(proc)
    assert 'Traceback' not in proc.stdout, explain(proc)
    tail = proc.stdout[proc.stdout.index('ERROR:'):]
    assert 'list_patition_label.txt' in tail and 'nowhere' in tail
    assert len(tail.splitlines()) <= 3, tail
