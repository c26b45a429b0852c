"""SFEW 2.0 and CAER-S: ``<split>/<Class>/<image>`` folder datasets."""
import os
import os.path as osp
from typing import Dict

from ferpretrain.registry import DATASETS
from .base_fer import check_choice, require_dir
from .categories import CAERS_CATEGORIES, SFEW_CATEGORIES
from .fer_folder import FERFolder


class _FixedClassFolder(FERFolder):
    """A :class:`FERFolder` with the release's own classes and split folders.

    Subclasses set ``METAINFO`` and ``SPLIT_DIRS`` (split -> folder name,
    matched case-insensitively). Everything else, the class-by-name mapping
    and every error, is :class:`FERFolder`'s.
    """

    SPLIT_DIRS: Dict[str, str] = {}

    def __init__(self, data_root: str, split: str = 'train', **kwargs):
        name = type(self).__name__
        check_choice(name, 'split', split, self.SPLIT_DIRS)
        want = self.SPLIT_DIRS[split]
        layout = (f"<data_root>/{want}/<Class>/*.png with classes "
                  f"{' '.join(self.METAINFO['classes'])}")
        hint = ('set data_root to the folder holding ' +
                ' and '.join(f'{d}/' for d in self.SPLIT_DIRS.values()))
        require_dir(data_root, f'{name} data_root', layout, hint)
        folder = next((e.name for e in os.scandir(data_root)
                       if e.is_dir() and e.name.lower() == want.lower()),
                      None)
        if folder is None:
            require_dir(
                osp.join(data_root, want), f'{name} {split} folder', layout,
                hint, data_root, want)
        super().__init__(
            data_root=data_root,
            classes=self.METAINFO['classes'],
            split=folder,
            **kwargs)


@DATASETS.register_module()
class SFEW(_FixedClassFolder):
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
        split (str): ``'train'`` or ``'val'`` (``'test'`` raises: its
            labels are not public). Defaults to ``'train'``.
        **kwargs: Other arguments of :class:`FERFolder` (pipeline,
            test_mode, ...).
    """

    METAINFO = {'classes': SFEW_CATEGORIES}
    SPLIT_DIRS = {'train': 'Train', 'val': 'Val'}

    def __init__(self, data_root: str, split: str = 'train', **kwargs):
        if split == 'test':
            raise ValueError(
                "SFEW: split='test' is not available: the SFEW 2.0 test "
                'labels are not public; results are reported on Val (use '
                "split='val', test_mode=True).")
        super().__init__(data_root=data_root, split=split, **kwargs)


@DATASETS.register_module()
class CAERS(_FixedClassFolder):
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
            ├── Anger
            │   └── *.png
            └── Disgust Fear Happy Neutral Sad Surprise

    Labels 0..6 = ``('Anger', 'Disgust', 'Fear', 'Happy', 'Neutral', 'Sad',
    'Surprise')`` (:data:`CAERS_CATEGORIES`), mapped from folder names
    case-insensitively, never by sorting. Splits ``'train'`` and
    ``'test'``. Unknown class folders, non-image files and an empty split
    raise errors naming them.

    Args:
        data_root (str): The folder holding ``train/`` and ``test/``.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        **kwargs: Other arguments of :class:`FERFolder` (pipeline,
            test_mode, ...).
    """

    METAINFO = {'classes': CAERS_CATEGORIES}
    SPLIT_DIRS = {'train': 'train', 'test': 'test'}
