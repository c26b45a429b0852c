# Copyright (c) ferpretrain contributors. Licensed under Apache-2.0.
"""Train a model from a config, mmpretrain-style.

Usage::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [auto|PATH]]
        [--amp [--amp-dtype {bfloat16,float16}]] [--compile]
        [--auto-scale-lr]
        [--no-validate] [--trust-checkpoint] [--allow-partial-load] [--debug]
        [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm,mpi}]

The arguments are mmpretrain's ``tools/train.py`` ones, plus
``--trust-checkpoint``. On top of mmpretrain's behaviour this tool

* loads checkpoints safely (``import ferpretrain.utils`` installs the
  weights-only loader) and trusts the files named on the command line
  (``--resume PATH``, ``cfg.load_from``) only with ``--trust-checkpoint``;
* ``--amp`` trains in mixed precision on CPU as on GPU
  (``MixedPrecisionOptimWrapper``): bfloat16 by default, which needs no loss
  scaling; ``--amp-dtype float16`` gives fp16 with dynamic loss scaling on a
  GPU. A SAM config keeps SAM and runs both of its passes in bf16;
* ``--compile`` (or ``compile = True`` / a dict of ``torch.compile``
  options in the config) compiles the model's networks in place
  (``ferpretrain.engine.CompileHook``), for validation as for training;
* keeps glibc from returning freed tensor memory to the kernel after every
  step (``ferpretrain.utils.tune_malloc``: up to 1.4x faster CPU steps;
  ``FERPRETRAIN_MALLOC=default`` keeps glibc's settings);
* runs distributed on CPU with ``gloo`` when no GPU is present
  (``bash tools/dist_train.sh CONFIG 2`` on a laptop);
* never overwrites what a work directory already holds: it refuses to start
  a fresh run over existing checkpoints (resume instead, or choose another
  ``--work-dir``), and writes the config dump into the run's timestamped
  folder when the work directory already has a file of that name; a work
  directory that cannot be written stops the run before it starts;
* loads checkpoints only where they fit: ``--resume`` needs the checkpoint
  of this config's run (another model's is refused by name, not by an
  optimizer error; a truncated newest checkpoint names the last readable
  one), and ``load_from`` may leave only a classifier of another class
  count at its initialisation, said once in the log (``--allow-partial-load``
  accepts any overlap and lists what stays random);
* makes a resumed run reproduce the uninterrupted one exactly, with a fixed
  seed in deterministic mode (``ReproducibleRandomnessHook`` of
  ``ferpretrain.engine``: every random stream, in the dataloader workers
  too, restarts from the seed and the epoch);
* prints errors in the user's input (dataset, config, checkpoint,
  arguments) as one message and exits 1; ``--debug`` shows the traceback.
"""
import argparse
import logging
import os
import os.path as osp
import sys

# Allow running from a source checkout without installing ferpretrain. An
# installed copy, earlier on sys.path, still wins.
_REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

import torch  # noqa: E402
from mmengine.config import Config, ConfigDict, DictAction  # noqa: E402
from mmengine.logging import print_log  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402

from ferpretrain.utils import (setup_cpu_distributed,  # noqa: E402
                               trust_checkpoint, tune_malloc)
from ferpretrain.utils.errors import ConfigError, run_tool  # noqa: E402
from ferpretrain.utils.runner import (  # noqa: E402
    KeepExistingConfigRunner, check_writable,
    drop_persistent_workers_without_workers)

# Files whose presence means a work directory holds a previous run's
# training state.
_CHECKPOINT_SUFFIXES = ('.pth', '.pth.tar', '.ckpt')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the checkpoint PATH; without a value, resume from '
        'the latest checkpoint in the work directory')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='train in mixed precision (autocast), on CPU as on GPU: '
        'bfloat16 unless --amp-dtype says otherwise')
    parser.add_argument(
        '--amp-dtype',
        choices=('bfloat16', 'float16'),
        default='bfloat16',
        help='dtype of --amp: bfloat16 (default; CPU and GPU, no loss '
        'scaling) or float16 (GPU only, dynamic loss scaling)')
    parser.add_argument(
        '--compile',
        action='store_true',
        help='torch.compile the model\'s networks (backbone, neck, head) '
        'with torch\'s defaults; `compile = dict(...)` in the config passes '
        'options instead')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual total batch size over '
        '`auto_scale_lr.base_batch_size` of the config')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='disable the pin_memory option of the dataloaders')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='disable the persistent_workers option of the dataloaders')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='trust the checkpoints named by --resume PATH or load_from (and '
        'the one --resume auto picks): load them with weights_only=False. '
        'This runs any code stored in them; only for files you trust')
    parser.add_argument(
        '--allow-partial-load',
        action='store_true',
        help='with load_from: train from whatever tensors of the checkpoint '
        'match the model (the rest keeps its initialisation; listed in the '
        'log). Without it only a classifier of another shape may differ')
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
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg, args):
    """Merge command line arguments into the config."""
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    cfg.launcher = args.launcher

    # work_dir priority: CLI > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        configure_amp(cfg, args.amp_dtype)

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.auto_scale_lr:
        auto_scale_lr = cfg.get('auto_scale_lr', None)
        if not auto_scale_lr or 'base_batch_size' not in auto_scale_lr:
            raise ConfigError(
                '--auto-scale-lr needs `auto_scale_lr = dict('
                'base_batch_size=N)` in the config: the total batch size the '
                'learning rate was tuned for.')
        cfg.auto_scale_lr.enable = True

    # Dataloader defaults: pinned memory only helps copies to a GPU, and
    # persistent workers need worker processes (torch refuses them with
    # num_workers=0).
    def set_default_dataloader_cfg(cfg, field):
        if cfg.get(field, None) is None:
            return
        dataloader_cfg = ConfigDict(
            pin_memory=torch.cuda.is_available(),
            persistent_workers=cfg[field].get('num_workers', 0) > 0,
            collate_fn=dict(type='default_collate'))
        dataloader_cfg.update(cfg[field])
        cfg[field] = dataloader_cfg
        if args.no_pin_memory:
            cfg[field]['pin_memory'] = False
        if args.no_persistent_workers:
            cfg[field]['persistent_workers'] = False

    set_default_dataloader_cfg(cfg, 'train_dataloader')
    set_default_dataloader_cfg(cfg, 'val_dataloader')
    set_default_dataloader_cfg(cfg, 'test_dataloader')

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    configure_compile(cfg, args.compile)
    # Every random stream restarts from (seed, epoch): a resumed run
    # reproduces the uninterrupted one.
    from ferpretrain.engine import use_reproducible_randomness
    use_reproducible_randomness(cfg)
    return drop_persistent_workers_without_workers(cfg)


def existing_checkpoints(work_dir):
    """Checkpoint files (and ``last_checkpoint``) directly in ``work_dir``."""
    if not osp.isdir(work_dir):
        return []
    return sorted(
        name for name in os.listdir(work_dir)
        if name == 'last_checkpoint' or name.endswith(_CHECKPOINT_SUFFIXES))


def trust_named_checkpoints(cfg):
    """Trust the checkpoints this command names (``--trust-checkpoint``).

    Goes through ``FERPRETRAIN_TRUSTED_CHECKPOINTS``, so ``torchrun`` and
    SLURM children, which run this same code, agree.
    """
    paths = []
    if cfg.get('load_from', None):
        paths.append(cfg.load_from)
    elif cfg.get('resume', False):
        # --resume auto: the file mmengine will pick.
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


def configure_amp(cfg, dtype: str) -> None:
    """Turn ``cfg.optim_wrapper`` into its mixed-precision form
    (``ferpretrain.engine.mixed_precision_cfg``); exit with its message
    when that is not possible."""
    from ferpretrain.engine import mixed_precision_cfg
    try:
        cfg.optim_wrapper = mixed_precision_cfg(cfg.optim_wrapper, dtype)
    except ValueError as error:
        raise ConfigError(f'--amp: {error}') from None


def configure_compile(cfg, force: bool) -> None:
    """Compile the networks (``CompileHook``) rather than mmengine's
    ``train_step`` when the config or ``--compile`` asks for it; exit with
    the message of a bad setting."""
    from ferpretrain.engine import use_compile_hook
    try:
        use_compile_hook(cfg, force)
    except TypeError as error:
        raise ConfigError(f'compile: {error}') from None


def main(argv=None):
    args = parse_args(argv)
    # First: the settings hold for what is allocated after them.
    _, malloc_msg = tune_malloc()

    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)

    check_writable(cfg.work_dir, 'The work directory (--work-dir)')
    if not cfg.get('resume', False):
        found = existing_checkpoints(cfg.work_dir)
        if found:
            raise ConfigError(
                f'Refusing to start a new training run in {cfg.work_dir!r}: '
                f'it already holds {", ".join(found)}, which a fresh run '
                'would overwrite. Use --resume to continue that run, or '
                '--work-dir to start elsewhere.')

    if args.trust_checkpoint:
        trust_named_checkpoints(cfg)

    # Before the Runner: it initialises torch.distributed in its __init__.
    setup_cpu_distributed(cfg, cfg.launcher)

    if 'runner_type' not in cfg:
        runner = KeepExistingConfigRunner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)

    runner.logger.info(
        f'Work directory (checkpoints): {osp.abspath(runner.work_dir)}; '
        f'logs of this run: {osp.abspath(runner.log_dir)}')
    runner.logger.info(f'Memory allocator: {malloc_msg}')
    runner.checkpoint_loading = ('partial'
                                 if args.allow_partial_load else 'finetune')
    runner.train()
    runner.logger.info(
        f'Done. Checkpoints are in {osp.abspath(runner.work_dir)}, logs in '
        f'{osp.abspath(runner.log_dir)}')


if __name__ == '__main__':
    run_tool(main)
