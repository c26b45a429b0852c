"""A generic ``<data_root>/<split>/<class>/<image>`` FER folder dataset."""
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Union

from ferpretrain.registry import DATASETS
from .base_fer import (BaseFERDataset, _MAX_LISTED, annotation_error,
                       check_broken_link, is_os_junk, require_dir)

#: Image file extensions FERFolder reads (compared case-insensitively).
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


@DATASETS.register_module()
class FERFolder(BaseFERDataset):
    """Any facial expression dataset stored as one folder per class.

    The layout is the one the POSTER re-implementations use for private or
    re-distributed data:
    ::

        data_root
        ├── train                     <- split
        │   ├── Surprise              <- a class (name matched
        │   │   ├── 0001.jpg             case-insensitively)
        │   │   └── ...
        │   ├── fear
        │   └── ...
        └── test
            ├── Surprise
            └── ...

    The class names are given explicitly and ``gt_label`` is the position
    of a class in ``classes``: it never depends on how the folders sort
    (``classes=('Surprise', 'Fear', ...)`` gives Surprise label 0 whatever
    the folder names). Each folder is matched to a class name
    case-insensitively, or through ``folder_names`` for folders named by
    codes (``'0'``, ``'1'``, ...).

    Checks (nothing is skipped silently):

    - a folder matching no class, or a class with no folder, raises an
      error naming it (with the folders found / classes expected);
    - a file that is not an image (extensions ``.jpg .jpeg .png .bmp .tif
      .tiff .webp``, any case) raises an error naming it; hidden files
      (``.*``), ``Thumbs.db`` and ``desktop.ini`` are ignored;
    - a broken symbolic link (its target gone) raises an error naming it;
    - a split with no image raises an error.

    Each data info carries ``img_path``, ``gt_label`` and ``ann_source``
    (the image path), and ``subject`` when ``subject_pattern`` is given.
    Samples are listed by folder, then file name, sorted.

    Subjects: datasets whose file names hold a person id (``p0001_1.jpg``,
    ``S005_001_00000011.png``) give it with ``subject_pattern``, a regular
    expression searched in the file name without its extension
    (:func:`re.search`: anchor it with ``^`` to match from the start). Its
    group named ``subject``, or else its first group, is the subject id,
    stored as ``subject`` in each data info: what
    :class:`~ferpretrain.datasets.NeutralPairDataset` (``pair_by=
    'subject'``) groups the images by. A file name it does not match raises
    an error naming the file and the pattern.

    Args:
        data_root (str): The folder holding one folder per split.
        classes (Sequence[str]): The class names, in label order. Required.
        split (str): The split folder under ``data_root``. The splits are
            the folders found there. Defaults to ``'train'``.
        folder_names (dict | Sequence[str], optional): Folder names that
            are not class names: a dict ``{folder: class name}`` (e.g.
            ``{'0': 'Surprise', '1': 'Fear'}``; folders it does not name are
            still matched to the class names), or a sequence parallel to
            ``classes`` giving the folder of each class. Folder names are
            compared case-insensitively. Defaults to None.
        subject_pattern (str, optional): A regular expression searched in
            each file name without extension; its group ``subject`` (or
            first group) is the subject id, e.g. ``r'^(p\\d+)_'`` for
            ``p0001_1.jpg``. Defaults to None (no ``subject`` key).
        **kwargs: Other arguments of :class:`BaseFERDataset` (``pipeline``,
            ``test_mode``, ``indices``, ...).

    Examples:
        >>> from ferpretrain.datasets.fer_folder import FERFolder
        >>> classes = ('Surprise', 'Fear', 'Disgust', 'Happiness',
        ...            'Sadness', 'Anger', 'Neutral')
        >>> FERFolder('data/my_fer', classes=classes, split='test',
        ...           test_mode=True)
        >>> # folders named by codes 1..7
        >>> FERFolder('data/my_fer', classes=classes, split='train',
        ...           folder_names=[str(i) for i in range(1, 8)])
        >>> # subject ids from file names like p0001_1.jpg
        >>> FERFolder('data/pairs_demo', classes=classes,
        ...           subject_pattern=r'^(p\\d+)_')
        >>> # in a config
        >>> dataset = dict(type='FERFolder', data_root='data/my_fer',
        ...                classes=classes, split='train',
        ...                folder_names={'happy': 'Happiness',
        ...                              'sad': 'Sadness'},
        ...                pipeline=[dict(type='LoadFERImage'),
        ...                          dict(type='PackInputs')])
    """

    # The accepted splits are the folders found under data_root (set per
    # instance in __init__).
    SPLITS = ()

    def __init__(self,
                 data_root: str,
                 classes: Sequence[str] = None,
                 split: str = 'train',
                 folder_names: Union[Dict[str, str], Sequence[str],
                                     None] = None,
                 subject_pattern: Optional[str] = None,
                 **kwargs):
        if classes is None or isinstance(classes, str) or not len(classes):
            raise ValueError(
                'FERFolder: classes is required: the class names in label '
                "order, e.g. classes=('Surprise', 'Fear', ...); the label "
                'never comes from folder sorting.')
        classes = tuple(str(c) for c in classes)
        seen = {}
        for c in classes:
            if c.lower() in seen:
                raise ValueError(
                    f'FERFolder: classes hold {seen[c.lower()]!r} and {c!r}, '
                    f'the same name case-insensitively: {classes}')
            seen[c.lower()] = c
        if 'metainfo' in kwargs and 'classes' in (kwargs['metainfo'] or {}):
            raise ValueError('FERFolder: give the class names as classes=, '
                             'not metainfo["classes"].')
        self._folder_to_label = self._build_folder_map(classes, folder_names)
        self.folder_names = folder_names
        self.subject_pattern = subject_pattern
        self._subject_re = self._compile_subject_pattern(subject_pattern)

        require_dir(
            data_root, 'FERFolder data_root',
            '<data_root>/<split>/<class>/<image>',
            'set data_root to the folder holding the split folders')
        self.SPLITS = tuple(
            sorted(e.name for e in os.scandir(data_root)
                   if e.is_dir() and not is_os_junk(e.name)))
        if not self.SPLITS:
            raise FileNotFoundError(
                f'FERFolder: no split folder in {data_root}. Expected '
                '<data_root>/<split>/<class>/<image>; set data_root to the '
                'folder holding the split folders.')
        metainfo = dict(kwargs.pop('metainfo', None) or {})
        metainfo['classes'] = classes
        super().__init__(
            data_root=data_root,
            split=split,
            ann_file='',
            metainfo=metainfo,
            data_prefix=split,
            **kwargs)

    @staticmethod
    def _build_folder_map(classes, folder_names) -> Dict[str, int]:
        """``{lower-case folder name: label}``."""
        index = {c.lower(): i for i, c in enumerate(classes)}
        if folder_names is None:
            return index
        if isinstance(folder_names, dict):
            mapping = dict(index)
            explicit = {}
            for folder, name in folder_names.items():
                key = str(folder).lower()
                if str(name).lower() not in index:
                    raise ValueError(
                        f'FERFolder: folder_names maps {folder!r} to '
                        f'{name!r}, which is not one of classes {classes}')
                label = index[str(name).lower()]
                if key in explicit and explicit[key] != label:
                    raise ValueError(
                        f'FERFolder: folder_names maps {folder!r} to two '
                        'classes (names are compared case-insensitively)')
                if key in index and index[key] != label and \
                        key not in explicit:
                    raise ValueError(
                        f'FERFolder: folder_names maps {folder!r} to '
                        f'{name!r}, but {folder!r} is also the class '
                        f'{classes[index[key]]!r}')
                explicit[key] = label
                mapping[key] = label
            return mapping
        if isinstance(folder_names, str) or \
                len(folder_names) != len(classes):
            raise ValueError(
                'FERFolder: folder_names as a sequence must be parallel to '
                f'classes ({len(classes)} names), got {folder_names!r}')
        mapping = {}
        for i, folder in enumerate(folder_names):
            key = str(folder).lower()
            if key in mapping:
                raise ValueError(f'FERFolder: folder_names holds {folder!r} '
                                 'twice (compared case-insensitively)')
            mapping[key] = i
        return mapping

    @staticmethod
    def _compile_subject_pattern(pattern: Optional[str]):
        """The compiled ``subject_pattern`` (None if not given)."""
        if pattern is None:
            return None
        if not isinstance(pattern, str) or not pattern:
            raise ValueError('FERFolder: subject_pattern must be a regular '
                             "expression string, e.g. r'^(p\\d+)_', got "
                             f'{pattern!r}.')
        try:
            compiled = re.compile(pattern)
        except re.error as e:
            raise ValueError(f"FERFolder: subject_pattern=r'{pattern}' is "
                             f'not a valid regular expression: {e}.') from None
        if compiled.groups == 0:
            raise ValueError(
                f"FERFolder: subject_pattern=r'{pattern}' has no group: put "
                "the subject id in parentheses (e.g. r'^(p\\d+)_') or in a "
                "group named subject (r'^(?P<subject>p\\d+)_').")
        return compiled

    def _subject_of(self, path: str) -> str:
        """The subject id in the file name of ``path``."""
        stem = osp.splitext(osp.basename(path))[0]
        match = self._subject_re.search(stem)
        if match is not None:
            if 'subject' in self._subject_re.groupindex:
                subject = match.group('subject')
            else:
                subject = match.group(1)
            if subject:
                return subject
        raise annotation_error(
            path, f'file name {stem!r} does not match '
            f"subject_pattern=r'{self.subject_pattern}'" +
            ('' if match is None else ' with a non-empty subject group'),
            'rename the file, or change subject_pattern: it is searched in '
            'the file name without extension, and its group named subject '
            '(or its first group) is the subject id')

    def load_data_list(self) -> List[dict]:
        """List ``<data_root>/<split>/<class>/<image>``, check every
        entry."""
        split_dir = self.img_prefix
        require_dir(split_dir, f'FERFolder split {self.split!r}',
                    f'<data_root>/{self.split}/<class>/<image>',
                    'set data_root to the folder holding the split folders')
        classes = self.CLASSES
        folders = {}  # label -> [folder names]
        unknown, stray = [], []
        by_key = {}
        for entry in sorted(os.scandir(split_dir), key=lambda e: e.name):
            if is_os_junk(entry.name):
                continue
            if not entry.is_dir():
                stray.append(entry.path)
                continue
            key = entry.name.lower()
            if key in by_key:
                raise annotation_error(
                    entry.path, f'folders {by_key[key]!r} and '
                    f'{entry.name!r} are the same name case-insensitively')
            by_key[key] = entry.name
            if key not in self._folder_to_label:
                unknown.append(entry.name)
                continue
            folders.setdefault(self._folder_to_label[key],
                               []).append(entry.name)
        if stray:
            raise annotation_error(
                stray[0], 'a file among the class folders of split '
                f'{self.split!r}', 'expected only <class> folders there')
        if unknown:
            raise annotation_error(
                osp.join(split_dir, unknown[0]),
                f'folder {unknown[0]!r} matches no class '
                f'(unmatched folders: {unknown})',
                f'classes are {classes}' +
                ('' if self.folder_names is None else
                 f', folder_names {self.folder_names!r}') +
                '; names are compared case-insensitively; map code-named '
                'folders with folder_names')
        missing = [c for i, c in enumerate(classes) if i not in folders]
        if missing:
            raise FileNotFoundError(
                f'FERFolder: no folder for class(es) {missing} in '
                f'{split_dir} (folders found: {sorted(by_key.values())}). '
                'Every class needs a folder; map differently named folders '
                'with folder_names.')

        data_list, bad = [], []
        for label in sorted(folders, key=lambda i: min(folders[i])):
            for folder in folders[label]:
                for root, dirs, files in os.walk(
                        osp.join(split_dir, folder)):
                    dirs[:] = sorted(d for d in dirs if not is_os_junk(d))
                    if dirs:
                        bad.extend(osp.join(root, d) for d in dirs)
                        dirs[:] = []
                    for name in sorted(files):
                        if is_os_junk(name):
                            continue
                        path = osp.join(root, name)
                        check_broken_link(path)
                        if osp.splitext(name)[1].lower() not in \
                                IMG_EXTENSIONS:
                            bad.append(path)
                            continue
                        info = dict(img_path=path, gt_label=label,
                                    ann_source=path)
                        if self._subject_re is not None:
                            info['subject'] = self._subject_of(path)
                        data_list.append(info)
        if bad:
            listed = '\n'.join(f'  {p}' for p in bad[:_MAX_LISTED])
            if len(bad) > _MAX_LISTED:
                listed += f'\n  ... and {len(bad) - _MAX_LISTED} more'
            raise annotation_error(
                bad[0], f'not an image ({len(bad)} such entries in split '
                f'{self.split!r}):\n{listed}\n',
                'class folders may only hold image files '
                f'{" ".join(IMG_EXTENSIONS)}; remove or move the others')
        if not data_list:
            raise self._empty_split_error(
                split_dir, f'the class folders {sorted(by_key.values())} '
                'hold no image', f'put the images of split {self.split!r} '
                'into its <class> folders (extensions '
                f'{" ".join(IMG_EXTENSIONS)})')
        return data_list

    def extra_repr(self) -> List[str]:
        """The extra repr information of the dataset."""
        lines = super().extra_repr() + [
            f'Images: \t{self.img_prefix}/<class>/<image>'
        ]
        if self.subject_pattern is not None:
            lines.append(f'Subject pattern: \t{self.subject_pattern}')
        return lines
