"""Safe checkpoint loading (ferpretrain.utils.checkpoint).

Checks that the loader installed into mmengine

* loads and resumes what a real mmengine ``Runner`` saves (log buffers,
  numpy arrays, optimizer and CosineAnnealingLR state);
* refuses files with a foreign pickle payload, without running it, and
  says how to trust a file;
* loads a foreign-but-harmless file once it is trusted.
"""
import builtins
import fractions
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import CheckpointLoader, Runner
from torch.utils.data import DataLoader, Dataset

import ferpretrain  # noqa: F401  (installs the loader, as configs do)
from ferpretrain.utils import (TRUSTED_CHECKPOINTS_ENV,
                               UntrustedCheckpointError,
                               install_safe_checkpoint_loader,
                               is_trusted_checkpoint, load_checkpoint_file,
                               load_from_local, trust_checkpoint)
from ferpretrain.utils.errors import CheckpointError


# ---------------------------------------------------------------------------
# A tiny mmengine training run
# ---------------------------------------------------------------------------
class _Points(Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, idx):
        g = torch.Generator().manual_seed(idx)
        return dict(inputs=torch.randn(4, generator=g))


class _ToyModel(BaseModel):
    """Linear + BatchNorm: parameters, buffers and momentum state."""

    def __init__(self, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.linear = nn.Linear(4, 2)
        self.norm = nn.BatchNorm1d(2)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.norm(self.linear(inputs))
        if mode == 'loss':
            return dict(loss=out.pow(2).mean())
        return out


class _CountIters(Hook):

    def __init__(self):
        self.count = 0

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.count += 1


_RUNS = iter(range(10**6))


def _runner(work_dir, max_epochs, resume=False, load_from=None, hooks=()):
    return Runner(
        model=_ToyModel(),
        work_dir=str(work_dir),
        # A unique name: loggers and visualizers are global instances.
        experiment_name=f'ckpt_test_{os.getpid()}_{next(_RUNS)}',
        train_dataloader=DataLoader(_Points(), batch_size=4, shuffle=False),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        param_scheduler=dict(type='CosineAnnealingLR', T_max=4,
                             by_epoch=True),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1),
            logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=list(hooks),
        resume=resume,
        load_from=load_from,
        randomness=dict(seed=0))


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """``epoch_1.pth`` from a 1-epoch mmengine run."""
    work_dir = tmp_path_factory.mktemp('toy_run')
    _runner(work_dir, max_epochs=1).train()
    path = osp.join(work_dir, 'epoch_1.pth')
    assert osp.isfile(path)
    return path


@pytest.fixture(autouse=True)
def _no_trust(monkeypatch):
    # setenv (not delenv) so that monkeypatch restores the original state
    # after trust_checkpoint() wrote to os.environ.
    monkeypatch.setenv(TRUSTED_CHECKPOINTS_ENV, '')


# ---------------------------------------------------------------------------
# (a) mmengine's own checkpoints
# ---------------------------------------------------------------------------
def test_loader_is_installed_and_idempotent():
    assert CheckpointLoader._get_checkpoint_loader('/any/file.pth') \
        is load_from_local
    install_safe_checkpoint_loader()
    install_safe_checkpoint_loader()
    assert CheckpointLoader._schemes[''] is load_from_local


def test_plain_weights_only_load_fails(trained):
    # The problem this module solves: without the allow-list, torch refuses
    # mmengine's own checkpoint.
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(trained, weights_only=True)


def test_runner_checkpoint_loads(trained):
    ckpt = CheckpointLoader.load_checkpoint(trained, map_location='cpu')
    assert set(ckpt) >= {'meta', 'state_dict', 'message_hub', 'optimizer',
                         'param_schedulers'}
    assert ckpt['meta']['epoch'] == 1
    buffers = ckpt['message_hub']['log_scalars']
    assert isinstance(buffers['train/loss'], HistoryBuffer)
    assert isinstance(buffers['train/loss'].data[0], np.ndarray)
    # The statistics methods came back through the restricted getattr.
    assert np.isfinite(buffers['train/loss'].mean())
    assert ckpt['param_schedulers'][0]['T_max'] == 4
    assert 'momentum_buffer' in next(iter(
        ckpt['optimizer']['state'].values()))


def test_resume_continues_from_epoch_1(trained, tmp_path):
    counter = _CountIters()
    runner = _runner(
        tmp_path, max_epochs=2, resume=True, load_from=trained,
        hooks=[counter])
    runner.train()
    assert runner.epoch == 2
    # Only epoch 2 ran: 8 samples / batch 4 = 2 iterations.
    assert counter.count == 2
    assert runner.iter == 4
    assert osp.isfile(tmp_path / 'epoch_2.pth')
    assert not osp.exists(tmp_path / 'epoch_1.pth')
    # And the resumed checkpoint loads too.
    ckpt = CheckpointLoader.load_checkpoint(str(tmp_path / 'epoch_2.pth'))
    assert ckpt['meta']['epoch'] == 2
    assert ckpt['param_schedulers'][0]['_global_step'] == 2


def test_pretrained_init_cfg_loads(trained):
    # init_cfg=Pretrained goes through the same loader.
    model = _ToyModel(
        init_cfg=dict(type='Pretrained', checkpoint=trained))
    model.init_weights()
    ckpt = load_checkpoint_file(trained)
    torch.testing.assert_close(model.linear.weight,
                               ckpt['state_dict']['linear.weight'])


def test_numpy1_module_names_load(tmp_path):
    # Files written under numpy < 2 name ``numpy.core.multiarray``. The
    # legacy format has no offsets into the pickle, so rewriting the module
    # name in place gives such a file.
    path = tmp_path / 'np1.pth'
    torch.save({'a': np.arange(3.)}, path,
               _use_new_zipfile_serialization=False)
    data = path.read_bytes()
    assert b'numpy._core.multiarray\n' in data
    path.write_bytes(
        data.replace(b'numpy._core.multiarray\n', b'numpy.core.multiarray\n'))
    np.testing.assert_array_equal(load_checkpoint_file(path)['a'],
                                  np.arange(3.))


def test_missing_file():
    with pytest.raises(FileNotFoundError, match='does not exist'):
        CheckpointLoader.load_checkpoint('/nonexistent/dir/ckpt.pth')


def test_safetensors_files_load_whatever_their_name(tmp_path):
    # Hugging Face's and timm's hub files: tensors only, no trust needed.
    from safetensors.torch import save_file

    from ferpretrain.utils.checkpoint import is_safetensors_file
    weights = {'w': torch.arange(4.), 'b': torch.ones(2, 2)}
    for name in ('model.safetensors', 'renamed.pth'):
        path = tmp_path / name
        save_file(weights, str(path))
        assert is_safetensors_file(str(path))
        loaded = CheckpointLoader.load_checkpoint(str(path))
        assert loaded.keys() == weights.keys()
        assert torch.equal(loaded['b'], weights['b'])
    # Cut short (a download that did not finish): one clear message.
    data = (tmp_path / 'model.safetensors').read_bytes()
    cut = tmp_path / 'cut.safetensors'
    cut.write_bytes(data[:len(data) - 8])
    with pytest.raises(CheckpointError, match='cut.safetensors.*as a '
                       'safetensors checkpoint'):
        load_checkpoint_file(cut)
    # A torch file is not mistaken for one.
    torch.save(weights, tmp_path / 'plain.pth')
    assert not is_safetensors_file(str(tmp_path / 'plain.pth'))


# ---------------------------------------------------------------------------
# (b) crafted malicious files
# ---------------------------------------------------------------------------
class _ShellPayload:
    """Runs ``touch MARKER`` when unpickled by a plain unpickler."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


class _BuiltinPayload:
    """Creates MARKER through a builtin when unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (builtins.exec, (f'open({self.marker!r}, "w").close()', ))


class _GetattrPayload:
    """``getattr(HistoryBuffer.min, '__globals__')``: the first step of a
    walk to ``eval`` through the getattr the loader has to accept."""

    def __init__(self, target, name):
        self.target = target
        self.name = name

    def __reduce__(self):
        return (getattr, (self.target, self.name))


def _save(obj, path, legacy):
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return str(path)


@pytest.mark.parametrize('legacy', [False, True], ids=['zip', 'legacy'])
@pytest.mark.parametrize('payload,names', [
    (_ShellPayload, ('posix.system', 'os.system', 'nt.system')),
    (_BuiltinPayload, ('builtins.exec', )),
])
def test_malicious_checkpoint_is_refused(tmp_path, legacy, payload, names):
    marker = tmp_path / 'pwned'
    path = _save({
        'state_dict': {
            'w': torch.zeros(2)
        },
        'meta': payload(str(marker))
    }, tmp_path / 'evil.pth', legacy)

    with pytest.raises(UntrustedCheckpointError) as info:
        CheckpointLoader.load_checkpoint(path)
    message = str(info.value)
    assert not marker.exists()
    assert isinstance(info.value, pickle.UnpicklingError)
    assert path in message
    assert any(name in message for name in names), message
    # The way out is spelled out.
    assert '--trust-checkpoint' in message
    assert TRUSTED_CHECKPOINTS_ENV in message
    assert 'trust_checkpoint(' in message
    assert 'run code' in message


def test_protocol4_payload_is_listed(tmp_path):
    # torch's static scan refuses protocol-4 pickles (STACK_GLOBAL); the
    # message still names the offending global.
    marker = tmp_path / 'pwned'
    path = str(tmp_path / 'p4.pth')
    with pytest.warns(UserWarning, match='protocol 4'):
        torch.save({'x': _ShellPayload(str(marker))}, path,
                   pickle_protocol=4)
        with pytest.raises(UntrustedCheckpointError, match='posix.system'):
            load_checkpoint_file(path)
    assert not marker.exists()


@pytest.mark.parametrize('target,name', [
    (HistoryBuffer.min, '__globals__'),
    (HistoryBuffer, '__init__'),
    (HistoryBuffer, '_statistics_methods'),
    (HistoryBuffer, 'register_statistics'),
    (np.ndarray, 'min'),
])
def test_getattr_outside_history_buffer_is_refused(tmp_path, target, name):
    path = _save({'x': _GetattrPayload(target, name)},
                 tmp_path / 'getattr.pth', legacy=False)
    with pytest.raises(UntrustedCheckpointError, match='Refused getattr'):
        load_checkpoint_file(path)


def test_history_buffer_registry_cannot_be_poisoned(tmp_path):
    # HistoryBuffer.__setstate__ merges a file's statistics methods into the
    # class-wide dict: a file mapping 'mean' to another allowed callable
    # must not change what every buffer's 'mean' does afterwards.
    class _PoisonedBuffer:

        def __reduce__(self):
            state = dict(
                statistics_methods={'mean': HistoryBuffer.max},
                max_length=10,
                _log_history=np.array([1., 3.]),
                _count_history=np.array([1., 1.]))
            return (HistoryBuffer, (), state)

    path = _save({'buf': _PoisonedBuffer()}, tmp_path / 'p.pth', False)
    load_checkpoint_file(path)
    assert HistoryBuffer._statistics_methods['mean'] is HistoryBuffer.mean
    assert HistoryBuffer([1, 3], [1, 1]).statistics('mean') == 2


def test_registry_names_from_the_file_unlock_nothing(tmp_path):
    # A buffer state that registers 'register_statistics' as a statistics
    # name, then a getattr of that name in the same file.
    class _Registering:

        def __reduce__(self):
            state = dict(
                statistics_methods={'register_statistics': HistoryBuffer.max},
                max_length=10,
                _log_history=np.array([1.]),
                _count_history=np.array([1.]))
            return (HistoryBuffer, (), state)

    path = _save({
        'a': _Registering(),
        'b': _GetattrPayload(HistoryBuffer, 'register_statistics')
    }, tmp_path / 'r.pth', False)
    with pytest.raises(UntrustedCheckpointError, match='Refused getattr'):
        load_checkpoint_file(path)
    assert 'register_statistics' not in HistoryBuffer._statistics_methods


# ---------------------------------------------------------------------------
# (c) trusting a file on purpose
# ---------------------------------------------------------------------------
@pytest.fixture
def foreign(tmp_path):
    """A harmless file the allow-list does not cover."""
    return _save({'ratio': fractions.Fraction(1, 3)}, tmp_path / 'f.pth',
                 legacy=False)


def test_foreign_file_refused_by_default(foreign):
    with pytest.raises(UntrustedCheckpointError,
                       match='fractions.Fraction'):
        load_checkpoint_file(foreign)


def test_trust_checkpoint_function(foreign):
    assert not is_trusted_checkpoint(foreign)
    trust_checkpoint(foreign)
    assert is_trusted_checkpoint(foreign)
    assert foreign in os.environ[TRUSTED_CHECKPOINTS_ENV]
    loaded = CheckpointLoader.load_checkpoint(foreign)
    assert loaded['ratio'] == fractions.Fraction(1, 3)
    # An explicit trust=False wins over the environment.
    with pytest.raises(UntrustedCheckpointError):
        load_checkpoint_file(foreign, trust=False)


def test_trust_via_env_var_compares_real_paths(foreign, tmp_path,
                                               monkeypatch):
    link = tmp_path / 'link.pth'
    link.symlink_to(foreign)
    other = tmp_path / 'other.pth'
    monkeypatch.setenv(TRUSTED_CHECKPOINTS_ENV,
                       os.pathsep.join([str(other), str(link)]))
    assert load_checkpoint_file(foreign)['ratio'] == fractions.Fraction(1, 3)
    assert load_checkpoint_file(foreign, trust=True)['ratio'] == \
        fractions.Fraction(1, 3)
