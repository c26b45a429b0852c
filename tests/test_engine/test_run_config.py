"""ferpretrain.engine.run_config: what the command line of a run puts into
its config (tools/train.py and tools/test.py merge their flags with it), and
``build_runner``."""
import argparse
import os
import os.path as osp
import types

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import RUNNERS

from ferpretrain.engine import runner as runner_module
from ferpretrain.engine.run_config import (
    add_run_arguments, check_fresh_work_dir, configure_amp, configure_compile,
    enable_auto_scale_lr, enable_tta, enable_visualization,
    existing_checkpoints, parse_run_args, set_dataloader_defaults, set_resume,
    set_work_dir, trust_named_checkpoints)
from ferpretrain.utils import TRUSTED_CHECKPOINTS_ENV
from ferpretrain.utils.errors import ConfigError


def _parser():
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    return parser


def test_run_arguments(monkeypatch):
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    args = parse_run_args(_parser(), [
        '--debug', '--launcher', 'pytorch', '--local-rank', '3',
        '--cfg-options', 'model.head.num_classes=3', 'a.b=[1,2]'
    ])
    assert args.debug is True and args.launcher == 'pytorch'
    assert args.cfg_options == {'model.head.num_classes': 3, 'a.b': [1, 2]}
    # What mmengine reads; torch.distributed.launch only passes the flag.
    assert os.environ['LOCAL_RANK'] == '3'

    monkeypatch.setenv('LOCAL_RANK', '1')  # torchrun's wins
    args = parse_run_args(_parser(), ['--local_rank', '5'])
    assert args.local_rank == 5 and os.environ['LOCAL_RANK'] == '1'
    assert (args.debug, args.launcher, args.cfg_options) == (False, 'none',
                                                             None)
    with pytest.raises(SystemExit):
        parse_run_args(_parser(), ['--launcher', 'ssh'])


def test_work_dir_priority():
    cfg = Config(dict(work_dir='from_config'))
    set_work_dir(cfg, 'from_cli', 'configs/apvit/raf.py')
    assert cfg.work_dir == 'from_cli'
    cfg = Config(dict(work_dir='from_config'))
    set_work_dir(cfg, None, 'configs/apvit/raf.py')
    assert cfg.work_dir == 'from_config'
    cfg = Config(dict())
    set_work_dir(cfg, None, 'configs/apvit/raf.py')
    assert cfg.work_dir == osp.join('./work_dirs', 'raf')


def test_resume():
    cfg = Config(dict(resume=False, load_from='pretrained.pth'))
    set_resume(cfg, None)
    assert cfg.resume is False and cfg.load_from == 'pretrained.pth'
    set_resume(cfg, 'auto')
    assert cfg.resume is True and cfg.load_from is None
    set_resume(cfg, 'work/epoch_3.pth')
    assert cfg.resume is True and cfg.load_from == 'work/epoch_3.pth'


def test_auto_scale_lr():
    cfg = Config(dict(auto_scale_lr=dict(base_batch_size=64)))
    enable_auto_scale_lr(cfg)
    assert cfg.auto_scale_lr == dict(base_batch_size=64, enable=True)
    for missing in (None, dict(enable=False)):
        with pytest.raises(ConfigError, match='base_batch_size=N'):
            enable_auto_scale_lr(Config(dict(auto_scale_lr=missing)))


def test_amp_keeps_sam_and_refuses_what_it_cannot_convert():
    cfg = Config(dict())
    cfg.optim_wrapper = dict(
        type='SAMOptimWrapper', rho=0.05, optimizer=dict(type='Adam'))
    configure_amp(cfg, 'bfloat16')
    assert cfg.optim_wrapper.type == 'SAMOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'bfloat16'
    with pytest.raises(ConfigError, match='float16 cannot be combined'):
        configure_amp(cfg, 'float16')
    cfg.optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1))
    configure_amp(cfg, 'float16')
    assert cfg.optim_wrapper.type == 'MixedPrecisionOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    cfg.optim_wrapper = dict(type='MyWrapper', optimizer=dict(type='SGD'))
    with pytest.raises(ConfigError, match="--amp: .*'MyWrapper' has no known"):
        configure_amp(cfg, 'bfloat16')


def test_compile():
    cfg = Config(dict(compile=dict(backend='eager')))
    configure_compile(cfg, False)
    assert 'compile' not in cfg
    assert cfg.custom_hooks[-1] == dict(
        type='CompileHook', compile_cfg=dict(backend='eager'))
    cfg = Config(dict())
    configure_compile(cfg, False)
    assert 'custom_hooks' not in cfg
    configure_compile(cfg, True)
    assert cfg.custom_hooks == [dict(type='CompileHook', compile_cfg=True)]
    with pytest.raises(ConfigError, match='compile: .*must be True, False'):
        configure_compile(Config(dict(compile='fast')), False)


@pytest.mark.parametrize('cuda', [False, True])
def test_dataloader_defaults(monkeypatch, cuda):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
    cfg = Config(
        dict(
            train_dataloader=dict(batch_size=4, num_workers=2),
            val_dataloader=dict(num_workers=0, pin_memory=False),
            test_dataloader=None))
    set_dataloader_defaults(cfg)
    train = cfg.train_dataloader
    # The defaults first, the config's keys after (the order of the dump).
    assert list(train) == [
        'pin_memory', 'persistent_workers', 'collate_fn', 'batch_size',
        'num_workers'
    ]
    assert train.pin_memory is cuda and train.persistent_workers is True
    assert train.collate_fn == dict(type='default_collate')
    # The config's own values win; no workers, no persistent workers.
    assert cfg.val_dataloader.pin_memory is False
    assert cfg.val_dataloader.persistent_workers is False
    assert cfg.test_dataloader is None

    # --no-pin-memory and --no-persistent-workers override the config.
    cfg = Config(
        dict(train_dataloader=dict(
            num_workers=2, pin_memory=True, persistent_workers=True)))
    set_dataloader_defaults(cfg, pin_memory=False, persistent_workers=False)
    assert cfg.train_dataloader.pin_memory is False
    assert cfg.train_dataloader.persistent_workers is False

    # tools/test.py: its one dataloader, persistent workers left alone.
    cfg = Config(
        dict(train_dataloader=dict(num_workers=2),
             test_dataloader=dict(num_workers=2)))
    set_dataloader_defaults(cfg, ('test_dataloader', ),
                            persistent_workers=None)
    assert cfg.test_dataloader == dict(
        pin_memory=cuda, collate_fn=dict(type='default_collate'),
        num_workers=2)
    assert cfg.train_dataloader == dict(num_workers=2)


def _test_cfg(**extra):
    pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
    return Config(
        dict(
            model=dict(type='ImageClassifier'),
            test_dataloader=dict(dataset=dict(type='X', pipeline=pipeline)),
            **extra))


def test_tta_default_averages_a_flipped_and_an_unflipped_view():
    cfg = _test_cfg()
    enable_tta(cfg)
    assert cfg.tta_model == dict(type='mmpretrain.AverageClsScoreTTA')
    assert cfg.model == dict(
        type='mmpretrain.AverageClsScoreTTA',
        module=dict(type='ImageClassifier'))
    pipeline = cfg.test_dataloader.dataset.pipeline
    assert pipeline == cfg.tta_pipeline
    assert pipeline[0] == dict(type='LoadImageFromFile')
    assert pipeline[-1] == dict(
        type='TestTimeAug',
        transforms=[[
            dict(type='RandomFlip', prob=1.),
            dict(type='RandomFlip', prob=0.)
        ], [dict(type='PackInputs')]])


def test_tta_of_the_config():
    own = [dict(type='Own')]
    cfg = _test_cfg(tta_model=dict(type='MyTTA', k=2), tta_pipeline=own)
    enable_tta(cfg)
    assert cfg.model == dict(
        type='MyTTA', k=2, module=dict(type='ImageClassifier'))
    assert cfg.test_dataloader.dataset.pipeline == own


def test_visualization():
    with pytest.raises(ConfigError, match='need a VisualizationHook'):
        enable_visualization(Config(dict()), True, None, 2, 1)
    cfg = Config(
        dict(default_hooks=dict(
            visualization=dict(type='VisualizationHook', enable=False))))
    enable_visualization(cfg, False, 'vis', 0.5, 10)
    assert cfg.default_hooks.visualization == dict(
        type='VisualizationHook', enable=True, show=False, wait_time=0.5,
        out_dir='vis', interval=10)


def test_fresh_run_never_overwrites_checkpoints(tmp_path):
    work_dir = tmp_path / 'run'
    assert existing_checkpoints(str(work_dir)) == []
    work_dir.mkdir()
    for name in ('epoch_2.pth', 'last_checkpoint', 'model.ckpt', 'a.pth.tar',
                 'tiny.py', '20240101_000000'):
        (work_dir / name).touch()
    assert existing_checkpoints(str(work_dir)) == [
        'a.pth.tar', 'epoch_2.pth', 'last_checkpoint', 'model.ckpt'
    ]
    cfg = Config(dict(work_dir=str(work_dir), resume=False))
    with pytest.raises(ConfigError) as refused:
        check_fresh_work_dir(cfg)
    assert str(refused.value) == (
        f'Refusing to start a new training run in {str(work_dir)!r}: it '
        'already holds a.pth.tar, epoch_2.pth, last_checkpoint, model.ckpt, '
        'which a fresh run would overwrite. Use --resume to continue that '
        'run, or --work-dir to start elsewhere.')
    cfg.resume = True
    check_fresh_work_dir(cfg)
    check_fresh_work_dir(Config(dict(work_dir=str(tmp_path / 'new'))))
    # A file is no work directory, whatever the run.
    with pytest.raises(ConfigError, match=r'\(--work-dir\) .* is a file'):
        check_fresh_work_dir(
            Config(dict(work_dir=str(work_dir / 'tiny.py'), resume=True)))


def test_trust_named_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setenv(TRUSTED_CHECKPOINTS_ENV, '')
    given = tmp_path / 'given.pth'
    trust_named_checkpoints(Config(dict(load_from=str(given), resume=True)))
    # Through the environment, so that torchrun children inherit it.
    assert os.environ[TRUSTED_CHECKPOINTS_ENV] == osp.realpath(given)

    # --resume auto: the file mmengine will pick.
    monkeypatch.setenv(TRUSTED_CHECKPOINTS_ENV, '')
    latest = tmp_path / 'epoch_4.pth'
    (tmp_path / 'last_checkpoint').write_text(str(latest))
    trust_named_checkpoints(
        Config(dict(load_from=None, resume=True, work_dir=str(tmp_path))))
    assert os.environ[TRUSTED_CHECKPOINTS_ENV] == osp.realpath(latest)

    monkeypatch.setenv(TRUSTED_CHECKPOINTS_ENV, '')
    trust_named_checkpoints(Config(dict(load_from=None, resume=False)))
    assert os.environ[TRUSTED_CHECKPOINTS_ENV] == ''


def test_build_runner(monkeypatch):
    built = []

    def from_cfg(cls, cfg):
        built.append(cls.__name__)
        return types.SimpleNamespace(cfg=cfg)

    monkeypatch.setattr(runner_module.KeepExistingConfigRunner, 'from_cfg',
                        classmethod(from_cfg))
    cfg = Config(dict(launcher='none', model=dict()))
    runner = runner_module.build_runner(cfg, 'strict')
    assert built == ['KeepExistingConfigRunner']
    assert runner.cfg is cfg and runner.checkpoint_loading == 'strict'

    # A config naming its own runner keeps it.
    class OwnRunner:

        @classmethod
        def from_cfg(cls, cfg):
            built.append(cls.__name__)
            return cls()

    RUNNERS.register_module(
        name='RunConfigTestRunner', module=OwnRunner, force=True)
    cfg = Config(dict(launcher='none', runner_type='RunConfigTestRunner'))
    runner = runner_module.build_runner(cfg)
    assert built[-1] == 'OwnRunner' and isinstance(runner, OwnRunner)
    assert runner.checkpoint_loading == 'finetune'


def test_configdict_fields_stay_configdicts():
    # merge_from_dict and attribute access downstream need ConfigDicts.
    cfg = Config(dict(train_dataloader=dict(num_workers=0)))
    set_dataloader_defaults(cfg)
    assert isinstance(cfg.train_dataloader, ConfigDict)
    assert isinstance(cfg.train_dataloader.collate_fn, ConfigDict)
