"""What a config tells the inferencer: the test pipeline, the input size,
the class names and the face alignment geometry. The data of the config's
datasets need not be on disk."""
import copy
from typing import List, Optional, Sequence, Tuple

import numpy as np
from mmengine.config import Config
from mmengine.registry import DefaultScope

from ferpretrain.utils.errors import ConfigError

__all__ = [
    'ALIGNMENT_KEYS', 'alignment_geometry', 'config_classes',
    'config_input_size', 'test_pipeline_cfg'
]

#: Keys of the optional ``face_alignment`` config entry (see
#: :class:`~ferpretrain.apis.FERInferencer`).
ALIGNMENT_KEYS = ('face_scale', 'eye_line', 'size')

# Transforms whose output size is the model's input size (last one wins).
_SIZE_KEYS = {'Resize': 'scale', 'CenterCrop': 'crop_size'}


def _test_dataset_cfg(cfg: Config) -> dict:
    loader = cfg.get('test_dataloader') or {}
    dataset = loader.get('dataset')
    if not dataset:
        raise ConfigError('the config has no test_dataloader.dataset, whose '
                          'pipeline prepares faces for the model')
    return dataset


def test_pipeline_cfg(cfg: Config) -> List[dict]:
    """The config's test pipeline (the innermost dataset that has one,
    e.g. :class:`NeutralPairDataset`'s own for pair models)."""
    dataset = _test_dataset_cfg(cfg)
    while 'pipeline' not in dataset and isinstance(dataset.get('dataset'),
                                                   dict):
        dataset = dataset['dataset']
    if not dataset.get('pipeline'):
        raise ConfigError('the config\'s test_dataloader.dataset has no '
                          'pipeline to prepare the faces with')
    return [dict(t) for t in dataset['pipeline']]


def config_input_size(pipeline: Sequence[dict]) -> Optional[int]:
    """The side of the square the test pipeline gives the model: the last
    ``Resize`` (``scale``) or ``CenterCrop`` (``crop_size``), or None.

    Raises:
        ConfigError: That size is not square.
    """
    size = None
    for step in pipeline:
        key = _SIZE_KEYS.get(step.get('type'))
        if key and step.get(key) is not None:
            size = step[key]
    if size is None:
        return None
    if isinstance(size, (int, np.integer)):
        return int(size)
    width, height = (int(v) for v in size)
    if width != height:
        raise ConfigError(
            f'the test pipeline gives the model {width}x{height} (WxH) '
            'images; aligned faces are square: pass align_size= (or '
            'face_alignment=dict(size=...) in the config)')
    return width


class _DeclaredClasses:
    """Stands in for a dataset whose files are not here: just its
    declared ``metainfo`` (what the wrappers read)."""

    def __init__(self, classes):
        self.metainfo = dict(classes=tuple(classes) if classes else ())


def _lazy_dataset(node: dict):
    """The dataset of ``node`` built without reading its annotations
    (``lazy_init``), so that its own rules give its classes (AffectNet's
    ``num_classes``, CK+'s ``with_neutral``, the pairs' neutral class).
    A dataset whose folder is missing (FERFolder checks it at once) stands
    in with the classes its config or class declares."""
    from mmpretrain.registry import DATASETS
    node = copy.deepcopy(dict(node))
    inner = node.get('dataset')
    if isinstance(inner, dict):
        node['dataset'] = _lazy_dataset(inner)
    node['lazy_init'] = True
    try:
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            return DATASETS.build(node)
    except Exception:  # noqa: BLE001 - the data need not be here
        if isinstance(inner, dict):
            # mmengine's wrappers refuse a stand-in; they keep the classes
            # of what they wrap.
            return _DeclaredClasses(node['dataset'].metainfo.get('classes'))
        declared = node.get('classes') or (node.get('metainfo')
                                           or {}).get('classes')
        if not declared:
            with DefaultScope.overwrite_default_scope('mmpretrain'):
                dataset_cls = DATASETS.get(node.get('type'))
            declared = getattr(dataset_cls, 'METAINFO', {}).get('classes')
        return _DeclaredClasses(declared)


def config_classes(cfg: Config) -> Optional[Tuple[str, ...]]:
    """The class names of the config's test dataset, in label order, or
    None when it declares none (its data need not exist)."""
    try:
        dataset = _lazy_dataset(_test_dataset_cfg(cfg))
    except ConfigError:
        return None
    classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
    return tuple(str(c) for c in classes) if classes else None


def alignment_geometry(declared: Optional[dict], where: str) -> dict:
    """``declared`` (a ``face_alignment`` dict, or None) checked: only
    :data:`ALIGNMENT_KEYS`; ``where`` names it in the error."""
    if declared is None:
        return {}
    if not isinstance(declared, dict):
        raise ConfigError(f'{where} must be a dict with keys '
                          f'{ALIGNMENT_KEYS}, got {declared!r}')
    unknown = sorted(set(declared) - set(ALIGNMENT_KEYS))
    if unknown:
        raise ConfigError(f'{where}: unknown keys {unknown}; the keys are '
                          f'{ALIGNMENT_KEYS} (see FaceAligner)')
    return dict(declared)
