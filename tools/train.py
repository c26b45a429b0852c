# Copyright (c) ferpretrain contributors. Licensed under Apache-2.0.
"""Train a model from a config, mmpretrain-style.

Usage::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [auto|PATH]]
        [--amp [--amp-dtype {bfloat16,float16}]] [--compile]
        [--auto-scale-lr] [--no-validate] [--no-pin-memory]
        [--no-persistent-workers] [--trust-checkpoint]
        [--allow-partial-load] [--debug] [--cfg-options KEY=VALUE ...]
        [--launcher {none,pytorch,slurm,mpi}]

The flags are mmpretrain's, with these differences:

* checkpoints load with torch's weights-only unpickler; ``--trust-checkpoint``
  trusts the files this command names (``--resume PATH``, ``load_from``, the
  file ``--resume`` picks);
* ``--resume`` needs a checkpoint of this config's run (another model's is
  refused by name; a truncated newest one names the last readable one);
  ``load_from`` may leave only a classifier of another class count at its
  initialisation, unless ``--allow-partial-load`` accepts any overlap (what
  stays random is listed in the log);
* ``--amp`` trains in mixed precision on CPU as on GPU: bfloat16 by default,
  ``--amp-dtype float16`` for fp16 with dynamic loss scaling (GPU);
* ``--compile`` (or ``compile = True`` / a dict of options in the config)
  compiles the model's networks in place (``ferpretrain.engine.CompileHook``);
* a fresh run refuses a work directory that holds checkpoints (resume, or
  choose another ``--work-dir``) or cannot be written;
* errors in the user's input print one message and exit 1; ``--debug``
  shows the traceback.

A resumed run with a fixed seed in deterministic mode reproduces the
uninterrupted one. Without a GPU, distributed runs use gloo (``bash
tools/dist_train.sh CONFIG 2``). ``FERPRETRAIN_MALLOC=default`` keeps glibc's
allocator settings (``ferpretrain.engine.tune_malloc``). How each flag
changes the config: ``ferpretrain.engine.run_config``.
"""
import argparse
import os.path as osp
import sys

# Allow running from a source checkout without installing ferpretrain. An
# installed copy, earlier on sys.path, still wins.
_REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

from mmengine.config import Config  # noqa: E402

from ferpretrain.engine import (add_run_arguments,  # noqa: E402
                                build_runner, check_fresh_work_dir,
                                configure_amp, configure_compile,
                                drop_persistent_workers_without_workers,
                                enable_auto_scale_lr, parse_run_args,
                                set_dataloader_defaults, set_resume,
                                set_work_dir, trust_named_checkpoints,
                                tune_malloc, use_reproducible_randomness)
from ferpretrain.utils import register_all_modules  # noqa: E402
from ferpretrain.utils.errors import run_tool  # noqa: E402


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
    add_run_arguments(parser)
    return parse_run_args(parser, argv)


def merge_args(cfg, args):
    """Merge command line arguments into the config."""
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    cfg.launcher = args.launcher
    set_work_dir(cfg, args.work_dir, args.config)
    if args.amp:
        configure_amp(cfg, args.amp_dtype)
    set_resume(cfg, args.resume)
    if args.auto_scale_lr:
        enable_auto_scale_lr(cfg)
    set_dataloader_defaults(
        cfg,
        pin_memory=not args.no_pin_memory,
        persistent_workers=not args.no_persistent_workers)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    configure_compile(cfg, args.compile)
    # Every random stream restarts from (seed, epoch): a resumed run
    # reproduces the uninterrupted one.
    use_reproducible_randomness(cfg)
    return drop_persistent_workers_without_workers(cfg)


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    # First: the settings hold for what is allocated after them.
    _, malloc_msg = tune_malloc()

    cfg = merge_args(Config.fromfile(args.config), args)
    check_fresh_work_dir(cfg)
    if args.trust_checkpoint:
        trust_named_checkpoints(cfg)

    runner = build_runner(
        cfg, 'partial' if args.allow_partial_load else 'finetune')
    runner.logger.info(
        f'Work directory (checkpoints): {osp.abspath(runner.work_dir)}; '
        f'logs of this run: {osp.abspath(runner.log_dir)}')
    runner.logger.info(f'Memory allocator: {malloc_msg}')
    runner.train()
    runner.logger.info(
        f'Done. Checkpoints are in {osp.abspath(runner.work_dir)}, logs in '
        f'{osp.abspath(runner.log_dir)}')


if __name__ == '__main__':
    run_tool(main)
