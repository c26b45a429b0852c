"""SFEW 2.0 and CAER-S: ``<split>/<Class>/<image>`` folder datasets."""
import os
import os.path as osp
from typing import Dict, List

from ferpretrain.registry import DATASETS
from .base_fer import (BaseFERDataset, annotation_error, is_os_junk,
                       require_dir)
from .categories import CAERS_CATEGORIES, SFEW_CATEGORIES

_IMG_EXTS = ('.png', '.jpg', '.jpeg', '.bmp')


class _ClassFolderDataset(BaseFERDataset):
    """``<data_root>/<split folder>/<Class>/<image>``, classes by name.

    Subclasses set ``METAINFO``, ``SPLITS`` and ``SPLIT_DIRS`` (split ->
    folder name). Folder names match class and split names
    case-insensitively; the label is the index of the class in
    ``METAINFO['classes']``, never the folder's sorted position. Hidden
    files, ``Thumbs.db`` and ``desktop.ini`` are ignored; unknown folders,
    non-image files and an empty split raise errors naming them. Data infos
    carry ``img_path``, ``gt_label`` and ``ann_source`` (the image path),
    sorted by class then file name.
    """

    SPLIT_DIRS: Dict[str, str] = {}

    def __init__(self, data_root: str, split: str = 'train', **kwargs):
        super().__init__(
            data_root=data_root, split=split, ann_file='', **kwargs)

    def _split_dir(self) -> str:
        name = type(self).__name__
        want = self.SPLIT_DIRS[self.split]
        layout = (f"<data_root>/{want}/<Class>/*.png with classes "
                  f"{' '.join(self.CLASSES)}")
        require_dir(self.data_root, f'{name} data_root', layout,
                    'set data_root to the folder holding ' +
                    ' and '.join(f'{d}/' for d in self.SPLIT_DIRS.values()))
        path = osp.join(self.data_root, want)
        if not osp.isdir(path):
            for entry in os.scandir(self.data_root):
                if entry.is_dir() and entry.name.lower() == want.lower():
                    return entry.path
        return require_dir(
            path, f'{name} {self.split} folder', layout,
            'set data_root to the folder holding ' +
            ' and '.join(f'{d}/' for d in self.SPLIT_DIRS.values()),
            self.data_root, want)

    def load_data_list(self) -> List[dict]:
        """Scan ``<split folder>/<Class>/`` and label by class name."""
        split_dir = self._split_dir()
        by_name = {c.lower(): i for i, c in enumerate(self.CLASSES)}
        samples = []
        for cls in sorted(os.scandir(split_dir), key=lambda e: e.name):
            if is_os_junk(cls.name):
                continue
            if not cls.is_dir():
                raise annotation_error(
                    cls.path, 'unexpected file',
                    f'images belong in {split_dir}/<Class>/')
            label = by_name.get(cls.name.lower())
            if label is None:
                raise annotation_error(
                    cls.path, f'unknown class folder {cls.name!r}',
                    f"expected {' '.join(self.CLASSES)} (any case)")
            for entry in sorted(os.scandir(cls.path), key=lambda e: e.name):
                if is_os_junk(entry.name):
                    continue
                if not entry.is_file() or not entry.name.lower().endswith(
                        _IMG_EXTS):
                    raise annotation_error(
                        entry.path, 'not an image file',
                        f"expected {'/'.join(_IMG_EXTS)} files")
                samples.append((label, entry.name, entry.path))
        if not samples:
            raise self._empty_split_error(f'{split_dir}/<Class>/',
                                          'no image file')
        samples.sort()
        return [
            dict(img_path=path, gt_label=label, ann_source=path)
            for label, _, path in samples
        ]

    def extra_repr(self) -> List[str]:
        """The extra repr information of the dataset."""
        return [
            f'Root of dataset: \t{self.data_root}',
            f'Split: \t{self.split} ({self.SPLIT_DIRS[self.split]}/'
            '<Class>/)'
        ]


@DATASETS.register_module()
class SFEW(_ClassFolderDataset):
    """SFEW 2.0 (Static Facial Expressions in the Wild), 7 classes.

    `SFEW 2.0 <https://users.cecs.anu.edu.au/~few_group/AFEW.html>`_
    (Dhall et al., EmotiW 2015), frames from movies. **The layout is
    unverified** (written from the documentation of the release, not
    checked against a copy)::

        SFEW_2.0                  <- data_root
        ├── Train
        │   ├── Angry
        │   │   └── *.png
        │   └── Disgust Fear Happy Neutral Sad Surprise
        └── Val
            └── Angry ... Surprise

    Labels 0..6 = ``('Angry', 'Disgust', 'Fear', 'Happy', 'Neutral', 'Sad',
    'Surprise')`` (:data:`SFEW_CATEGORIES`), mapped from folder names
    case-insensitively, never by sorting. Splits ``'train'`` (``Train/``)
    and ``'val'`` (``Val/``). The test labels are not public, so
    ``split='test'`` raises: results are reported on Val (build it with
    ``split='val', test_mode=True``). Unknown class folders, non-image
    files and an empty split raise errors naming them.

    Args:
        data_root (str): The folder holding ``Train/`` and ``Val/``.
        split (str): ``'train'`` or ``'val'``. Defaults to ``'train'``.
        **kwargs: Other arguments of :class:`BaseFERDataset`.
    """

    METAINFO = {'classes': SFEW_CATEGORIES}
    SPLITS = ('train', 'val')
    SPLIT_DIRS = {'train': 'Train', 'val': 'Val'}

    def __init__(self, data_root: str, split: str = 'train', **kwargs):
        if split == 'test':
            raise ValueError(
                "SFEW: split='test' is not available: the SFEW 2.0 test "
                'labels are not public; results are reported on Val (use '
                "split='val', test_mode=True).")
        super().__init__(data_root=data_root, split=split, **kwargs)


@DATASETS.register_module()
class CAERS(_ClassFolderDataset):
    """CAER-S (static Context-Aware Emotion Recognition), 7 classes.

    `CAER-S <https://caer-dataset.github.io/>`_ (Lee et al., ICCV 2019),
    frames of TV shows. **The layout is unverified** (written from the
    documentation of the release, not checked against a copy)::

        CAER-S                    <- data_root
        ├── train
        │   ├── Anger
        │   │   └── *.png
        │   └── Disgust Fear Happy Neutral Sad Surprise
        └── test
            └── Anger ... Surprise

    Labels 0..6 = ``('Anger', 'Disgust', 'Fear', 'Happy', 'Neutral', 'Sad',
    'Surprise')`` (:data:`CAERS_CATEGORIES`), mapped from folder names
    case-insensitively, never by sorting. Splits ``'train'`` and
    ``'test'``. Unknown class folders, non-image files and an empty split
    raise errors naming them.

    Args:
        data_root (str): The folder holding ``train/`` and ``test/``.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        **kwargs: Other arguments of :class:`BaseFERDataset`.
    """

    METAINFO = {'classes': CAERS_CATEGORIES}
    SPLITS = ('train', 'test')
    SPLIT_DIRS = {'train': 'train', 'test': 'test'}
