"""Command-line settings of a run, merged into its config.

``tools/train.py`` and ``tools/test.py`` parse their flags and hand them to
these functions; a tool that runs a config through the Runner the same way
uses them too. Each function owns one setting, changes ``cfg`` in place and
raises :class:`~ferpretrain.utils.errors.ConfigError` (printed as one
message by the tools) when the setting cannot be honoured:

* :func:`add_run_arguments` / :func:`parse_run_args`: the flags every run
  takes (``--debug``, ``--cfg-options``, ``--launcher``, the launcher's
  ``--local-rank``);
* :func:`set_work_dir`, :func:`set_resume`, :func:`enable_auto_scale_lr`,
  :func:`configure_amp`, :func:`configure_compile`,
  :func:`set_dataloader_defaults`, :func:`enable_tta`,
  :func:`enable_visualization`: one flag each;
* :func:`check_fresh_work_dir`: a fresh training run never overwrites what
  a work directory holds, and never starts where it cannot write;
* :func:`trust_named_checkpoints`: ``--trust-checkpoint`` for exactly the
  files the command names.
"""
import argparse
import logging
import os
import os.path as osp
from copy import deepcopy
from typing import Optional, Sequence

import torch
from mmengine.config import ConfigDict, DictAction
from mmengine.logging import print_log

from ferpretrain.utils.errors import ConfigError
from .runner import check_writable

__all__ = [
    'CHECKPOINT_SUFFIXES', 'add_run_arguments', 'parse_run_args',
    'set_work_dir', 'set_resume', 'enable_auto_scale_lr', 'configure_amp',
    'configure_compile', 'set_dataloader_defaults', 'enable_tta',
    'enable_visualization', 'existing_checkpoints', 'check_fresh_work_dir',
    'trust_named_checkpoints'
]

#: Files whose presence means a work directory holds a previous run's
#: training state.
CHECKPOINT_SUFFIXES = ('.pth', '.pth.tar', '.ckpt')

_DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the flags every run takes: ``--debug``, ``--cfg-options``,
    ``--launcher`` and the ``--local-rank`` a launcher passes."""
    parser.add_argument(
        '--debug',
        action='store_true',
        help='show the traceback of errors in the input (dataset, config, '
        'checkpoint), which are otherwise printed as one message')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or
    # --local_rank; torchrun sets LOCAL_RANK instead.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_run_args(parser: argparse.ArgumentParser,
                   argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse ``argv`` and publish the launcher's rank as ``LOCAL_RANK``
    (what mmengine reads) unless torchrun already set it."""
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def set_work_dir(cfg, work_dir: Optional[str], config_path: str) -> None:
    """``cfg.work_dir``: ``work_dir`` (``--work-dir``), else the config's,
    else ``./work_dirs/<config file name>``."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config_path))[0])


def set_resume(cfg, resume: Optional[str]) -> None:
    """``--resume``: ``'auto'`` continues from the newest checkpoint of the
    work directory, a path from that file, None changes nothing."""
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif resume is not None:
        cfg.resume = True
        cfg.load_from = resume


def enable_auto_scale_lr(cfg) -> None:
    """``--auto-scale-lr``: scale the learning rate by the actual total
    batch size over ``auto_scale_lr.base_batch_size``, which must be set."""
    auto_scale_lr = cfg.get('auto_scale_lr', None)
    if not auto_scale_lr or 'base_batch_size' not in auto_scale_lr:
        raise ConfigError(
            '--auto-scale-lr needs `auto_scale_lr = dict('
            'base_batch_size=N)` in the config: the total batch size the '
            'learning rate was tuned for.')
    cfg.auto_scale_lr.enable = True


def configure_amp(cfg, dtype: str) -> None:
    """Turn ``cfg.optim_wrapper`` into its mixed-precision form
    (:func:`ferpretrain.engine.mixed_precision_cfg`), or say why it cannot
    be."""
    from .optimizers import mixed_precision_cfg
    try:
        cfg.optim_wrapper = mixed_precision_cfg(cfg.optim_wrapper, dtype)
    except ValueError as error:
        raise ConfigError(f'--amp: {error}') from None


def configure_compile(cfg, force: bool) -> None:
    """Compile the networks (``CompileHook``) rather than mmengine's
    ``train_step`` when the config or ``--compile`` asks for it, or say what
    is wrong with the config's setting."""
    from .compile import use_compile_hook
    try:
        use_compile_hook(cfg, force)
    except TypeError as error:
        raise ConfigError(f'compile: {error}') from None


def set_dataloader_defaults(cfg,
                            fields: Sequence[str] = _DATALOADERS,
                            pin_memory: bool = True,
                            persistent_workers: Optional[bool] = True
                            ) -> None:
    """Fill in what the dataloaders ``fields`` of the config leave open.

    The config's own values win over the defaults: pinned memory only with
    a GPU (it only speeds up copies to one), torch's ``default_collate`` and,
    unless ``persistent_workers`` is None, persistent workers exactly when
    there are worker processes (torch refuses them with ``num_workers=0``).
    ``pin_memory=False`` (``--no-pin-memory``) and
    ``persistent_workers=False`` (``--no-persistent-workers``) override the
    config. Fields the config leaves empty stay empty.
    """
    for field in fields:
        if cfg.get(field, None) is None:
            continue
        loader = ConfigDict(pin_memory=torch.cuda.is_available())
        if persistent_workers is not None:
            loader.persistent_workers = cfg[field].get('num_workers', 0) > 0
        loader.collate_fn = dict(type='default_collate')
        loader.update(cfg[field])
        if not pin_memory:
            loader.pin_memory = False
        if persistent_workers is False:
            loader.persistent_workers = False
        cfg[field] = loader


def enable_tta(cfg) -> None:
    """Test-time augmentation (``--tta``): the config's ``tta_model`` and
    ``tta_pipeline``, by default the average of the scores of a flipped and
    an unflipped view."""
    if 'tta_model' not in cfg:
        cfg.tta_model = dict(type='mmpretrain.AverageClsScoreTTA')
    if 'tta_pipeline' not in cfg:
        test_pipeline = cfg.test_dataloader.dataset.pipeline
        cfg.tta_pipeline = deepcopy(test_pipeline)
        # The last (packing) transform runs on each view.
        cfg.tta_pipeline[-1] = dict(
            type='TestTimeAug',
            transforms=[
                [
                    dict(type='RandomFlip', prob=1.),
                    dict(type='RandomFlip', prob=0.)
                ],
                [test_pipeline[-1]],
            ])
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline


def enable_visualization(cfg, show: bool, out_dir: Optional[str],
                         wait_time: float, interval: int) -> None:
    """``--show`` / ``--show-dir``: turn on the config's
    ``VisualizationHook``, which must be there."""
    if 'visualization' not in cfg.get('default_hooks', {}):
        raise ConfigError(
            '--show/--show-dir need a VisualizationHook: set '
            '`default_hooks.visualization = dict(type='
            '"VisualizationHook", enable=False)` in the config.')
    visualization = cfg.default_hooks.visualization
    visualization.enable = True
    visualization.show = show
    visualization.wait_time = wait_time
    visualization.out_dir = out_dir
    visualization.interval = interval


def existing_checkpoints(work_dir: str) -> list:
    """Checkpoint files (and ``last_checkpoint``) directly in ``work_dir``,
    sorted."""
    if not osp.isdir(work_dir):
        return []
    return sorted(
        name for name in os.listdir(work_dir)
        if name == 'last_checkpoint' or name.endswith(CHECKPOINT_SUFFIXES))


def check_fresh_work_dir(cfg) -> None:
    """Stop a training run before it starts if ``cfg.work_dir`` cannot be
    written, or if the run is not resumed and the folder already holds
    checkpoints it would overwrite."""
    check_writable(cfg.work_dir, 'The work directory (--work-dir)')
    if cfg.get('resume', False):
        return
    found = existing_checkpoints(cfg.work_dir)
    if found:
        raise ConfigError(
            f'Refusing to start a new training run in {cfg.work_dir!r}: '
            f'it already holds {", ".join(found)}, which a fresh run '
            'would overwrite. Use --resume to continue that run, or '
            '--work-dir to start elsewhere.')


def trust_named_checkpoints(cfg) -> None:
    """Trust the checkpoints this command names (``--trust-checkpoint``):
    ``cfg.load_from``, else with ``cfg.resume`` the file mmengine will
    resume from.

    Goes through ``FERPRETRAIN_TRUSTED_CHECKPOINTS``, so ``torchrun`` and
    SLURM children, which run the same tool, agree.
    """
    from ferpretrain.utils.checkpoint import trust_checkpoint
    paths = []
    if cfg.get('load_from', None):
        paths.append(cfg.load_from)
    elif cfg.get('resume', False):
        from mmengine.runner import find_latest_checkpoint
        latest = find_latest_checkpoint(cfg.work_dir)
        if latest:
            paths.append(latest)
    for path in paths:
        real = trust_checkpoint(path)
        print_log(
            f'--trust-checkpoint: {real} will be loaded with '
            'weights_only=False (any code stored in it will run).',
            logger='current',
            level=logging.WARNING)
