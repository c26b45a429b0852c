"""What tools/train.py and tools/test.py share on top of mmengine's Runner."""
import os
import os.path as osp
import re
import tempfile
import zipfile
from collections import OrderedDict
from typing import Callable, Optional, Union

from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint

from ferpretrain.utils.errors import (CheckpointError, CheckpointMismatchError,
                                     ConfigError)
from ferpretrain.utils.foreign_checkpoint import group_keys
from ferpretrain.utils.load_check import (compare_state_dict,
                                         describe_mismatch)

__all__ = [
    'KeepExistingConfigRunner', 'drop_persistent_workers_without_workers',
    'CHECKPOINT_LOADING', 'check_writable', 'last_readable_checkpoint',
    'build_runner'
]

#: How :class:`KeepExistingConfigRunner` loads ``load_from``:
#: ``'strict'`` (testing: the file must hold exactly the model's tensors),
#: ``'finetune'`` (training from a checkpoint: a classifier of another shape
#: may stay at its initialisation; nothing else may differ) and
#: ``'partial'`` (anything that matches is loaded, the rest is listed).
#: ``--resume`` is always strict.
CHECKPOINT_LOADING = ('strict', 'finetune', 'partial')

_NUMBERED = re.compile(r'(?:epoch|iter)_(\d+)\.pth$')


def _is_readable_checkpoint(path: str) -> bool:
    """Cheap check that a checkpoint was written completely: not empty,
    and (torch's zip format) its zip directory, which is written last, is
    there."""
    try:
        if osp.getsize(path) == 0:
            return False
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                archive.namelist()
            return True
        from ferpretrain.utils.checkpoint import load_checkpoint_file
        load_checkpoint_file(path, map_location='cpu')
        return True
    except Exception:  # noqa: BLE001 - anything unreadable
        return False


def last_readable_checkpoint(work_dir: str,
                             exclude: Optional[str] = None) -> Optional[str]:
    """The newest ``epoch_<n>.pth`` / ``iter_<n>.pth`` in ``work_dir`` that
    was written completely (``exclude`` left out)."""
    if not osp.isdir(work_dir):
        return None
    numbered = sorted(
        ((int(m.group(1)), name) for name in os.listdir(work_dir)
         for m in [_NUMBERED.search(name)] if m),
        reverse=True)
    for _, name in numbered:
        path = osp.join(work_dir, name)
        if exclude and osp.abspath(path) == osp.abspath(exclude):
            continue
        if _is_readable_checkpoint(path):
            return path
    return None


def check_writable(path: str, what: str, folder: bool = True) -> None:
    """Stop before a run if ``path`` (a folder to create or use, or a file
    to write) cannot be written, naming it and why.

    Raises:
        ConfigError: ``path`` is a file where a folder is wanted (or the
            reverse), or it (or the nearest existing folder above it) is
            not writable.
    """
    path = osp.abspath(osp.expanduser(path))
    if folder and osp.isfile(path):
        raise ConfigError(f'{what} {path} is a file, not a folder.')
    if not folder and osp.isdir(path):
        raise ConfigError(f'{what} {path} is a folder; name a file.')
    probe = path if (folder or osp.exists(path)) else osp.dirname(path)
    while not osp.exists(probe):
        probe = osp.dirname(probe)
    if osp.isfile(probe) and probe != path:
        raise ConfigError(f'{what} {path}: {probe} is a file, so it cannot '
                          'hold a folder.')
    # os.access says yes to root everywhere (and to read-only mounts and
    # /proc): write a probe file instead.
    folder = probe if osp.isdir(probe) else osp.dirname(probe)
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
        if osp.isfile(path) and not os.access(path, os.W_OK):
            raise PermissionError(path)
    except OSError as error:
        raise ConfigError(f'{what} {path} is not writable ({folder}: '
                          f'{error.strerror or error}). Choose another '
                          'location.') from None


class KeepExistingConfigRunner(Runner):
    """mmengine's Runner with two safeguards the tools rely on.

    **Checkpoints load only where they fit.** mmengine loads ``load_from``
    non-strictly and only logs the keys that do not match, so a checkpoint
    of another model, another class count or a part of a model runs (or
    trains) from random weights. Here the file is compared with the model
    first (:func:`~ferpretrain.utils.load_check.compare_state_dict`) and the
    policy :attr:`checkpoint_loading` decides (:data:`CHECKPOINT_LOADING`);
    a refusal is one :class:`~ferpretrain.utils.errors.CheckpointMismatchError`
    naming the first keys and the likely cause. A resumed run must match
    exactly (an optimizer of another model would fail later with a
    parameter-group error instead), and a newest checkpoint that a killed
    run left truncated names the last readable one.

    **The config dump never replaces an existing file.**

    mmengine writes ``<work_dir>/<config name>`` at every start, over an
    earlier run's dump (or over the user's own config when it lives there).
    When that file exists, the dump goes to this run's timestamped log
    directory instead, so no run loses what another one left.
    """

    #: See :data:`CHECKPOINT_LOADING`; the tools set it.
    checkpoint_loading: str = 'finetune'
    _resuming: bool = False

    def resume(self, filename: str, *args, **kwargs) -> None:
        self._resuming = True
        try:
            super().resume(filename, *args, **kwargs)
        finally:
            self._resuming = False

    def _read_checkpoint(self, filename: str,
                         map_location: Union[str, Callable]) -> dict:
        try:
            return _load_checkpoint(filename, map_location=map_location)
        except CheckpointError as error:
            if not self._resuming:
                raise
            folder = osp.dirname(filename) or '.'
            previous = last_readable_checkpoint(folder, exclude=filename)
            hint = (f' The last readable checkpoint of this run is '
                    f'{previous}: resume from it with --resume {previous}.'
                    if previous else
                    ' No earlier checkpoint of this run is readable.')
            raise CheckpointError(f'Cannot resume: {error}{hint}') from None

    def load_checkpoint(self,
                        filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]):
        """Load ``filename`` into the model under :attr:`checkpoint_loading`
        (always strictly when resuming); see the class docstring."""
        checkpoint = self._read_checkpoint(filename, map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(
            self.model) else self.model
        if isinstance(model, BaseTTAModel):
            # ``--tta`` wraps the model (``module.``) without being a model
            # wrapper: the checkpoint holds the inner model's tensors.
            model = model.module
        if not isinstance(checkpoint, dict):
            raise CheckpointError(
                f'{filename} holds a {type(checkpoint).__name__}, not a '
                'checkpoint (a dict with a state_dict).')
        state_dict = checkpoint.get('state_dict', checkpoint)
        metadata = getattr(state_dict, '_metadata', OrderedDict())
        for pattern, replacement in revise_keys:
            state_dict = OrderedDict(
                (re.sub(pattern, replacement, k), v)
                for k, v in state_dict.items())
        policy = 'strict' if (self._resuming or strict) else \
            self.checkpoint_loading
        report = compare_state_dict(model, state_dict)
        if not report.complete:
            self._check_mismatch(filename, checkpoint, state_dict, model,
                                 report, policy)
        skip = {k for k, _, _ in report.mismatched} | set(report.unexpected)
        state_dict = OrderedDict(
            (k, v) for k, v in state_dict.items() if k not in skip)
        state_dict._metadata = metadata
        model.load_state_dict(state_dict, strict=False)
        self._has_loaded = True
        self.logger.info(
            f'Loaded checkpoint {filename}: {len(report.matched)} of '
            f'{len(report.matched) + len(report.not_loaded)} model tensors' +
            ('' if report.complete else
             f' ({len(report.not_loaded)} left at their initial values)'))
        return checkpoint

    def _check_mismatch(self, filename, checkpoint, state_dict, model,
                        report, policy) -> None:
        """Refuse, or log once what stays at its initial values."""
        meta = checkpoint.get('meta')
        allowed = policy == 'partial' or (policy == 'finetune'
                                          and report.head_only())
        if not allowed:
            message = describe_mismatch(
                report, filename, list(state_dict), list(model.state_dict()),
                'the model of this config', meta)
            if self._resuming:
                message += (' --resume continues a run of this same config; '
                            'to start a new run from these weights, use '
                            '--cfg-options load_from=... (without --resume).')
            elif policy == 'strict':
                message += (' To test with the matching tensors only (the '
                            'rest random), pass --allow-partial-load.')
            else:
                message += (' To train from the matching tensors only, pass '
                            '--allow-partial-load.')
            raise CheckpointMismatchError(message)
        parts = []
        if report.mismatched:
            parts.append('another shape in the file: ' + '; '.join(
                f'{k} {list(s)} (model {list(t)})'
                for k, s, t in report.mismatched[:4]))
        if report.missing:
            parts.append('missing from the file: ' +
                         group_keys(report.missing))
        if report.unexpected:
            parts.append('unused from the file: ' +
                         group_keys(report.unexpected))
        why = ('the classifier is trained anew (another class count)'
               if report.head_only() else 'a partial load (--allow-partial-'
               'load)')
        self.logger.warning(
            f'{filename}: {len(report.not_loaded)} model tensors stay at '
            f'their initial (random) values, {why}. ' + '. '.join(parts) +
            '.')

    def dump_config(self):
        name = (osp.basename(self.cfg.filename)
                if self.cfg.filename is not None else f'{self.timestamp}.py')
        target = osp.join(self.work_dir, name)
        if osp.exists(target):
            target = osp.join(self.log_dir, name)
        self.cfg.dump(target)


def drop_persistent_workers_without_workers(cfg):
    """Turn ``persistent_workers`` off for dataloaders with no workers.

    torch refuses ``persistent_workers=True`` with ``num_workers=0``; a
    config that asks for persistent workers and is then run with
    ``--cfg-options ...num_workers=0`` means "no worker processes", so honour
    that instead of crashing.
    """
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(field, None)
        if loader and loader.get('num_workers', 0) == 0 and loader.get(
                'persistent_workers', False):
            loader['persistent_workers'] = False
    return cfg


def build_runner(cfg, checkpoint_loading: str = 'finetune') -> Runner:
    """The Runner of ``cfg``: a :class:`KeepExistingConfigRunner` loading
    ``load_from`` under ``checkpoint_loading`` (see
    :data:`CHECKPOINT_LOADING`), or the config's own ``runner_type``.

    ``cfg.launcher`` is set up for machines without a GPU first
    (:func:`~ferpretrain.engine.setup_cpu_distributed`): the Runner
    initialises torch.distributed in its ``__init__``.
    """
    from mmengine.registry import RUNNERS

    from .dist import setup_cpu_distributed
    setup_cpu_distributed(cfg, cfg.launcher)
    if 'runner_type' not in cfg:
        runner = KeepExistingConfigRunner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    runner.checkpoint_loading = checkpoint_loading
    return runner
