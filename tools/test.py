# Copyright (c) ferpretrain contributors. Licensed under Apache-2.0.
"""Test (evaluate) a checkpoint, mmpretrain-style.

Usage::

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE]
        [--out-item {metrics,pred}] [--test-data FILE] [--test-data-pipeline]
        [--model-classes NAMES] [--class-map TEST=MODEL ...]
        [--no-class-matching] [--trust-checkpoint] [--allow-partial-load]
        [--amp] [--compile] [--show-dir DIR] [--show] [--interval N]
        [--wait-time S] [--no-pin-memory] [--tta] [--debug]
        [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm,mpi}]

mmpretrain's flags, with these differences:

* CHECKPOINT loads with torch's weights-only unpickler (``--trust-checkpoint``
  for a file carrying other Python objects) and must hold exactly the
  tensors of the config's model, else it is refused before testing, naming
  the first keys and the likely cause (``--allow-partial-load`` tests anyway
  and lists what stays random);
* ``--out`` dumps the predictions (a pickle) or, with ``--out-item
  metrics``, the metrics and the confusion matrix's class names (JSON, YAML
  or pickle by the extension);
* classes match by name when the model's are known (``--model-classes``,
  else the checkpoint's ``meta.dataset_meta.classes``), so a model trained
  on one dataset tests on another: ``--test-data FILE`` takes the test data
  of a dataset config (with the model's test pipeline unless
  ``--test-data-pipeline``); test classes the model lacks are left out and
  reported; only ``--class-map TEST=MODEL`` merges classes;
  ``--no-class-matching`` compares indices as mmpretrain does;
* ``--amp`` tests under autocast (float16 on a GPU, bfloat16 on the CPU);
  ``--compile`` (or ``compile`` in the config) compiles the networks;
* errors in the user's input print one message and exit 1 (``--debug``:
  the traceback).
"""
import argparse
import os.path as osp
import sys

# Allow running from a source checkout without installing ferpretrain. An
# installed copy, earlier on sys.path, still wins.
_REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

import mmengine  # noqa: E402
from mmengine.config import Config, ConfigDict  # noqa: E402
from mmengine.dist import is_main_process  # noqa: E402
from mmengine.evaluator import DumpResults  # noqa: E402

from ferpretrain.engine import (add_run_arguments,  # noqa: E402
                                build_runner, check_writable,
                                configure_compile,
                                drop_persistent_workers_without_workers,
                                enable_tta, enable_visualization,
                                parse_run_args, set_dataloader_defaults,
                                set_work_dir, trust_named_checkpoints,
                                tune_malloc)
from ferpretrain.evaluation import (  # noqa: E402
    add_cross_dataset_arguments, check_cross_dataset_args,
    serializable_metrics, use_class_matching, use_test_data)
from ferpretrain.utils import register_all_modules  # noqa: E402
from ferpretrain.utils.errors import run_tool  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Evaluate a checkpoint (and optionally dump predictions)')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='the directory to save the file containing evaluation metrics')
    parser.add_argument('--out', help='the file to output results.')
    parser.add_argument(
        '--out-item',
        choices=['metrics', 'pred'],
        help='what --out holds: the metrics or the predictions (default)')
    add_cross_dataset_arguments(parser)
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='trust CHECKPOINT (and load_from): load it with '
        'weights_only=False. This runs any code stored in the file; only '
        'for files you trust')
    parser.add_argument(
        '--allow-partial-load',
        action='store_true',
        help='test even if CHECKPOINT does not hold every tensor of the '
        "config's model (the rest stays random; listed in the log)")
    parser.add_argument(
        '--amp',
        action='store_true',
        help='test under autocast: float16 on a GPU, bfloat16 on the CPU')
    parser.add_argument(
        '--compile',
        action='store_true',
        help='torch.compile the model\'s networks (backbone, neck, head)')
    parser.add_argument(
        '--show-dir',
        help='directory where the visualization images will be saved')
    parser.add_argument(
        '--show', action='store_true', help='show the prediction results')
    parser.add_argument(
        '--interval',
        type=int,
        default=1,
        help='visualize every N samples')
    parser.add_argument(
        '--wait-time',
        type=float,
        default=2,
        help='display time of each window, in seconds')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='disable the pin_memory option of the dataloaders')
    parser.add_argument(
        '--tta',
        action='store_true',
        help='test-time augmentation: `tta_model`/`tta_pipeline` of the '
        'config, or by default the average over a flipped and an unflipped '
        'view')
    add_run_arguments(parser)
    args = parse_run_args(parser, argv)
    if args.out is None and args.out_item is not None:
        parser.error('--out-item needs --out: the file to write to.')
    if (args.out and args.out_item in (None, 'pred')
            and not args.out.endswith(('.pkl', '.pickle'))):
        parser.error(f'--out {args.out}: predictions are written as a '
                     'pickle; name a .pkl file, or add --out-item metrics '
                     'for metrics (.json, .yaml or .pkl).')
    check_cross_dataset_args(parser, args)
    return args


def merge_args(cfg, args):
    """Merge command line arguments into the config."""
    cfg.launcher = args.launcher
    set_work_dir(cfg, args.work_dir, args.config)
    cfg.load_from = args.checkpoint
    if args.amp:
        # mmengine's TestLoop autocasts to float16 on a GPU and to bfloat16
        # on the CPU (the only low precision CPU autocast has).
        cfg.test_cfg = cfg.get('test_cfg', None) or ConfigDict()
        cfg.test_cfg.fp16 = True
    if args.show or args.show_dir is not None:
        enable_visualization(cfg, args.show, args.show_dir, args.wait_time,
                             args.interval)
    if args.tta:
        enable_tta(cfg)
    set_dataloader_defaults(
        cfg, ('test_dataloader', ),
        pin_memory=not args.no_pin_memory,
        persistent_workers=None)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    configure_compile(cfg, args.compile)
    return drop_persistent_workers_without_workers(cfg)


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    _, malloc_msg = tune_malloc()

    cfg = Config.fromfile(args.config)
    if args.test_data:
        use_test_data(cfg, args.test_data, args.test_data_pipeline)
    cfg = merge_args(cfg, args)
    if args.trust_checkpoint:
        trust_named_checkpoints(cfg)

    # Before anything runs: a run must not end in an unwritable place.
    check_writable(cfg.work_dir, '--work-dir')
    if args.out:
        check_writable(args.out, '--out', folder=False)
    if args.show_dir:
        check_writable(args.show_dir, '--show-dir')

    if not args.no_class_matching:
        use_class_matching(cfg, args.checkpoint, args.model_classes,
                           args.class_map, required=bool(args.test_data))

    # The checkpoint must be this model's (see the module docstring).
    runner = build_runner(
        cfg, 'partial' if args.allow_partial_load else 'strict')
    if args.out and args.out_item in ('pred', None):
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))

    runner.logger.info(f'Logs of this run: {osp.abspath(runner.log_dir)}')
    runner.logger.info(f'Memory allocator: {malloc_msg}')
    metrics = runner.test()

    # Every rank holds the metrics; one writer is enough.
    if args.out and args.out_item == 'metrics' and is_main_process():
        classes = runner.test_dataloader.dataset.metainfo.get('classes')
        mmengine.dump(serializable_metrics(metrics, classes), args.out)
    if args.out:
        runner.logger.info(
            f'{args.out_item or "pred"} written to {osp.abspath(args.out)}')
    if args.show_dir:
        runner.logger.info('Visualizations written to '
                           f'{osp.abspath(args.show_dir)}')


if __name__ == '__main__':
    run_tool(main)
