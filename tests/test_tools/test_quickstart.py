"""tools/quickstart.py with paths that hold spaces (and commas).

mmengine's ``--cfg-options`` deletes the spaces of a value, so the quick
start hands the data root to the tools in a config it writes. These tests
check that config and the commands built around it, without training (the
full run is ``test_demo_end_to_end.py``).
"""
import os.path as osp
import sys

import pytest
from mmengine.config import Config

from ferpretrain.datasets.synthetic_faces import generate_synthetic_rafdb
from ferpretrain.registry import DATASETS

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from tool_helpers import REPO_ROOT, TRAIN_PY, load_tool  # noqa: E402


@pytest.fixture(scope='module')
def quickstart():
    return load_tool(osp.join(REPO_ROOT, 'tools', 'quickstart.py'),
                     '_tool_quickstart')


@pytest.fixture(scope='module')
def spaced_demo(tmp_path_factory):
    """A tiny demo dataset under a folder named with a space and a comma."""
    out = tmp_path_factory.mktemp('qs') / 'My Data, v2'
    generate_synthetic_rafdb(str(out), num_train=14, num_test=7, seed=2)
    return str(out / 'basic')


def test_run_config_carries_the_data_root_unchanged(quickstart, spaced_demo,
                                                    tmp_path):
    work_dir = str(tmp_path / 'work dir')
    path = quickstart.write_run_config(work_dir, spaced_demo)
    assert path == osp.join(work_dir, 'quickstart_config.py')
    cfg = Config.fromfile(path)
    train_set = cfg.train_dataloader.dataset
    assert train_set.dataset.data_root == spaced_demo
    assert cfg.val_dataloader.dataset.data_root == spaced_demo
    assert cfg.test_dataloader.dataset.data_root == spaced_demo
    # everything else is the demo config's
    demo = Config.fromfile(osp.join(REPO_ROOT, quickstart.CONFIG))
    assert cfg.model == demo.model
    assert train_set.type == demo.train_dataloader.dataset.type
    assert cfg.train_cfg == demo.train_cfg
    # the datasets load from the folder with the space
    assert len(DATASETS.build(train_set.dataset)) == 14
    assert len(DATASETS.build(cfg.test_dataloader.dataset)) == 7


def test_commands_are_argument_lists(quickstart, tmp_path):
    train_py = load_tool(TRAIN_PY, '_tool_train')
    config = str(tmp_path / 'work dir' / 'quickstart_config.py')
    work_dir = str(tmp_path / 'work dir')
    cmd = quickstart.train_command('python', config, work_dir, epochs=2)
    assert cmd[:2] == ['python', 'tools/train.py']
    assert not any('data_root' in arg for arg in cmd)
    args = train_py.parse_args(cmd[2:])
    assert args.config == config and args.work_dir == work_dir
    assert args.cfg_options == {'train_cfg.max_epochs': 2}
    assert train_py.parse_args(
        quickstart.train_command('python', config, work_dir)[2:]
    ).cfg_options is None
    cmd = quickstart.test_command('python', config, '/a b/epoch_1.pth',
                                  work_dir)
    assert cmd == ['python', 'tools/test.py', config, '/a b/epoch_1.pth',
                   '--work-dir', work_dir]


def test_why_not_cfg_options():
    """The reason for the config: DictAction drops spaces even in quotes.

    If mmengine ever keeps them, the quick start could go back to
    ``--cfg-options``; this test then tells.
    """
    from mmengine.config import DictAction
    value = DictAction._parse_iterable('"/home/me/My Data/basic"')
    assert value == '/home/me/MyData/basic'
