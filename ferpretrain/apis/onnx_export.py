"""Export a ferpretrain model to ONNX, with its preprocessing as metadata.

:func:`export_onnx` builds the model of a config, loads a checkpoint
strictly, and writes the network from *normalised input to class logits*
(``model(inputs, mode='tensor')``) as an ONNX graph with a dynamic batch
axis. What the graph does not hold, it writes into the file's metadata
(:class:`~ferpretrain.apis.onnx_backend.OnnxModelInfo`), read from the
config rather than assumed:

* the test pipeline (``test_dataloader.dataset.pipeline``, through dataset
  wrappers such as ``ClassBalancedDataset`` and ``NeutralPairDataset``):
  the input size and resize method of its ``Resize``; ``LoadFERImage`` /
  ``LoadImageFromFile`` give BGR; ``CropFaceBox`` (AffectNet's annotated
  face box in a whole picture) is left out with a note, since the exported
  model is given face crops; ``PackInputs`` only lays the image out. Any
  other step is refused, naming the config and the step: an exported model
  that silently sees other pixels than in PyTorch is worse than none;
* the data preprocessor the model was built with: mean, std and
  ``to_rgb`` (the channel order the network sees: the images are loaded
  BGR, and POSTER's RAF-DB config keeps them BGR on purpose);
* the class names: the checkpoint's ``meta.dataset_meta.classes`` (what
  training and the converters write), else the config's test dataset
  (built without reading data where the dataset allows it, else its
  ``classes``/``METAINFO``), and they must be as many as the logits; never
  guessed.

Exporter: the TorchScript-based one (``torch.onnx.export(...,
dynamo=False)``). It exports every family of the project (APViT's top-k
token gathering, POSTER's landmark branch, the pair models) without a
change to the model code, and needs nothing besides torch and onnx; the
``torch.export``-based exporter would add onnxscript.

:func:`verify_onnx` compares onnxruntime on faces prepared by
:class:`~ferpretrain.apis.onnx_backend.ONNXFERModel` with the PyTorch model
on the same faces through the config's own test pipeline and data
preprocessor, so the check covers the metadata too.
"""
import copy
import io
import os
import os.path as osp
import time
import warnings
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import DefaultScope

from ferpretrain.analysis.inspection import without_pretrained_init
from ferpretrain.utils.errors import ConfigError, FERPretrainError
from ferpretrain.utils.load_check import load_strictly
from ferpretrain.version import __version__
from .onnx_backend import (DEPLOY_INSTALL_HINT, INTERPOLATIONS,
                           ONNXFERModel, OnnxModelInfo, set_model_info,
                           softmax)

__all__ = [
    'DeployDependencyError', 'OnnxExport', 'VerifyResult', 'demo_faces',
    'export_model', 'export_onnx', 'load_export_config',
    'build_export_model', 'model_info_from_config',
    'preprocess_from_config', 'classes_from_config', 'require_deploy',
    'torch_inputs', 'torch_reference', 'verify_onnx'
]

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: The graph's input and output names.
INPUT_NAME, OUTPUT_NAME = 'input', 'logits'
DEFAULT_OPSET = 17

_LOADERS = ('LoadFERImage', 'LoadImageFromFile')


class DeployDependencyError(FERPretrainError, ImportError):
    """onnx or onnxruntime is missing; the message says how to install
    them."""


def require_deploy(*packages: str) -> None:
    """Raise :class:`DeployDependencyError` unless every one of
    ``packages`` (``'onnx'``, ``'onnxruntime'``) imports."""
    import importlib
    missing = []
    for name in packages:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise DeployDependencyError(
            f'{" and ".join(missing)} {"is" if len(missing) == 1 else "are"}'
            f' not installed; ONNX export and inference need the optional '
            f'deployment packages: {DEPLOY_INSTALL_HINT}')


# ---------------------------------------------------------------------------
# Config and model
# ---------------------------------------------------------------------------
def _config_path(config: str) -> str:
    if osp.isfile(config):
        return config
    in_repo = osp.join(REPO_ROOT, config)
    if osp.isfile(in_repo):
        return in_repo
    raise ConfigError(f'Config {config!r} not found (also looked in '
                      f'{REPO_ROOT}).')


def _config_name(config: Union[str, Config]) -> str:
    """The config as messages and the metadata name it: relative to the
    repository when it lives there."""
    path = config.filename if isinstance(config, Config) else config
    if not path:
        return '<config>'
    real = osp.realpath(path)
    if real.startswith(REPO_ROOT + os.sep):
        return osp.relpath(real, REPO_ROOT)
    return path


def load_export_config(config: Union[str, Config],
                       cfg_options: Optional[Dict[str, Any]] = None
                       ) -> Config:
    """The config (a path, also relative to the repository root, or a
    ``Config``, copied), with ``cfg_options`` merged.

    Raises:
        ConfigError: The file is missing or cannot be read.
    """
    if isinstance(config, Config):
        cfg = copy.deepcopy(config)
    else:
        path = _config_path(config)
        try:
            cfg = Config.fromfile(path)
        except Exception as error:  # noqa: BLE001 - any parse failure
            raise ConfigError(
                f'{config}: cannot read the config ({type(error).__name__}: '
                f'{error}).') from None
    if cfg_options:
        cfg.merge_from_dict(dict(cfg_options))
    if 'model' not in cfg:
        raise ConfigError(f'{_config_name(cfg)}: the config defines no '
                          'model.')
    return cfg


def _build_model(cfg: Config) -> nn.Module:
    from ferpretrain.registry import MODELS
    model_cfg = without_pretrained_init(copy.deepcopy(cfg.model))
    if model_cfg.get('data_preprocessor') is None:
        # Where the Runner and mmpretrain's get_model take it from.
        model_cfg['data_preprocessor'] = cfg.get('data_preprocessor')
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', 'mmpretrain')):
        return MODELS.build(model_cfg)


def build_export_model(cfg: Config,
                       checkpoint: str,
                       trust_checkpoint: Optional[bool] = None
                       ) -> Tuple[nn.Module, dict]:
    """The config's model in eval mode with ``checkpoint`` loaded strictly.

    ``init_weights()`` is not called and ``Pretrained`` init_cfgs are
    removed: the checkpoint must set every tensor (checked), so the
    pretrained files a config names for training need not be there.

    Returns:
        tuple: ``(model, meta)``, ``meta`` the checkpoint's ``meta`` dict
        (empty if it has none).

    Raises:
        CheckpointError: The file is missing, unreadable or no checkpoint.
        CheckpointMismatchError: It does not hold exactly the model's
            tensors.
        UntrustedCheckpointError: It carries Python objects beyond the safe
            allow-list and is not trusted.
    """
    model = _build_model(cfg)
    meta = load_strictly(model, checkpoint,
                         f'the model of {_config_name(cfg)}',
                         trust=trust_checkpoint, action='exported')
    return model.eval(), meta


# ---------------------------------------------------------------------------
# Metadata from the config
# ---------------------------------------------------------------------------
def _type_name(step) -> str:
    kind = step.get('type') if isinstance(step, dict) else type(step)
    return getattr(kind, '__name__', str(kind))


def _test_dataset_cfg(cfg: Config, where: str):
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader')
    if not loader or 'dataset' not in loader:
        raise ConfigError(
            f'{where}: the config has no test_dataloader.dataset, so its '
            'test pipeline (input size, resize) is unknown.')
    return loader['dataset']


def _test_pipeline(cfg: Config, where: str) -> list:
    """The test pipeline, through dataset wrappers (the innermost
    ``pipeline``: ``NeutralPairDataset`` holds it itself, the resampling
    wrappers leave it to the dataset they wrap)."""
    dataset = _test_dataset_cfg(cfg, where)
    while 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset['dataset']
    pipeline = dataset.get('pipeline')
    if not pipeline:
        raise ConfigError(f'{where}: test_dataloader.dataset has no '
                          'pipeline to read the preprocessing from.')
    return list(pipeline)


def _refuse(where: str, step, why: str) -> ConfigError:
    return ConfigError(
        f'{where}: the test pipeline step {_type_name(step)} '
        f'({dict(step) if isinstance(step, dict) else step}) cannot be '
        f'written into the ONNX metadata: {why}. An exported model that '
        'sees other pixels than the PyTorch one would give other results, '
        'so nothing was exported. Supported steps: LoadFERImage / '
        'LoadImageFromFile, CropFaceBox (left out), one Resize to a fixed '
        'size (cv2 backend), PackInputs; change the test pipeline with '
        '--cfg-options if it can do without this step.')


def _read_resize(step, where: str) -> Tuple[Tuple[int, int], str]:
    if step.get('scale_factor') is not None or step.get('scale') is None:
        raise _refuse(where, step, 'only a fixed `scale` is supported, not '
                      'a scale_factor')
    if step.get('keep_ratio', False):
        raise _refuse(where, step, 'keep_ratio=True gives an input size '
                      'that depends on the image')
    if step.get('backend', 'cv2') != 'cv2':
        raise _refuse(where, step, 'only the cv2 backend is reproduced '
                      '(the pillow backend resizes differently)')
    interpolation = step.get('interpolation', 'bilinear')
    if interpolation not in INTERPOLATIONS:
        raise _refuse(where, step, f'interpolation {interpolation!r} is '
                      f'not one of {sorted(INTERPOLATIONS)}')
    scale = step['scale']
    if isinstance(scale, int):
        scale = (scale, scale)
    scale = tuple(scale)
    if len(scale) != 2 or not all(isinstance(v, int) and v > 0
                                  for v in scale):
        raise _refuse(where, step, 'scale must be an int or (w, h)')
    width, height = scale  # mmcv's scale is (w, h)
    return (height, width), interpolation


def _shortest(value: float) -> float:
    """The shortest decimal that gives the same float32: 123.675, not
    123.67500305 (the preprocessor keeps float32 buffers)."""
    return float(np.format_float_positional(
        np.float32(value), unique=True, trim='-'))


def preprocess_from_config(cfg: Config,
                           model: nn.Module,
                           where: Optional[str] = None) -> Dict[str, Any]:
    """The preprocessing fields of :class:`OnnxModelInfo` (``input_size``,
    ``interpolation``, ``mean``, ``std``, ``channel_order``,
    ``faces_per_input``, ``notes``) from the config's test pipeline and the
    model's data preprocessor.

    Raises:
        ConfigError: A step or setting that the metadata cannot express
            (the message names the config and the step).
    """
    from mmpretrain.models.utils import ClsDataPreprocessor
    where = where or _config_name(cfg)
    size, interpolation, notes = None, 'bilinear', []
    steps = _test_pipeline(cfg, where)
    for index, step in enumerate(steps):
        kind = _type_name(step)
        if not isinstance(step, dict):
            raise _refuse(where, step, 'a transform object, not a config '
                          'dict, cannot be read')
        if kind in _LOADERS:
            if step.get('to_float32', False):
                raise _refuse(where, step, 'to_float32=True resizes float '
                              'pixels, the exported preprocessing uint8 '
                              'ones')
            if step.get('color_type', 'color') != 'color' or step.get(
                    'channel_order', 'bgr') != 'bgr':
                raise _refuse(where, step, 'only 3-channel BGR loading is '
                              'reproduced')
        elif kind == 'CropFaceBox':
            notes.append(
                'CropFaceBox of the test pipeline left out: it crops the '
                "annotated face box of a whole picture (AffectNet's); the "
                'ONNX model is given face crops.')
        elif kind == 'Resize':
            if size is not None:
                raise _refuse(where, step, 'a second Resize (one resize '
                              'to the input size is reproduced)')
            size, interpolation = _read_resize(step, where)
        elif kind == 'PackInputs':
            if index != len(steps) - 1:
                raise _refuse(where, steps[index + 1],
                              'steps after PackInputs are not reproduced')
        else:
            raise _refuse(where, step, 'the exported preprocessing only '
                          'resizes and normalises')
    if size is None:
        raise ConfigError(
            f'{where}: the test pipeline has no Resize, so the network\'s '
            'input size is unknown; add dict(type=\'Resize\', scale=(S, S)) '
            'before PackInputs. Nothing was exported.')

    preprocessor = model.data_preprocessor
    if not isinstance(preprocessor, ClsDataPreprocessor):
        raise ConfigError(
            f'{where}: the model\'s data preprocessor is a '
            f'{type(preprocessor).__name__}; the export reads mean, std and '
            'to_rgb from mmpretrain\'s ClsDataPreprocessor (or a subclass '
            'such as PairDataPreprocessor) only.')
    if preprocessor._enable_normalize:
        mean = preprocessor.mean.flatten().tolist()
        std = preprocessor.std.flatten().tolist()
    else:
        mean, std = [0.] * 3, [1.] * 3
    if len(mean) == 1:  # one value for every channel
        mean, std = mean * 3, std * 3
    divisor = preprocessor.pad_size_divisor
    if divisor > 1 and (size[0] % divisor or size[1] % divisor):
        raise ConfigError(
            f'{where}: the data preprocessor pads to a multiple of '
            f'{divisor}, which the input size {size} is not; padding is not '
            'reproduced. Resize to a multiple of it.')
    return dict(
        input_size=size,
        interpolation=interpolation,
        mean=[_shortest(v) for v in mean],
        std=[_shortest(v) for v in std],
        channel_order='rgb' if preprocessor.to_rgb else 'bgr',
        faces_per_input=int(getattr(model, 'faces_per_input', 1)),
        notes=notes)


class _MetaOnly:
    """A stand-in dataset: only ``metainfo`` (to build a wrapper such as
    ``NeutralPairDataset`` with ``lazy_init`` when the data are absent)."""

    def __init__(self, classes):
        self.metainfo = dict(classes=tuple(classes))


def _lazy(dataset_cfg):
    """``dataset_cfg`` with ``lazy_init=True`` at every level."""
    node = copy.deepcopy(dataset_cfg)
    top = node
    while isinstance(node, dict):
        node['lazy_init'] = True
        node = node.get('dataset')
    return top


def _declared_classes(dataset_cfg, registry) -> Optional[Tuple[str, ...]]:
    """The classes a dataset config names, without reading data: its own
    ``classes`` / ``metainfo['classes']``, else its type's ``METAINFO``;
    through wrappers (``NeutralPairDataset`` drops the neutral class)."""
    if not isinstance(dataset_cfg, dict):
        return None
    if 'dataset' in dataset_cfg:
        inner = _declared_classes(dataset_cfg['dataset'], registry)
        if inner and _type_name(dataset_cfg) == 'NeutralPairDataset':
            wrapper = registry.build(
                dict(dataset_cfg, dataset=_MetaOnly(inner), lazy_init=True))
            return tuple(wrapper.metainfo['classes'])
        return inner
    given = dataset_cfg.get('classes') or (dataset_cfg.get('metainfo')
                                           or {}).get('classes')
    if given:
        return tuple(str(c) for c in given)
    dataset_cls = registry.get(_type_name(dataset_cfg))
    classes = getattr(dataset_cls, 'METAINFO', {}).get('classes')
    return tuple(classes) if classes else None


def classes_from_config(cfg: Config) -> Tuple[Optional[Tuple[str, ...]],
                                               str]:
    """The class names of the config's test dataset, and how they were
    found.

    The dataset is built with ``lazy_init=True`` (no annotation read) when
    it can be; datasets that look at their folders when built (FERFolder,
    SFEW, CAER-S) need their data, so without them the classes declared in
    the config (or the type's ``METAINFO``) are taken.
    """
    from mmpretrain.registry import DATASETS
    dataset_cfg = _test_dataset_cfg(cfg, _config_name(cfg))
    with DATASETS.switch_scope_and_registry(
            cfg.get('default_scope', 'mmpretrain')) as registry:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                dataset = registry.build(_lazy(dataset_cfg))
            classes = (dataset.metainfo or {}).get('classes')
            if classes:
                return tuple(str(c) for c in classes), \
                    'the config\'s test dataset'
        except Exception:  # noqa: BLE001 - data absent: declared classes
            pass
        classes = _declared_classes(dataset_cfg, registry)
    return classes, 'the classes the config\'s test dataset declares'


def _model_name(cfg: Config) -> str:
    """The model-zoo name of the config (its folder's metafile.yml), else
    the config's name without extension."""
    path = cfg.filename or ''
    stem = osp.splitext(_config_name(cfg))[0]
    if stem.startswith('configs' + os.sep):
        stem = stem[len('configs' + os.sep):]  # e.g. apvit/fer2013_cpu
    else:
        stem = osp.basename(stem)
    metafile = osp.join(osp.dirname(path), 'metafile.yml')
    if path and osp.isfile(metafile):
        import yaml
        try:
            with open(metafile, encoding='utf-8') as f:
                models = (yaml.safe_load(f) or {}).get('Models') or []
        except (OSError, yaml.YAMLError):
            models = []
        for entry in models:
            named = entry.get('Config') or ''
            if named and osp.realpath(osp.join(REPO_ROOT, named)) == \
                    osp.realpath(path):
                return str(entry.get('Name') or stem)
    return stem


def _num_logits(model: nn.Module, info_fields: Dict[str, Any]) -> int:
    """The number of logits, from one forward pass."""
    pair = (2, ) if info_fields['faces_per_input'] == 2 else ()
    shape = (1, ) + pair + (3, ) + tuple(info_fields['input_size'])
    with torch.no_grad():
        out = model(torch.zeros(shape), mode='tensor')
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        raise ConfigError(
            'the model does not give (batch, classes) logits in '
            f"mode='tensor' (got {_describe(out)}): only classifiers with a "
            'head can be exported.')
    return int(out.shape[1])


def _describe(out) -> str:
    if isinstance(out, torch.Tensor):
        return f'a tensor of shape {tuple(out.shape)}'
    if isinstance(out, (tuple, list)):
        return f'{len(out)} tensors'
    return type(out).__name__


def model_info_from_config(cfg: Config,
                           model: nn.Module,
                           meta: Optional[dict] = None,
                           classes: Optional[Sequence[str]] = None,
                           checkpoint: str = '',
                           opset: int = DEFAULT_OPSET) -> OnnxModelInfo:
    """The :class:`OnnxModelInfo` of ``model`` built from ``cfg``.

    Classes: ``classes`` if given, else the checkpoint's
    ``meta['dataset_meta']['classes']``, else :func:`classes_from_config`;
    they must be as many as the model's logits.

    Raises:
        ConfigError: The preprocessing cannot be expressed, or the classes
            are unknown or do not match the logits.
    """
    where = _config_name(cfg)
    fields = preprocess_from_config(cfg, model, where)
    num_logits = _num_logits(model, fields)
    if classes:
        found, source = tuple(classes), 'the classes given'
    elif ((meta or {}).get('dataset_meta') or {}).get('classes'):
        found = tuple(meta['dataset_meta']['classes'])
        source = 'the checkpoint\'s meta.dataset_meta.classes'
    else:
        found, source = classes_from_config(cfg)
    if not found:
        raise ConfigError(
            f'{where}: the class names are unknown: the checkpoint has no '
            'meta.dataset_meta.classes and the config\'s test dataset names '
            'none. Give them (--classes NAME,NAME,...; in head order).')
    if len(found) != num_logits:
        raise ConfigError(
            f'{where}: {source} are {len(found)} ({", ".join(found)}), but '
            f'the model gives {num_logits} logits. Give the classes in head '
            'order (--classes NAME,NAME,...), or use the config the '
            'checkpoint was trained with.')
    fields['notes'] = list(fields['notes']) + [f'classes from {source}']
    return OnnxModelInfo(
        classes=tuple(str(c) for c in found),
        model_name=_model_name(cfg),
        config=where,
        checkpoint=osp.basename(checkpoint) if checkpoint else '',
        ferpretrain_version=__version__,
        opset=opset,
        **fields).validate(where)


# ---------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------
class _Logits(nn.Module):
    """``model(inputs, mode='tensor')`` as a plain module (what the tracer
    calls)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model(inputs, mode='tensor')


def export_model(model: nn.Module,
                 info: OnnxModelInfo,
                 out: str,
                 opset: int = DEFAULT_OPSET) -> float:
    """Write ``model`` (eval mode, weights loaded) to ``out`` with ``info``
    as metadata; return the seconds it took.

    The graph: input ``'input'`` of shape ``info.input_shape`` (float32,
    normalised), output ``'logits'`` ``(batch, classes)``; the batch axis
    is dynamic (traced at batch 1).
    """
    require_deploy('onnx')
    import onnx
    info.opset = opset
    info.validate(out)
    model = model.eval()
    shape = (1, ) + tuple(info.input_shape[1:])
    # A random input rather than zeros: data-dependent choices (APViT's
    # top-k) then trace on distinct values.
    generator = torch.Generator().manual_seed(0)
    dummy = torch.randn(shape, generator=generator)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    tmp = f'{out}.part'
    start = time.perf_counter()
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # The tracer warns at every shape check of the model code (they
            # hold for the fixed input size) and about the legacy exporter;
            # the batch axis is verified numerically instead
            # (verify_onnx, tests/test_deployment).
            warnings.simplefilter('ignore')
            # The exporter puts the module back in the mode it had: an
            # eval-mode wrapper, or the model would leave in training mode.
            torch.onnx.export(
                _Logits(model).eval(), (dummy, ),
                buffer,
                dynamo=False,
                opset_version=opset,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={
                    INPUT_NAME: {0: 'batch'},
                    OUTPUT_NAME: {0: 'batch'}
                },
                do_constant_folding=True)
        # In memory: one write of the file, metadata included.
        proto = onnx.load_model_from_string(buffer.getvalue())
        del buffer
        onnx.checker.check_model(proto)
        set_model_info(proto, info)
        onnx.save(proto, tmp)
        os.replace(tmp, out)
    finally:
        model.eval()
        if osp.exists(tmp):
            os.remove(tmp)
    return time.perf_counter() - start


@dataclass
class OnnxExport:
    """What :func:`export_onnx` did.

    Attributes:
        path (str): The ONNX file.
        info (OnnxModelInfo): Its metadata.
        seconds (float): Export time (tracing and writing).
        model (nn.Module): The PyTorch model it came from (eval mode).
        cfg (Config): Its config.
    """
    path: str
    info: OnnxModelInfo
    seconds: float
    model: nn.Module
    cfg: Config


def export_onnx(config: Union[str, Config],
                checkpoint: str,
                out: str,
                opset: int = DEFAULT_OPSET,
                cfg_options: Optional[Dict[str, Any]] = None,
                classes: Optional[Sequence[str]] = None,
                trust_checkpoint: Optional[bool] = None) -> OnnxExport:
    """Export the model of ``config`` with the weights of ``checkpoint`` to
    the ONNX file ``out`` (see the module docstring).

    Args:
        config (str | Config): The model's config.
        checkpoint (str): Its checkpoint; must hold exactly the model's
            tensors.
        out (str): The ``.onnx`` file to write (replaced atomically).
        opset (int): The ONNX opset. Defaults to 17.
        cfg_options (dict, optional): Overrides, as ``--cfg-options``.
        classes (Sequence[str], optional): Class names in head order, when
            neither the checkpoint nor the config gives them.
        trust_checkpoint (bool, optional): As
            :func:`~ferpretrain.utils.checkpoint.load_checkpoint_file`.

    Returns:
        OnnxExport: The file, its metadata, the time, and the model.
    """
    require_deploy('onnx')
    cfg = load_export_config(config, cfg_options)
    model, meta = build_export_model(cfg, checkpoint, trust_checkpoint)
    info = model_info_from_config(cfg, model, meta, classes, checkpoint,
                                  opset)
    seconds = export_model(model, info, out, opset)
    return OnnxExport(out, info, seconds, model, cfg)


# ---------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------
def demo_faces(num: int = 8,
               pairs: bool = False,
               seed: int = 0) -> List:
    """Real-looking test faces: the project's synthetic faces
    (:func:`~ferpretrain.datasets.draw_face`), BGR uint8, of several sizes
    (some not square), so that the resize is exercised. ``pairs``: the same
    person's neutral face and an expression, ``(neutral, target)``."""
    from ferpretrain.datasets import EXPRESSIONS, draw_face, sample_identity
    rng = np.random.default_rng(seed)
    faces = []
    for i in range(num):
        size = int(rng.integers(72, 200))
        expression = EXPRESSIONS[i % len(EXPRESSIONS)]
        if pairs:
            person = sample_identity(rng)
            faces.append((draw_face('Neutral', rng, size, person),
                          draw_face(expression, rng, size, person)))
        else:
            face = draw_face(expression, rng, size)
            # Every other face a little taller than wide, as detector crops.
            faces.append(face if i % 2 == 0 else np.ascontiguousarray(
                face[:, size // 16:size - size // 16]))
    return faces


def torch_inputs(model: nn.Module, cfg: Config,
                 faces: Sequence) -> torch.Tensor:
    """``faces`` as the PyTorch model gets them: the config's own test
    pipeline, then the model's data preprocessor, as ``tools/test.py``
    prepares them (the loading step takes the arrays from memory)."""
    from mmengine.dataset import Compose
    from mmpretrain.registry import TRANSFORMS
    steps = [
        dict(type='LoadFERImage') if _type_name(s) in _LOADERS else s
        for s in _test_pipeline(cfg, _config_name(cfg))
    ]
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        pipeline = Compose([TRANSFORMS.build(copy.deepcopy(s))
                            for s in steps])

    def packed(face):
        return pipeline(dict(img=face))['inputs']

    pairs = getattr(model, 'faces_per_input', 1) == 2
    inputs = [
        torch.stack([packed(f) for f in face]) if pairs else packed(face)
        for face in faces
    ]
    with torch.no_grad():
        return model.data_preprocessor(dict(inputs=inputs), False)['inputs']


def torch_reference(model: nn.Module, cfg: Config,
                    faces: Sequence) -> np.ndarray:
    """Logits of ``model`` for ``faces`` prepared by :func:`torch_inputs`,
    ``(N, C)``."""
    with torch.no_grad():
        return model(torch_inputs(model, cfg, faces), mode='tensor').numpy()


@dataclass
class VerifyResult:
    """ONNX Runtime against PyTorch on the same faces.

    Attributes:
        num_faces (int): Faces (or pairs) compared, all in one batch.
        max_logit_diff (float): Largest ``|logit difference|``.
        max_prob_diff (float): Largest ``|probability difference|``.
        labels_agree (int): Faces whose top-1 class is the same.
        near_ties (int): Disagreeing faces whose PyTorch top-2 logits are
            closer than twice ``max_logit_diff`` (a tie, not an error).
        tolerance (float): The probability tolerance applied.
    """
    num_faces: int
    max_logit_diff: float
    max_prob_diff: float
    labels_agree: int
    near_ties: int
    tolerance: float

    @property
    def ok(self) -> bool:
        """Probabilities within the tolerance, and every label the same
        except near ties."""
        return (self.max_prob_diff <= self.tolerance and
                self.labels_agree + self.near_ties == self.num_faces)

    def summary(self) -> str:
        return (f'{self.num_faces} faces: max |logit diff| '
                f'{self.max_logit_diff:.3g}, max |probability diff| '
                f'{self.max_prob_diff:.3g} (tolerance {self.tolerance:g}); '
                f'labels agree on {self.labels_agree}/{self.num_faces}' +
                (f' ({self.near_ties} near ties)' if self.near_ties else ''))


def verify_onnx(model: nn.Module,
                cfg: Config,
                onnx_path: str,
                faces: Optional[Sequence] = None,
                tolerance: float = 1e-4) -> VerifyResult:
    """Compare the ONNX file (preprocessing from its metadata, onnxruntime
    on the CPU) with ``model`` (the config's pipeline, PyTorch) on
    ``faces`` (default: :func:`demo_faces`, all in one batch, so the
    dynamic batch axis is exercised)."""
    require_deploy('onnxruntime')
    onnx_model = ONNXFERModel(onnx_path, providers=['CPUExecutionProvider'])
    if faces is None:
        faces = demo_faces(8, pairs=onnx_model.info.faces_per_input == 2)
    faces = list(faces)
    got = onnx_model(onnx_model.preprocess(faces))
    want = torch_reference(model, cfg, faces)
    logit_diff = float(np.abs(got - want).max())
    prob_diff = float(np.abs(softmax(got) - softmax(want)).max())
    agree = got.argmax(1) == want.argmax(1)
    top2 = np.sort(want, axis=1)[:, -2:] if want.shape[1] > 1 else \
        np.zeros((len(want), 2))
    margin = top2[:, 1] - top2[:, 0]
    ties = int(np.sum(~agree & (margin <= 2 * logit_diff)))
    return VerifyResult(len(faces), logit_diff, prob_diff, int(agree.sum()),
                        ties, tolerance)
