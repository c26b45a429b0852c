"""The steps every checkpoint converter shares, so they all behave alike.

A converter in ``tools/model_converters/`` is thin: it declares itself
once (:class:`Converter`: its name, model, releases), reads the file
(:mod:`ferpretrain.utils.foreign_checkpoint`), applies its model family's
key rules (which live beside the model), and hands a :class:`Conversion` to
:func:`finish_conversion` (:meth:`Converter.finish`), which

1. refuses keys no rule knows, unless ``--allow-unknown``;
2. builds the model of the matching config (the release's, or
   ``--config``) with the options the file needs, and loads the converted
   weights into it **strictly**: a file that would leave any tensor at its
   initial value, or bring one the model lacks, is not written;
3. saves ``{'state_dict', 'meta'}`` through one helper, with the class names
   in ``meta.dataset_meta.classes`` (what ``tools/test.py`` matches test
   classes by) and the config and options it was checked against;
4. prints what it converted, dropped, added and checked, and how to test it.

The flags are the same for every converter (:func:`converter_parser`):
``SRC DST [--dataset NAME | --classes A,B,...] [--config FILE]
[--cfg-options K=V ...] [--allow-unknown] [--trust-checkpoint]
[--overwrite] [--debug]``.

**Class orders.** A checkpoint does not record the order of its head rows.
Each converter lists its releases (:class:`Release`): the dataset, the head
order it was trained with and the evidence for it. ``--dataset`` picks one;
``--classes`` names the rows of any other file. When neither is given, the
order is taken only where the head size leaves no doubt (a single release
with that many classes); otherwise the converter stops and says why.
"""
import argparse
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import torch
from mmengine.config import DictAction

from .errors import CheckpointError, CheckpointMismatchError, ConfigError
from .foreign_checkpoint import group_keys
from .resources import find_config, resource_root

__all__ = [
    'Release', 'Conversion', 'Converter', 'converter_parser',
    'resolve_classes',
    'read_source', 'head_classes',
    'check_destination', 'finish_conversion', 'build_config_model',
    'load_config',
    'save_converted_checkpoint', 'REPO_ROOT'
]

#: Where configs are named relative to: the source checkout's root, or the
#: installed package's ``.mim`` folder (see :mod:`.resources`).
REPO_ROOT = resource_root()


@dataclass(frozen=True)
class Release:
    """One published checkpoint family of a model: which data, which head
    order, which config it loads into.

    Attributes:
        name (str): ``--dataset`` value, e.g. ``'affectnet7'``.
        title (str): For messages, e.g. ``'AffectNet-7'``.
        classes (tuple[str]): The head rows' class names, in order.
        config (str): The ferpretrain config of this network, relative to
            the repository root.
        evidence (str): Why the head has this order (for the docs and
            ``--help``).
    """
    name: str
    title: str
    classes: tuple
    config: str
    evidence: str = ''


@dataclass
class Conversion:
    """What a model family's key rules produced, for :func:`finish_conversion`.

    Attributes:
        state_dict (dict): ferpretrain names -> tensors.
        dropped (dict): ``{reason: [original keys]}`` left out on purpose.
        unknown (list): Original keys no rule knows.
        left_out (list): Non-weight entries of the file (training state).
        added (dict): ``{reason: [new keys]}`` created by the converter
            (e.g. BatchNorm counters a PaddlePaddle file has no place for).
        cfg_options (dict): Config overrides the file needs beyond the
            config it is checked against (e.g. another POSTER depth).
        notes (list[str]): Lines printed with the summary.
        source_classes (tuple, optional): The head order of the file when
            the rules re-ordered the rows (``classes`` is then the new
            order).
    """
    state_dict: Dict[str, Any]
    dropped: Dict[str, List[str]] = field(default_factory=dict)
    unknown: List[str] = field(default_factory=list)
    left_out: List[str] = field(default_factory=list)
    added: Dict[str, List[str]] = field(default_factory=dict)
    cfg_options: Dict[str, Any] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)


@dataclass(frozen=True)
class Converter:
    """Who a converter is, declared once at the top of its tool: the steps
    below then need only what differs from run to run.

    Attributes:
        name (str): The tool's name, stored in ``meta.converter``; the
            tool's file (``__file__``) stands for its name without
            ``.py``.
        model (str): The model's name, for messages (``'POSTER V2'``).
        source (str): What SRC is, for ``--help``.
        releases (tuple[Release]): The published files it knows.
        config (str, optional): The config the output is checked against
            when no release names one; defaults to the first release's.
        classes (bool): Whether the model has classes (``--dataset`` /
            ``--classes``).
    """
    name: str
    model: str
    source: str
    releases: tuple = ()
    config: Optional[str] = None
    classes: bool = True

    def __post_init__(self):
        if self.name.endswith('.py'):
            # Frozen: the file name becomes the tool's name once, here.
            object.__setattr__(self, 'name',
                               osp.splitext(osp.basename(self.name))[0])

    def parser(self, doc: str) -> argparse.ArgumentParser:
        """:func:`converter_parser` of this converter."""
        return converter_parser(doc.split('\n')[0], self.source,
                                self.releases, self.classes)

    def head_classes(self, args: argparse.Namespace,
                     state_dict: Dict[str, Any], official_head: str,
                     head_key: str = 'head.fc.weight') -> tuple:
        """:func:`head_classes` with this converter's releases."""
        return head_classes(args, state_dict, self.releases, self.model,
                            official_head, head_key)

    def finish(self, args: argparse.Namespace, conversion: Conversion,
               head: tuple = (None, None), config: Optional[str] = None,
               **kwargs) -> None:
        """:func:`finish_conversion` with the ``(classes, release)`` of
        :meth:`head_classes`; ``config`` defaults to the release's, else
        :attr:`config`."""
        classes, release = head
        config = config or (release or self).config or \
            self.releases[0].config
        finish_conversion(args, conversion, self.name, self.model, config,
                          classes=classes, release=release, **kwargs)


def converter_parser(description: str,
                     src_help: str,
                     releases: Sequence[Release] = (),
                     classes: bool = True) -> argparse.ArgumentParser:
    """The argument parser every converter uses.

    Args:
        description (str): The tool's one-line description.
        src_help (str): What SRC is.
        releases (Sequence[Release]): The ``--dataset`` choices.
        classes (bool): Whether the model has classes (``--dataset`` /
            ``--classes``); a landmark network has none.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('src', help=src_help)
    parser.add_argument('dst', help='where to write the converted checkpoint')
    if classes:
        group = parser.add_mutually_exclusive_group()
        if releases:
            group.add_argument(
                '--dataset',
                choices=[r.name for r in releases],
                help='the release the file is (sets the head\'s class '
                'names and the config it is checked against): ' + '; '.join(
                    f'{r.name}: {r.title} ({", ".join(r.classes)})'
                    for r in releases))
        group.add_argument(
            '--classes',
            metavar='A,B,...',
            help='the class names of the head rows, in order (for a file '
            'trained on other data or with another label order)')
    parser.add_argument(
        '--config',
        help='the ferpretrain config whose model the output must load into '
        '(default: the release\'s config)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        metavar='KEY=VALUE',
        help='overrides of that config (e.g. model.neck.arch=base), as in '
        'tools/train.py')
    parser.add_argument(
        '--allow-unknown',
        action='store_true',
        help='leave out (and list) keys no mapping rule knows instead of '
        'stopping')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='unpickle SRC with the full unpickler (runs code stored in the '
        'file; only for a file from a source you trust). Without it, '
        'objects other than tensors and arrays are read as inert '
        'placeholders and nothing in the file runs')
    parser.add_argument(
        '--overwrite', action='store_true', help='replace DST if it exists')
    parser.add_argument(
        '--debug',
        action='store_true',
        help='show the traceback of an error')
    return parser


def check_destination(dst: str, overwrite: bool) -> None:
    """Stop before any work if ``dst`` exists (without ``--overwrite``) or
    its folder cannot be written."""
    if osp.exists(dst) and not overwrite:
        raise ConfigError(f'{dst} exists; pass --overwrite to replace it.')
    folder = osp.dirname(osp.abspath(dst))
    probe = folder
    while not osp.exists(probe):
        probe = osp.dirname(probe)
    if not os.access(probe, os.W_OK):
        raise ConfigError(f'Cannot write {dst}: {probe} is not writable.')


def read_source(args: argparse.Namespace,
                keys: Sequence[str] = ('state_dict', )) -> tuple:
    """Check DST, then read SRC (a torch file) without running it and find
    its state dict: ``(state_dict, names of the other entries)``."""
    from .foreign_checkpoint import extract_state_dict, read_torch_release
    check_destination(args.dst, args.overwrite)
    checkpoint = read_torch_release(args.src, trust=args.trust_checkpoint)
    return extract_state_dict(checkpoint, keys)


def head_classes(args: argparse.Namespace,
                 state_dict: Dict[str, Any],
                 releases: Sequence[Release],
                 model: str,
                 official_head: str,
                 head_key: str = 'head.fc.weight') -> tuple:
    """:func:`resolve_classes` for the classifier ``head_key`` of a
    converted state dict (``official_head`` names it in messages)."""
    head = state_dict.get(head_key)
    if head is None:
        raise CheckpointError(
            f'{args.src}: no classifier ({official_head}) in the state dict; '
            f'is this a {model} checkpoint?')
    return resolve_classes(head.shape[0], releases,
                           getattr(args, 'dataset', None), args.classes, model)


def _parse_classes(text: str) -> tuple:
    names = tuple(n.strip() for n in text.split(','))
    if not all(names):
        raise ConfigError(f'--classes {text!r}: an empty class name; give '
                          'the names comma-separated, e.g. '
                          '"Surprise,Fear,Disgust,Happiness,Sadness,Anger,'
                          'Neutral".')
    if len(set(names)) != len(names):
        raise ConfigError(f'--classes {text!r} names a class twice.')
    return names


def resolve_classes(rows: int,
                    releases: Sequence[Release],
                    dataset: Optional[str] = None,
                    classes: Optional[str] = None,
                    model: str = 'this model') -> tuple:
    """The head's class names and the release (if any) of a file.

    Args:
        rows (int): Rows of the file's classifier.
        releases (Sequence[Release]): The model's known releases.
        dataset (str, optional): ``--dataset``.
        classes (str, optional): ``--classes`` (comma-separated).
        model (str): The model's name, for messages.

    Returns:
        tuple: ``(class names, Release or None)``.

    Raises:
        ConfigError: The names do not fit the head, or the order cannot be
            known (several releases have ``rows`` classes).
    """
    if classes is not None:
        names = _parse_classes(classes)
        if len(names) != rows:
            raise ConfigError(
                f'--classes names {len(names)} classes, but the file\'s '
                f'classifier has {rows} rows.')
        return names, None
    by_name = {r.name: r for r in releases}
    if dataset is not None:
        release = by_name[dataset]
        if len(release.classes) != rows:
            raise ConfigError(
                f'--dataset {dataset}: the {model} {release.title} release '
                f'has {len(release.classes)} classes, but this file\'s '
                f'classifier has {rows} rows. Pick the release it is, or '
                'name its classes with --classes.')
        return tuple(release.classes), release
    fitting = [r for r in releases if len(r.classes) == rows]
    if len(fitting) == 1:
        return tuple(fitting[0].classes), fitting[0]
    if not fitting:
        raise ConfigError(
            f'The file\'s classifier has {rows} rows; no {model} release has '
            f'{rows} classes ({", ".join(r.title for r in releases)}). Name '
            'its classes in head order with --classes A,B,...')
    listed = '; '.join(f'--dataset {r.name}: {", ".join(r.classes)}'
                       for r in fitting)
    raise ConfigError(
        f'The file\'s classifier has {rows} rows, and {len(fitting)} {model} '
        f'releases have {rows} classes in different orders ({listed}). A '
        'checkpoint does not record which data it was trained on, so the '
        'order of its rows cannot be read from the file: pass --dataset '
        'with the release it is, or --classes with its class names in head '
        'order.')


def _config_path(config: str) -> str:
    return find_config(config)


def load_config(config: str, cfg_options: Optional[Dict[str, Any]] = None):
    """``Config.fromfile`` of a config named relative to the working
    directory or to the repository root, with ``--cfg-options`` merged."""
    from mmengine.config import Config
    cfg = Config.fromfile(_config_path(config))
    if cfg_options:
        cfg.merge_from_dict(dict(cfg_options))
    return cfg


def build_config_model(config: str,
                       cfg_options: Optional[Dict[str, Any]] = None,
                       component: Optional[str] = None) -> torch.nn.Module:
    """Build the model of a config (or one of its parts), weights at their
    initial values (nothing is loaded: ``init_cfg`` is not run).

    Args:
        config (str): A config file (relative to the working directory or
            to the repository root).
        cfg_options (dict, optional): Overrides, as ``--cfg-options``.
        component (str, optional): Build ``cfg.model[component]`` instead
            (e.g. ``'landmark_backbone'``).
    """
    from mmengine.registry import DefaultScope

    import ferpretrain  # noqa: F401  (registers the models)
    from ferpretrain.registry import MODELS
    cfg = load_config(config, cfg_options)
    model_cfg = cfg.model if component is None else cfg.model[component]
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', 'mmpretrain')):
        return MODELS.build(model_cfg)


def save_converted_checkpoint(dst: str,
                              state_dict: Dict[str, Any],
                              meta: Dict[str, Any]) -> None:
    """Write ``{'state_dict', 'meta'}`` (plain tensors and builtins only, so
    it loads with ``weights_only=True`` and needs no trust)."""
    state_dict = {
        k: v.detach().clone().contiguous() if isinstance(v, torch.Tensor)
        else v
        for k, v in state_dict.items()
    }
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    tmp = f'{dst}.part'
    torch.save(dict(state_dict=state_dict, meta=meta), tmp)
    # Atomic: a reader never sees a half-written checkpoint.
    os.replace(tmp, dst)


def _format_options(options: Dict[str, Any]) -> str:
    return ' '.join(f'{k}={v}' for k, v in options.items())


def finish_conversion(args: argparse.Namespace,
                      conversion: Conversion,
                      converter: str,
                      model_name: str,
                      config: Optional[str],
                      classes: Optional[Sequence[str]] = None,
                      release: Optional[Release] = None,
                      component: Optional[str] = None,
                      extra_meta: Optional[Dict[str, Any]] = None) -> None:
    """Check the converted weights against the config's model, save them
    and print a summary. See the module docstring.

    Args:
        args: The parsed :func:`converter_parser` arguments.
        conversion (Conversion): The family rules' output.
        converter (str): The tool's name (stored in ``meta``).
        model_name (str): For messages, e.g. ``'POSTER'``.
        config (str, optional): The config to check against unless
            ``--config`` is given.
        classes (Sequence[str], optional): The head's class names (None for
            a model without classes).
        release (Release, optional): The release the file is.
        component (str, optional): Check against ``cfg.model[component]``
            (a backbone file).
        extra_meta (dict, optional): More ``meta`` entries.

    Raises:
        CheckpointError: Unknown keys without ``--allow-unknown``.
        CheckpointMismatchError: The output does not load strictly.
    """
    if conversion.unknown and not args.allow_unknown:
        raise CheckpointError(
            f'{args.src}: {len(conversion.unknown)} keys match no '
            f'{model_name} rule: {group_keys(conversion.unknown)} (first: '
            f'{conversion.unknown[:5]}). Is this a {model_name} checkpoint? '
            'Pass --allow-unknown to leave them out.')
    config = args.config or config
    options = {**conversion.cfg_options, **(args.cfg_options or {})}
    if classes is not None and component is None:
        head = load_config(config, options).model.get('head') or {}
        if head.get('num_classes') not in (None, len(classes)):
            # A file with another class count (``--classes``).
            options['model.head.num_classes'] = len(classes)

    # The check: build the config's model and load strictly.
    model = build_config_model(config, options, component)
    from .load_check import compare_state_dict, describe_mismatch
    report = compare_state_dict(model, conversion.state_dict)
    target = (f'the {component} of the model of {config}'
              if component else f'the model of {config}')
    if options:
        target += f' with --cfg-options {_format_options(options)}'
    if not report.complete:
        raise CheckpointMismatchError(
            describe_mismatch(report, f'{args.src} (converted)',
                              list(conversion.state_dict),
                              list(model.state_dict()), target) +
            ' Nothing was written. Pass --config (and --cfg-options) for '
            'the config of this network.')
    model.load_state_dict(conversion.state_dict, strict=True)
    num_params = sum(p.numel() for p in model.parameters())

    meta: Dict[str, Any] = dict(
        converted_from=osp.basename(args.src),
        converter=converter,
        config=osp.relpath(_config_path(config), REPO_ROOT)
        if _config_path(config).startswith(REPO_ROOT) else config)
    if options:
        meta['cfg_options'] = options
    if classes is not None:
        meta['dataset_meta'] = dict(classes=list(classes))
    if release is not None:
        meta['release'] = release.name
    meta.update(extra_meta or {})
    save_converted_checkpoint(args.dst, conversion.state_dict, meta)

    what = (f'{release.title} release, ' if release else '') + (
        f'{len(classes)} classes: {", ".join(classes)}'
        if classes is not None else model_name)
    print(f'Converted {len(conversion.state_dict)} tensors of {args.src} '
          f'({what}).')
    for label, keys in conversion.dropped.items():
        print(f'  dropped {len(keys):4d} {label}')
    for label, keys in conversion.added.items():
        print(f'  added   {len(keys):4d} {label}')
    if conversion.unknown:
        print(f'  left out {len(conversion.unknown)} unknown keys '
              f'(--allow-unknown): {group_keys(conversion.unknown)}')
    if conversion.left_out:
        print(f'  not kept (training state): '
              f'{", ".join(conversion.left_out)}')
    for note in conversion.notes:
        print(f'  note: {note}')
    print(f'Checked: loads strictly into {target} '
          f'({type(model).__name__}, {len(report.matched)} tensors, '
          f'{num_params / 1e6:.2f} M parameters; no missing, unexpected or '
          're-shaped tensor).')
    print(f'Wrote {args.dst}.')
    if component is None:
        test = f'  python tools/test.py {config} {args.dst}'
        if options:
            test += f' --cfg-options {_format_options(options)}'
        print('Test it with:\n' + test)
