"""ferpretrain's models by name, in mmpretrain's model hub and its own API.

Every entry of the metafiles (``configs/<paper>/metafile.yml``, gathered by
``model-index.yml``) is a model name: ``Name`` -> ``Config`` (+ ``Weights``
where weights are published). mmpretrain only reads its own index, so this
module adds ferpretrain's to :class:`mmpretrain.apis.ModelHub`:

* **lazily**: mmpretrain reads its own index (548 models, about a second)
  the first time :func:`mmpretrain.list_models` or
  :func:`mmpretrain.get_model` asks for a name, in
  ``ModelHub._register_mmpretrain_models``. Importing this module wraps
  that method so that ferpretrain's index (47 models, about 60 ms) is
  read at the same moment, right after mmpretrain's own: ``import
  ferpretrain`` stays as fast as before, and both indexes are there
  whichever registers first. :func:`register_model_index` registers at once
  (``ModelHub.has`` sees ferpretrain's names only after it, or after the
  first ``list_models`` / ``get_model``, as it sees mmpretrain's own);
* **idempotently**: registering again, or after a module reload, changes
  nothing; a name that another package registered for another config is
  refused, naming both (mmpretrain's own ``register_model_index`` compares
  the names before lowering their case and registers half an index before
  it stops: neither suits a plugin).

On top, ferpretrain's own functions, which delegate the building to
mmpretrain:

* :func:`list_models`: ferpretrain's names only (mmpretrain's too with
  ``include_mmpretrain=True``);
* :func:`get_model`: a name, a config file (also ``configs/...`` relative
  to the installed package) or a :class:`~mmengine.config.Config`; weights
  from ``pretrained=PATH`` load **strictly** through the safe checkpoint
  reader, and ``pretrained=True`` without published weights stops with
  what to do instead (mmpretrain only warns and returns random weights);
* :func:`init_model`: mmpretrain's older spelling.

Configs are named relative to :func:`~ferpretrain.utils.resources.
resource_root`: the source checkout, or the package's ``.mim`` folder
once installed from a wheel.
"""
import ast
import copy
import difflib
import fnmatch
import functools
import glob
import os
import os.path as osp
import re
import threading
import warnings
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

from mmengine.config import Config
from mmengine.runner.checkpoint import CheckpointLoader
from mmpretrain.apis.model import ModelHub

from ferpretrain.utils.errors import CheckpointError, ConfigError
from ferpretrain.utils.resources import (MODEL_INDEX, PACKAGED_SCHEME,
                                         find_config, packaged_checkpoint,
                                         resource_root)

__all__ = [
    'model_index_path', 'read_model_index', 'check_model_index',
    'register_model_index', 'list_models', 'get_model', 'init_model'
]

#: Guards the cached index and the writes into ModelHub (a data loader
#: thread or a server may ask for models concurrently).
_LOCK = threading.RLock()
#: ferpretrain's index, lower-case name -> modelindex ``Model``; read once.
_MODELS: Optional[Dict[str, object]] = None


# ---------------------------------------------------------------------------
# Reading the index
# ---------------------------------------------------------------------------
def model_index_path() -> str:
    """The ``model-index.yml`` this process reads (in the checkout, or in
    the installed package's ``.mim`` folder)."""
    return osp.join(resource_root(), MODEL_INDEX)


def read_model_index(path: Optional[str] = None,
                     config_prefix: Optional[str] = None) -> Dict[str, object]:
    """Read a model index: ``{lower-case name: modelindex Model}``.

    Each model's ``config`` becomes an absolute path (whether the file
    exists is checked by :func:`check_model_index` and when the model is
    asked for, so that one broken entry does not hide the others).

    Args:
        path (str, optional): The ``model-index.yml``. Defaults to
            ferpretrain's (:func:`model_index_path`).
        config_prefix (str, optional): What the ``Config`` entries are
            relative to. Defaults to the index's folder.

    Raises:
        ConfigError: The index is missing, a name is listed twice (in any
            case: mmpretrain looks names up lower-cased), or a model has no
            ``Config``.
    """
    from modelindex.load_model_index import load
    path = osp.abspath(path or model_index_path())
    if not osp.isfile(path):
        raise ConfigError(
            f'ferpretrain\'s model index {path} is missing, so no model can '
            'be found by name. In a source checkout it is model-index.yml '
            'at the root; an installed package keeps it in ferpretrain/'
            '.mim/ (reinstall with `pip install .`, which copies it there). '
            'Config files still work: get_model("configs/...py").')
    prefix = config_prefix or osp.dirname(path)
    index = load(path)
    # Each model inherits its collection's Paper, Code, README (used in
    # messages).
    index.build_models_with_collections()
    models: Dict[str, object] = {}
    for metainfo in index.models:
        key = metainfo.name.lower()
        if key in models:
            raise ConfigError(
                f'Model name {metainfo.name!r} is listed twice: in '
                f'{models[key].filepath} and {metainfo.filepath}. Names '
                'must be unique (mmpretrain compares them lower-cased).')
        if not metainfo.config:
            raise ConfigError(f'{metainfo.filepath}: model '
                              f'{metainfo.name!r} has no Config.')
        if not osp.isabs(metainfo.config):
            metainfo.config = osp.normpath(osp.join(prefix, metainfo.config))
        models[key] = metainfo
    return models


def _ferpretrain_models() -> Dict[str, object]:
    global _MODELS
    with _LOCK:
        if _MODELS is None:
            _MODELS = read_model_index()
        return _MODELS


def check_model_index(path: Optional[str] = None,
                      config_prefix: Optional[str] = None) -> List[str]:
    """What is wrong with a model index, one line a problem ([] if all is
    well): a ``Config`` that is not a file, a name with upper-case letters
    (``ModelHub.has`` compares without lowering the case). Errors that
    stop :func:`read_model_index` (a name twice) are raised.
    """
    problems = []
    for key, metainfo in read_model_index(path, config_prefix).items():
        if not osp.isfile(metainfo.config):
            problems.append(f'{metainfo.filepath}: {metainfo.name}: Config '
                            f'{metainfo.config} does not exist')
        if metainfo.name != key:
            problems.append(f'{metainfo.filepath}: {metainfo.name}: write '
                            'the name in lower case')
    return problems


#: The model that ships inside the package (``ferpretrain/weights/``,
#: trained by ``configs/iresnet/fer2013_cpu.py`` on FER2013):
#: ``FERInferencer()`` and the demos use it when no model is given.
DEFAULT_MODEL = 'iresnet_reduced_1xb64-45e_fer2013-48px-cpu'


# ---------------------------------------------------------------------------
# Registering into mmpretrain's ModelHub
# ---------------------------------------------------------------------------
def _same_entry(a, b) -> bool:
    return a is b or (osp.normpath(str(a.config)) == osp.normpath(
        str(b.config)) and a.name == b.name)


def register_model_index() -> List[str]:
    """Add ferpretrain's models to mmpretrain's ``ModelHub`` now.

    Idempotent; atomic (either every name is added or none). Afterwards
    ``mmpretrain.get_model(name)``, ``mmpretrain.list_models()`` and
    ``ModelHub.has(name)`` know ferpretrain's names. ``import ferpretrain``
    arranges for this to happen by itself the first time mmpretrain reads
    its own index; call it only to have the names earlier.

    Returns:
        list[str]: ferpretrain's model names, sorted.

    Raises:
        ConfigError: The index cannot be read, or one of its names is
            registered for another config (another package, or an older
            copy of ferpretrain).
    """
    models = _ferpretrain_models()
    with _LOCK:
        # mmpretrain itself keeps the names in this dict (its get,
        # list_models and has read it); it has no public setter.
        hub = ModelHub._models_dict
        clashes = [
            f'{key} ({hub[key].config} is registered; ferpretrain has '
            f'{models[key].config})' for key in models
            if key in hub and not _same_entry(hub[key], models[key])
        ]
        if clashes:
            raise ConfigError(
                'ferpretrain\'s model names are taken in mmpretrain\'s '
                'ModelHub: ' + '; '.join(clashes[:3]) +
                (f' (+{len(clashes) - 3} more)' if len(clashes) > 3 else '') +
                '. Two packages (or two copies of ferpretrain) register '
                'the same names; uninstall one.')
        for key, metainfo in models.items():
            hub.setdefault(key, metainfo)
    return sorted(models)


_WARNED: List[str] = []


def _register_quietly() -> None:
    """Register, but warn (once) instead of raising: this runs inside
    mmpretrain's own ``list_models`` / ``get_model``, which must keep
    working for mmpretrain's models even if ferpretrain's index is
    broken."""
    try:
        register_model_index()
    except ConfigError as error:
        if str(error) not in _WARNED:
            _WARNED.append(str(error))
            warnings.warn(f'ferpretrain\'s model names are not available in '
                          f'mmpretrain: {error}')


def _install_lazy_registration() -> None:
    """Wrap ``ModelHub._register_mmpretrain_models`` (idempotent, also
    across reloads of this module): mmpretrain's index first, as before,
    then ferpretrain's."""
    current = ModelHub.__dict__.get('_register_mmpretrain_models')
    func = getattr(current, '__func__', None)
    if func is None or getattr(func, '_ferpretrain_wrapper', False):
        return

    @functools.wraps(func)
    def register_mmpretrain_then_ferpretrain(cls):
        func(cls)
        _register_quietly()

    register_mmpretrain_then_ferpretrain._ferpretrain_wrapper = True
    ModelHub._register_mmpretrain_models = classmethod(
        register_mmpretrain_then_ferpretrain)


_install_lazy_registration()


def load_from_ferpretrain(filename: str, map_location=None):
    """mmengine's loader for ``ferpretrain://<file>`` (a checkpoint shipped
    in the package): the safe reader on :func:`~ferpretrain.utils.
    resources.packaged_checkpoint`'s path. (mmengine logs the loader's name
    without its ``load_from_``: "by ferpretrain backend".)"""
    from ferpretrain.utils.checkpoint import load_checkpoint_file
    return load_checkpoint_file(
        packaged_checkpoint(filename), map_location=map_location)


# So that mmpretrain.get_model(name, pretrained=True), a config's
# ``load_from`` and the Runner take a packaged checkpoint as they take a URL
# (force: idempotent across reloads of this module).
CheckpointLoader.register_scheme(
    PACKAGED_SCHEME, load_from_ferpretrain, force=True)


# ---------------------------------------------------------------------------
# Listing
# ---------------------------------------------------------------------------
def list_models(pattern: Optional[str] = None,
                exclude_patterns: Optional[Sequence[str]] = None,
                task: Optional[str] = None,
                include_mmpretrain: bool = False) -> List[str]:
    """Model names, sorted, matched as :func:`mmpretrain.list_models` does.

    Args:
        pattern (str, optional): A wildcard pattern (``'*poster*'``,
            ``'apvit'``); like mmpretrain, a name matches if it *starts*
            with a match (``pattern + '*'``). Case-insensitive.
        exclude_patterns (list[str], optional): Names matching any of these
            (same rule) are left out, e.g. ``['*cpu*']``.
        task (str, optional): Only models with a result for this task
            (``'Facial Expression Recognition'``); ``'null'`` for models
            without results.
        include_mmpretrain (bool): Also list mmpretrain's own models (this
            reads mmpretrain's index: about a second the first time).
            Defaults to False: ferpretrain's models only.

    Returns:
        list[str]: The names; each works with :func:`get_model`,
        :func:`mmpretrain.get_model` and the inferencers.
    """
    if include_mmpretrain:
        from mmpretrain.apis import list_models as mmpretrain_list_models
        return mmpretrain_list_models(pattern, exclude_patterns, task)
    models = _ferpretrain_models()
    names = set(models)
    if pattern is not None:
        names = set(fnmatch.filter(names, pattern.lower() + '*'))
    for exclude in exclude_patterns or []:
        names -= set(fnmatch.filter(names, exclude.lower() + '*'))
    if task is not None:
        names = {
            name
            for name in names
            if (models[name].results is None and task == 'null') or any(
                result.task == task for result in models[name].results or [])
        }
    return sorted(names)


# ---------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------
def _close_names(name: str) -> List[str]:
    """ferpretrain's names that contain every part of ``name`` (split at
    ``-`` and ``_``), else the closest spellings."""
    names = sorted(_ferpretrain_models())
    parts = [p for p in re.split(r'[-_]', name.lower()) if p]
    found = [n for n in names if parts and all(p in n for p in parts)]
    return found[:3] or difflib.get_close_matches(
        name.lower(), names, n=3, cutoff=0.5)


def _resolve_name(name: str):
    """A copy of the index entry of ``name`` (ferpretrain's first, then
    mmpretrain's), its ``config`` loaded."""
    metainfo = _ferpretrain_models().get(name.lower())
    if metainfo is None:
        register_model_index()
        try:
            # mmpretrain's names; reading its index takes about a second.
            return ModelHub.get(name)
        except ValueError:
            close = _close_names(name)
            hint = (f' Did you mean {", ".join(map(repr, close))}?'
                    if close else '')
            raise ConfigError(
                f'No model is named {name!r}.{hint} ferpretrain.'
                'list_models() lists ferpretrain\'s names (pattern: '
                'list_models("*poster*")); a config file works too.') from None
    if not osp.isfile(metainfo.config):
        raise ConfigError(
            f'Model {metainfo.name!r} ({metainfo.filepath}) names the config '
            f'{metainfo.config}, which does not exist. Fix its Config entry '
            '(relative to the folder of model-index.yml), or reinstall '
            'ferpretrain if the file went missing.')
    metainfo = copy.deepcopy(metainfo)
    metainfo.config = Config.fromfile(metainfo.config)
    return metainfo


def _official_releases(root: str) -> Dict[str, Tuple[str, str]]:
    """``{config (relative): (converter path, --dataset value)}``: the
    models whose official checkpoint a converter in
    ``tools/model_converters`` turns into a ferpretrain one, read from
    each converter's ``Release(name, title, classes, config, ...)``
    entries (parsed, not run)."""
    releases: Dict[str, Tuple[str, str]] = {}
    pattern = osp.join(root, 'tools', 'model_converters', '*.py')
    for tool in sorted(glob.glob(pattern)):
        try:
            with open(tool, encoding='utf-8') as f:
                tree = ast.parse(f.read())
        except (OSError, SyntaxError):
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call)
                    and getattr(node.func, 'id', None) == 'Release'):
                continue
            texts = [
                a.value for a in node.args
                if isinstance(a, ast.Constant) and isinstance(a.value, str)
            ]
            configs = [t for t in texts if t.startswith('configs/')]
            if texts and configs:
                releases.setdefault(configs[0], (tool, texts[0]))
    return releases


def _no_weights_message(metainfo, config_path: Optional[str],
                        label: str) -> str:
    """What to do when ``pretrained=True`` finds no weights to fetch."""
    message = (f'pretrained=True: no weights are published for {label} '
               '(ferpretrain ships none, and no model hub is reachable to '
               'fetch them). ')
    if metainfo is None or not config_path:
        return message + (
            'Pass pretrained=PATH with a checkpoint of this config (from '
            'tools/train.py, or a converter in tools/model_converters), or '
            'set load_from in the config.')
    root = resource_root()
    config = osp.relpath(config_path, root)
    release = _official_releases(root).get(config.replace(os.sep, '/'))
    code = (metainfo.full_model.code or {}).get('URL') if hasattr(
        metainfo, 'full_model') else None
    if release is not None:
        converter, dataset = release
        source = ((metainfo.data.get('Converted From') or {}).get('Weights')
                  or code or 'the authors\' repository')
        return message + (
            f'Download the official {metainfo.in_collection} checkpoint '
            f'({source}), convert it once:\n'
            f'  python {converter} OFFICIAL.pth converted.pth '
            f'--dataset {dataset}\n'
            '(the converter checks the result against the config strictly '
            'and records the class names), then call get_model('
            f'{metainfo.name!r}, pretrained="converted.pth").')
    origin = (f'the official {metainfo.in_collection} code ({code}) '
              'publishes none for this configuration'
              if code else 'there is no official release')
    return message + (
        f'No converter fits either: {origin}. Train it:\n'
        f'  python {osp.join(root, "tools", "train.py")} '
        f'{osp.join(root, config)}\n'
        f'then call get_model({metainfo.name!r}, pretrained=PATH) with the '
        'checkpoint it saves in its work_dir.')


def _is_url(source: str) -> bool:
    return bool(re.match(r'^[a-z][a-z0-9+.-]*://', source)) and not \
        osp.exists(source)


def _read_checkpoint(source: str) -> dict:
    """A checkpoint dict from a local file (the safe reader: tensors and
    plain data only, see :mod:`ferpretrain.utils.checkpoint`) or a URL
    (mmengine's loaders)."""
    if _is_url(source):
        from mmengine.runner.checkpoint import CheckpointLoader
        checkpoint = CheckpointLoader.load_checkpoint(
            source, map_location='cpu')
    else:
        from ferpretrain.utils.checkpoint import load_checkpoint_file
        checkpoint = load_checkpoint_file(source, map_location='cpu')
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(
            f'{source} holds a {type(checkpoint).__name__}, not a checkpoint '
            '(a dict with a state_dict).')
    return checkpoint


def _load_strictly(model, source: str, target: str) -> dict:
    """Load ``source`` (a file or a URL) into ``model``: every tensor,
    nothing else (:func:`~ferpretrain.utils.load_check.load_strictly`);
    returns the checkpoint's ``meta``."""
    from ferpretrain.utils.load_check import load_strictly
    return load_strictly(model, _read_checkpoint(source), target, name=source)


def _pretrained_source(pretrained, metainfo, config,
                       label: str) -> Optional[str]:
    """The checkpoint to load (None: none), after mmpretrain's rules:
    ``True`` means the index's ``Weights`` for a name, the config's
    ``load_from`` for a config."""
    if pretrained is None or pretrained is False:
        return None
    if pretrained is True:
        if metainfo is not None:
            source = metainfo.weights
        else:
            source = config.get('load_from', None)
        if not source:
            raise ConfigError(
                _no_weights_message(metainfo, config.filename, label))
        return source
    if isinstance(pretrained, (str, os.PathLike)):
        return os.fspath(pretrained)
    raise TypeError('pretrained must be True, False or a checkpoint path, '
                    f'got {type(pretrained).__name__}.')


def get_model(model: Union[str, os.PathLike, Config],
              pretrained: Union[bool, str, os.PathLike] = False,
              device=None,
              device_map=None,
              offload_folder: Optional[str] = None,
              url_mapping: Optional[Tuple[str, str]] = None,
              **kwargs):
    """Build a model by name, config file or config, weights loaded
    strictly.

    Takes :func:`mmpretrain.get_model`'s arguments and builds through it;
    differs where a wrong weight file would otherwise pass silently.

    Args:
        model (str | PathLike | Config): A model name (:func:`list_models`;
            mmpretrain's names work too), a config file (relative to the
            working directory or, like ``'configs/apvit/raf.py'``, to the
            checkout / installed package), or a
            :class:`~mmengine.config.Config`.
        pretrained (bool | str | PathLike): ``False`` (default): the
            weights as the modules construct them; like mmpretrain,
            ``init_weights`` is not run, so no ``init_cfg`` file is read
            (configs whose backbone starts from a file under ``weights/``
            or ``checkpoints/``, or DoE stage 2's ``backbone_checkpoint``,
            build without it).
            A path (or URL): a checkpoint that must hold exactly the
            model's tensors (``{'state_dict', 'meta'}`` as the converters
            and ``tools/train.py`` write, or a bare state dict); its
            ``meta.dataset_meta.classes`` become the model's classes.
            ``True``: the index's published ``Weights`` (a config's
            ``load_from``); none are published yet, so this raises with
            what to do instead.
        device (str | torch.device, optional): Where to put the model.
        device_map, offload_folder: As in :func:`mmpretrain.get_model`
            (needs ``accelerate``).
        url_mapping (tuple[str, str], optional): ``(regex, replacement)``
            applied to the checkpoint's path, e.g. to read a URL from a
            local mirror.
        **kwargs: Overrides of the config's ``model`` (e.g.
            ``head=dict(num_classes=8)``).

    Returns:
        mmengine.model.BaseModel: In eval mode, with ``_config``,
        ``_metainfo`` (None for a config) and the class names in
        ``_dataset_meta`` (mmpretrain's inferencers read it) and
        ``dataset_meta``, both ``{'classes': [...]}``: the checkpoint's if
        it has them, else those of the config's test dataset class.

    Raises:
        ConfigError: No model has this name (close names are suggested),
            its config is missing, or ``pretrained=True`` finds no
            published weights.
        CheckpointMismatchError: The checkpoint does not fit the model.
        CheckpointError, FileNotFoundError, UntrustedCheckpointError: The
            checkpoint is unreadable, missing, or carries code.
    """
    from mmpretrain.apis import get_model as mmpretrain_get_model

    metainfo = None
    if isinstance(model, Config):
        config = copy.deepcopy(model)
        label = f'the config {config.filename or ""}'.strip()
    elif isinstance(model, (str, os.PathLike)) and Path(model).suffix == '.py':
        path = find_config(model)
        config = Config.fromfile(path)
        label = f'the config {path}'
    elif isinstance(model, str):
        metainfo = _resolve_name(model)
        config = metainfo.config
        label = f'the model {metainfo.name!r} ({config.filename})'
    else:
        raise TypeError('model must be a name, a config file or a Config, '
                        f'got {type(model).__name__}.')
    source = _pretrained_source(pretrained, metainfo, config, label)
    if source is not None and url_mapping is not None:
        source = re.sub(url_mapping[0], url_mapping[1], source)
    if source is not None and source.startswith(PACKAGED_SCHEME):
        source = packaged_checkpoint(source)
    if source is not None and not _is_url(source):
        # Before the (slow) build: a missing or empty file is named now.
        from ferpretrain.utils.foreign_checkpoint import \
            require_checkpoint_file
        require_checkpoint_file(source)

    # mmpretrain builds (in its scope, with the data preprocessor and the
    # config's dataset classes); the weights are loaded here, strictly.
    built = mmpretrain_get_model(config, pretrained=False, **kwargs)
    if source is not None:
        meta = _load_strictly(built, source, label)
        if meta.get('dataset_meta'):
            built._dataset_meta = dict(meta['dataset_meta'])
        elif meta.get('CLASSES'):  # mmcls 0.x checkpoints
            built._dataset_meta = dict(classes=meta['CLASSES'])
    built.dataset_meta = built._dataset_meta
    built._metainfo = metainfo

    if device_map is not None:
        from mmpretrain.apis.utils import dispatch_model
        built = dispatch_model(
            built, device_map=device_map, offload_folder=offload_folder)
    elif device is not None:
        built.to(device)
    return built.eval()


def init_model(config: Union[str, os.PathLike, Config],
               checkpoint: Optional[str] = None,
               device=None,
               **kwargs):
    """:func:`get_model` under mmpretrain's older name and argument order.

    Args:
        config (str | PathLike | Config): A config file, a config or a model
            name.
        checkpoint (str, optional): Loaded strictly; None: no weights.
        device (str | torch.device, optional): Where to put the model.
        **kwargs: Overrides of the config's ``model``.
    """
    return get_model(config, pretrained=checkpoint or False, device=device,
                     **kwargs)
