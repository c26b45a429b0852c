"""A test config rewritten for cross-dataset evaluation.

What ``tools/test.py`` does with ``--test-data``, ``--model-classes``,
``--class-map`` and ``--no-class-matching``, as functions on a loaded
config (see :mod:`ferpretrain.evaluation.cross_dataset` for how classes are
matched by name):

* :func:`use_test_data` takes the test data (and evaluator) from a dataset
  config, keeping the model config's test pipeline;
* :func:`read_model_classes` finds the class names of the model head
  (given by name or by dataset type, else the checkpoint's
  ``meta.dataset_meta.classes``);
* :func:`enable_class_matching` wraps the test set in
  ``ClassSubsetDataset`` and the metrics in ``CrossDatasetEvaluator``;
* :func:`use_class_matching` does the last two, and refuses a
  cross-dataset test whose model classes are unknown;
* :func:`add_cross_dataset_arguments` and :func:`check_cross_dataset_args`
  give a tool those flags; :func:`parse_class_map` reads ``TEST=MODEL``
  pairs.
"""
import argparse
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config, ConfigDict

from ferpretrain.utils.errors import ConfigError

__all__ = [
    'use_test_data', 'read_model_classes', 'enable_class_matching',
    'use_class_matching', 'parse_class_map', 'add_cross_dataset_arguments',
    'check_cross_dataset_args'
]


def _innermost_dataset(dataset_cfg):
    """The dataset inside wrappers (ClassBalancedDataset, ...)."""
    while 'dataset' in dataset_cfg:
        dataset_cfg = dataset_cfg['dataset']
    return dataset_cfg


def use_test_data(cfg, path: str, data_pipeline: bool = False) -> None:
    """Replace the test data (and evaluator) of ``cfg`` by those of the
    dataset config ``path``.

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


def read_model_classes(names: Optional[str],
                       checkpoint: str,
                       default_scope: str = 'mmpretrain'
                       ) -> Optional[List[str]]:
    """The class names of the model head, in head order.

    Args:
        names (str, optional): ``--model-classes``: comma-separated names,
            or one dataset type whose ``METAINFO`` classes the model was
            trained on (looked up in ``default_scope``).
        checkpoint (str): Read for ``meta.dataset_meta.classes`` when
            ``names`` is not given.
        default_scope (str): The config's scope.

    Returns:
        list[str] or None: None when neither gives class names.
    """
    if names:
        listed = [n.strip() for n in names.split(',')]
        if len(listed) > 1:
            return listed
        from mmengine.registry import DATASETS
        # The scope's own registry: mmengine's root one does not look into
        # mmpretrain's, where the dataset types are.
        with DATASETS.switch_scope_and_registry(default_scope) as registry:
            dataset_cls = registry.get(listed[0])
        classes = getattr(dataset_cls, 'METAINFO', {}).get('classes')
        if not classes:
            raise ConfigError(
                f'--model-classes {names}: not a dataset '
                'type with METAINFO classes; give the class names '
                'comma-separated, in the order of the model head.')
        return list(classes)
    from mmengine.runner.checkpoint import CheckpointLoader
    loaded = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    meta = loaded.get('meta') if isinstance(loaded, dict) else None
    classes = ((meta or {}).get('dataset_meta') or {}).get('classes')
    return list(classes) if classes else None


def enable_class_matching(cfg, model_classes: Sequence[str],
                          class_map: Dict[str, str]) -> None:
    """Wrap the test set (``ClassSubsetDataset``) and the evaluator
    (``CrossDatasetEvaluator``) of ``cfg`` so that classes match by name."""
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


def use_class_matching(cfg,
                       checkpoint: str,
                       names: Optional[str] = None,
                       class_map: Optional[Dict[str, str]] = None,
                       required: bool = False) -> Optional[List[str]]:
    """Match the test classes with the model's by name when the model's
    classes are known (:func:`read_model_classes`); return them.

    Raises:
        ConfigError: They are unknown, and the test needs them: ``required``
            (another dataset's test data) or a ``class_map`` to apply.
    """
    class_map = class_map or {}
    model_classes = read_model_classes(names, checkpoint,
                                       cfg.get('default_scope', 'mmpretrain'))
    if model_classes:
        enable_class_matching(cfg, model_classes, class_map)
    elif required or class_map:
        raise ConfigError(
            f'{checkpoint} carries no class names '
            '(meta.dataset_meta.classes), so the classes of the model cannot '
            'be matched with the test set by name; give them with '
            '--model-classes (e.g. --model-classes FER2013).')
    return model_classes


def parse_class_map(pairs: Optional[Sequence[str]]) -> Dict[str, str]:
    """``['contempt=disgust', ...]`` (``--class-map``) as ``{test class:
    model class}``.

    Raises:
        ValueError: A pair is not ``TEST=MODEL``.
    """
    class_map = {}
    for pair in pairs or ():
        test_name, sep, model_name = pair.partition('=')
        if not sep or not test_name or not model_name:
            raise ValueError(f'--class-map: {pair!r} is not TEST=MODEL (e.g. '
                             'contempt=disgust).')
        class_map[test_name] = model_name
    return class_map


def add_cross_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the flags of cross-dataset testing: ``--test-data``,
    ``--test-data-pipeline``, ``--model-classes``, ``--class-map`` and
    ``--no-class-matching``."""
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


def check_cross_dataset_args(parser: argparse.ArgumentParser,
                             args: argparse.Namespace) -> None:
    """Stop (``parser.error``, exit 2) on contradicting flags or a bad
    ``--class-map`` pair; turn ``args.class_map`` into ``{test class: model
    class}``."""
    if args.no_class_matching and (args.model_classes or args.class_map):
        parser.error('--no-class-matching contradicts --model-classes and '
                     '--class-map.')
    try:
        args.class_map = parse_class_map(args.class_map)
    except ValueError as error:
        parser.error(str(error))
