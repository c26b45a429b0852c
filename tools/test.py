# Copyright (c) ferpretrain contributors. Licensed under Apache-2.0.
"""Test (evaluate) a checkpoint, mmpretrain-style.

Usage::

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE]
        [--out-item {metrics,pred}] [--show-dir DIR] [--show]
        [--interval N] [--wait-time S] [--no-pin-memory] [--tta] [--amp]
        [--compile]
        [--trust-checkpoint] [--allow-partial-load] [--debug]
        [--test-data FILE] [--test-data-pipeline]
        [--model-classes NAMES] [--class-map TEST=MODEL ...]
        [--no-class-matching] [--cfg-options KEY=VALUE ...]
        [--launcher {none,pytorch,slurm,mpi}]

The arguments are mmpretrain's ``tools/test.py`` ones, plus
``--trust-checkpoint`` and the cross-dataset options below. The checkpoint
is loaded with torch's weights-only unpickler and a small allow-list
(``import ferpretrain.utils`` installs it into mmengine); a file that
carries other Python objects is refused with a message that says how to
trust it. ``--out`` dumps the predictions (mmengine's
``DumpResults``) or, with ``--out-item metrics``, the metrics (overall, mean
class and per-class accuracy, the confusion matrix with its class names) as
JSON, YAML or pickle by the file's extension.

Classes are matched by name. When the model's class names are known (the
checkpoint's ``meta.dataset_meta.classes``, which every ferpretrain
checkpoint and converted release carries, or ``--model-classes``), the scores
are re-ordered into the test set's classes (``CrossDatasetEvaluator``), so a
model trained on one dataset is evaluated on another whose classes are a
permutation or a subset::

    # FER2013 model on JAFFE (same 7 expressions, other order and spelling)
    python tools/test.py configs/apvit/fer2013.py fer2013.pth \
        --test-data configs/_base_/datasets/jaffe_all_112.py \
        --cfg-options test_dataloader.dataset.data_root=data/jaffe_aligned

``--test-data FILE`` takes ``test_dataloader`` (and ``test_evaluator``) from
a dataset config; the test pipeline stays the model config's (input size and
preprocessing) unless ``--test-data-pipeline`` is given. Test classes the
model lacks (CK+ contempt for a RAF-DB model) are left out and reported
(``ClassSubsetDataset``); model classes the test set lacks are left out of
the arg-max and reported. Nothing is merged unless ``--class-map
TEST=MODEL`` says so. ``--no-class-matching`` compares indices as
mmpretrain does.

The checkpoint must hold exactly the tensors of the config's model: a file
with missing or unexpected keys or other shapes (an 8-class head for a
7-class config, an APViT file for a POSTER config, a backbone-only file) is
refused before any test iteration, with the first keys and the likely
cause. ``--allow-partial-load`` tests anyway and lists what stays random.
Errors in the user's input (a dataset, a config key, a checkpoint, an
argument) print one message and exit 1; ``--debug`` shows the traceback.

``--amp`` tests under autocast: float16 on a GPU, bfloat16 on the CPU.
``--compile`` (or ``compile`` in the config) compiles the model's networks
(``ferpretrain.engine.CompileHook``). The memory allocator is set up as in
``tools/train.py`` (``ferpretrain.utils.tune_malloc``).
"""
import argparse
import logging
import os
import os.path as osp
import sys
from copy import deepcopy

# Allow running from a source checkout without installing ferpretrain. An
# installed copy, earlier on sys.path, still wins.
_REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

import mmengine  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, ConfigDict, DictAction  # noqa: E402
from mmengine.dist import is_main_process  # noqa: E402
from mmengine.evaluator import DumpResults  # noqa: E402
from mmengine.logging import print_log  # noqa: E402
from mmengine.registry import DATASETS, RUNNERS, DefaultScope  # noqa: E402
from mmengine.runner.checkpoint import _load_checkpoint  # noqa: E402

from ferpretrain.utils import (setup_cpu_distributed,  # noqa: E402
                               trust_checkpoint, tune_malloc)
from ferpretrain.utils.errors import ConfigError, run_tool  # noqa: E402
from ferpretrain.utils.runner import (  # noqa: E402
    KeepExistingConfigRunner, check_writable,
    drop_persistent_workers_without_workers)


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
    parser.add_argument(
        '--test-data',
        metavar='FILE',
        help='a config file (e.g. configs/_base_/datasets/jaffe_112.py) '
        'whose test_dataloader (and test_evaluator, if it has one) replace '
        "the config's: evaluate on another dataset")
    parser.add_argument(
        '--test-data-pipeline',
        action='store_true',
        help="with --test-data: use the file's test pipeline, not the "
        "config's (e.g. AffectNet's CropFaceBox)")
    parser.add_argument(
        '--model-classes',
        metavar='NAMES',
        help='the class names of the model head, in head order: '
        'comma-separated ("Angry,Disgust,...") or a dataset type whose '
        'classes it was trained on ("FER2013"). Defaults to the '
        "checkpoint's meta.dataset_meta.classes")
    parser.add_argument(
        '--class-map',
        nargs='+',
        metavar='TEST=MODEL',
        help='grade test class TEST with model class MODEL (an explicit '
        'merge, e.g. contempt=disgust); names in any spelling')
    parser.add_argument(
        '--no-class-matching',
        action='store_true',
        help='compare class indices as they are (no matching by name)')
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
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.out is None and args.out_item is not None:
        parser.error('--out-item needs --out: the file to write to.')
    if (args.out and args.out_item in (None, 'pred')
            and not args.out.endswith(('.pkl', '.pickle'))):
        parser.error(f'--out {args.out}: predictions are written as a '
                     'pickle; name a .pkl file, or add --out-item metrics '
                     'for metrics (.json, .yaml or .pkl).')
    if args.no_class_matching and (args.model_classes or args.class_map):
        parser.error('--no-class-matching contradicts --model-classes and '
                     '--class-map.')
    class_map = {}
    for pair in args.class_map or ():
        test_name, sep, model_name = pair.partition('=')
        if not sep or not test_name or not model_name:
            parser.error(f'--class-map: {pair!r} is not TEST=MODEL (e.g. '
                         'contempt=disgust).')
        class_map[test_name] = model_name
    args.class_map = class_map
    return args


def _innermost_dataset(dataset_cfg):
    """The dataset inside wrappers (ClassBalancedDataset, ...)."""
    while 'dataset' in dataset_cfg:
        dataset_cfg = dataset_cfg['dataset']
    return dataset_cfg


def use_test_data(cfg, path, data_pipeline=False):
    """Replace the test data (and evaluator) by those of a dataset config.

    The test pipeline stays the model config's (it fixes the input size and
    preprocessing the model was trained with) unless ``data_pipeline``.
    """
    test_data = Config.fromfile(path)
    if 'test_dataloader' not in test_data:
        raise ConfigError(f'--test-data {path}: the file defines no '
                          'test_dataloader (a dataset config such as '
                          'configs/_base_/datasets/jaffe_112.py does).')
    model_pipeline = _innermost_dataset(cfg.test_dataloader.dataset).get(
        'pipeline')
    cfg.test_dataloader = test_data.test_dataloader
    if model_pipeline is not None and not data_pipeline:
        _innermost_dataset(cfg.test_dataloader.dataset).pipeline = \
            model_pipeline
    if 'test_evaluator' in test_data:
        cfg.test_evaluator = test_data.test_evaluator


def resolve_model_classes(args, cfg):
    """The model's class names: --model-classes, else the checkpoint's
    ``meta.dataset_meta.classes``, else None."""
    if args.model_classes:
        names = [n.strip() for n in args.model_classes.split(',')]
        if len(names) == 1:
            with DefaultScope.overwrite_default_scope(
                    cfg.get('default_scope', 'mmpretrain')):
                dataset_cls = DATASETS.get(names[0])
            classes = getattr(dataset_cls, 'METAINFO', {}).get('classes')
            if not classes:
                raise ConfigError(
                    f'--model-classes {args.model_classes}: not a dataset '
                    'type with METAINFO classes; give the class names '
                    'comma-separated, in the order of the model head.')
            return list(classes)
        return names
    checkpoint = _load_checkpoint(args.checkpoint, map_location='cpu')
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    classes = ((meta or {}).get('dataset_meta') or {}).get('classes')
    return list(classes) if classes else None


def enable_class_matching(cfg, model_classes, class_map):
    """Wrap the test set and evaluator so that classes match by name."""
    cfg.test_dataloader.dataset = ConfigDict(
        type='ClassSubsetDataset',
        dataset=cfg.test_dataloader.dataset,
        model_classes=list(model_classes),
        class_map=class_map)
    evaluator = cfg.test_evaluator
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        metrics = evaluator['metrics']
    else:
        metrics = evaluator
    cfg.test_evaluator = ConfigDict(
        type='CrossDatasetEvaluator',
        metrics=metrics,
        model_classes=list(model_classes),
        class_map=class_map)


def to_serializable(metrics, classes=None):
    """Metrics -> plain Python (tensors as nested lists) for JSON/YAML, with
    the test set's class names next to the confusion matrix."""
    out = {}
    for key, value in metrics.items():
        if isinstance(value, torch.Tensor):
            value = value.tolist()
        elif hasattr(value, 'tolist'):  # numpy arrays and scalars
            value = value.tolist()
        out[key] = value
    if classes is not None:
        out['classes'] = list(classes)
    return out


def merge_args(cfg, args):
    """Merge command line arguments into the config."""
    cfg.launcher = args.launcher

    # work_dir priority: CLI > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    cfg.load_from = args.checkpoint

    if args.amp:
        # mmengine's TestLoop autocasts to float16 on a GPU and to bfloat16
        # on the CPU (the only low precision CPU autocast has).
        cfg.test_cfg = cfg.get('test_cfg', None) or ConfigDict()
        cfg.test_cfg.fp16 = True

    if args.show or args.show_dir is not None:
        if 'visualization' not in cfg.get('default_hooks', {}):
            raise ConfigError(
                '--show/--show-dir need a VisualizationHook: set '
                '`default_hooks.visualization = dict(type='
                '"VisualizationHook", enable=False)` in the config.')
        visualization = cfg.default_hooks.visualization
        visualization.enable = True
        visualization.show = args.show
        visualization.wait_time = args.wait_time
        visualization.out_dir = args.show_dir
        visualization.interval = args.interval

    if args.tta:
        if 'tta_model' not in cfg:
            cfg.tta_model = dict(type='mmpretrain.AverageClsScoreTTA')
        if 'tta_pipeline' not in cfg:
            test_pipeline = cfg.test_dataloader.dataset.pipeline
            cfg.tta_pipeline = deepcopy(test_pipeline)
            # Average a horizontally flipped and an unflipped view; the
            # last (packing) transform runs on each.
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

    # Pinned memory only helps copies to a GPU.
    dataloader_cfg = ConfigDict(
        pin_memory=torch.cuda.is_available(),
        collate_fn=dict(type='default_collate'))
    dataloader_cfg.update(cfg.test_dataloader)
    cfg.test_dataloader = dataloader_cfg
    if args.no_pin_memory:
        cfg.test_dataloader.pin_memory = False

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    from ferpretrain.engine import use_compile_hook
    try:
        use_compile_hook(cfg, args.compile)
    except TypeError as error:
        raise ConfigError(f'compile: {error}') from None
    return drop_persistent_workers_without_workers(cfg)


def main(argv=None):
    args = parse_args(argv)
    _, malloc_msg = tune_malloc()

    cfg = Config.fromfile(args.config)
    if args.test_data:
        use_test_data(cfg, args.test_data, args.test_data_pipeline)
    cfg = merge_args(cfg, args)

    if args.trust_checkpoint:
        real = trust_checkpoint(cfg.load_from)
        print_log(
            f'--trust-checkpoint: {real} will be loaded with '
            'weights_only=False (any code stored in it will run).',
            logger='current',
            level=logging.WARNING)

    # Before anything runs: a run must not end in an unwritable place.
    check_writable(cfg.work_dir, '--work-dir')
    if args.out:
        check_writable(args.out, '--out', folder=False)
    if args.show_dir:
        check_writable(args.show_dir, '--show-dir')

    model_classes = None if args.no_class_matching else \
        resolve_model_classes(args, cfg)
    if model_classes:
        enable_class_matching(cfg, model_classes, args.class_map)
    elif (args.test_data or args.class_map) and not args.no_class_matching:
        raise ConfigError(
            f'{args.checkpoint} carries no class names '
            '(meta.dataset_meta.classes), so the classes of the model cannot '
            'be matched with the test set by name; give them with '
            '--model-classes (e.g. --model-classes FER2013).')

    # Before the Runner: it initialises torch.distributed in its __init__.
    setup_cpu_distributed(cfg, cfg.launcher)

    if 'runner_type' not in cfg:
        runner = KeepExistingConfigRunner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)

    # The checkpoint must be this model's (see the module docstring).
    runner.checkpoint_loading = ('partial'
                                 if args.allow_partial_load else 'strict')

    if args.out and args.out_item in ('pred', None):
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))

    runner.logger.info(f'Logs of this run: {osp.abspath(runner.log_dir)}')
    runner.logger.info(f'Memory allocator: {malloc_msg}')
    metrics = runner.test()

    # Every rank holds the metrics; one writer is enough.
    if args.out and args.out_item == 'metrics' and is_main_process():
        classes = runner.test_dataloader.dataset.metainfo.get('classes')
        mmengine.dump(to_serializable(metrics, classes), args.out)
    if args.out:
        runner.logger.info(
            f'{args.out_item or "pred"} written to {osp.abspath(args.out)}')
    if args.show_dir:
        runner.logger.info('Visualizations written to '
                           f'{osp.abspath(args.show_dir)}')


if __name__ == '__main__':
    run_tool(main)
