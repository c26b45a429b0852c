"""JAFFE (Japanese Female Facial Expression) database."""
import os
import re
from typing import List, Optional

from ferpretrain.registry import DATASETS
from .base_fer import (BaseFERDataset, annotation_error, check_broken_link,
                       check_choice, is_os_junk, require_dir)
from .categories import JAFFE_CATEGORIES, JAFFE_CODES
from .subject_split import leave_one_subject_out, subject_kfold

# KA.AN1.39.tiff: subject, expression code + take, running id
_NAME = re.compile(r'^([A-Za-z]{2})\.([A-Za-z]{2})(\d+)\.(\d+)\.(?i:tiff?)$')


def _is_ignored(name: str) -> bool:
    return is_os_junk(name) or name.lower().startswith('readme')


@DATASETS.register_module()
class JAFFE(BaseFERDataset):
    """JAFFE: 213 posed images of 10 Japanese women, 7 expressions.

    `JAFFE <https://zenodo.org/record/3451524>`_ (Lyons et al., FG 1998).
    A flat folder of 256x256 grayscale TIFF images::

        jaffe                      <- data_root
        ├── KA.AN1.39.tiff         subject KA, anger take 1, running id 39
        ├── KA.NE1.26.tiff
        ├── ...
        └── README                 ignored

    Name = ``<subject>.<code><take>.<id>.tiff``. Labels follow the codes
    sorted alphabetically (a stable, documented choice; JAFFE has no
    official numbering): ``AN DI FE HA NE SA SU`` -> 0..6 = ``('Anger',
    'Disgust', 'Fear', 'Happiness', 'Neutral', 'Sadness', 'Surprise')``
    (:data:`JAFFE_CATEGORIES`). Data infos carry ``img_path``,
    ``gt_label``, ``subject`` (``'KA'``), ``take``, ``image_id`` and
    ``ann_source`` (the image path); samples are sorted by file name.

    The images are whole frames (head and shoulders), not face crops: face
    detection and cropping belong to the data preparation tools (or the
    pipeline), not to this class. The loading pipeline
    (``LoadFERImage``) replicates the gray channel to 3 channels.

    Protocols (subject-independent):

    - ``protocol=None``: all images (``split`` ignored);
    - ``protocol='loso'``: leave-one-subject-out, ``test_subject`` (e.g.
      ``'KA'``) is the ``'test'`` split, the 9 others ``'train'``; run it
      once a subject and average;
    - ``protocol='kfold'``: subjects dealt into ``num_folds`` folds by
      :func:`ferpretrain.datasets.subject_split.subject_kfold` (``seed``),
      fold ``fold`` is ``'test'``.

    Hidden files, ``README*``, ``Thumbs.db`` and ``desktop.ini`` are
    ignored. Any other entry whose name does not parse, or has an unknown
    expression code, or is a broken symbolic link, raises an error naming
    the file.

    Args:
        data_root (str): The folder holding the ``.tiff`` files.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        protocol (str, optional): None, ``'loso'`` or ``'kfold'``.
            Defaults to None.
        test_subject (str, optional): The held-out subject of ``'loso'``
            (case-insensitive). Defaults to None.
        num_folds (int): Folds of ``'kfold'``. Defaults to 10 (one subject
            a fold).
        fold (int): Test fold of ``'kfold'``. Defaults to 0.
        seed (int): Seed of the subject-to-fold assignment. Defaults to 0.
        **kwargs: Other arguments of :class:`BaseFERDataset`.

    Examples:
        >>> from ferpretrain.datasets.jaffe import JAFFE
        >>> dataset = dict(type='JAFFE', data_root='data/jaffe',
        ...                protocol='loso', test_subject='KA', split='test',
        ...                test_mode=True,
        ...                pipeline=[dict(type='LoadFERImage'),
        ...                          dict(type='PackInputs')])
    """

    METAINFO = {'classes': JAFFE_CATEGORIES}
    SPLITS = ('train', 'test')
    PROTOCOLS = (None, 'loso', 'kfold')

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 protocol: Optional[str] = None,
                 test_subject: Optional[str] = None,
                 num_folds: int = 10,
                 fold: int = 0,
                 seed: int = 0,
                 **kwargs):
        check_choice('JAFFE', 'protocol', protocol, self.PROTOCOLS)
        if protocol == 'loso' and not test_subject:
            raise ValueError("JAFFE: protocol='loso' needs test_subject "
                             "(e.g. 'KA').")
        if protocol != 'loso' and test_subject is not None:
            raise ValueError('JAFFE: test_subject is only used with '
                             "protocol='loso'.")
        self.protocol = protocol
        self.test_subject = test_subject.upper() if test_subject else None
        self.num_folds = num_folds
        self.fold = fold
        self.seed = seed
        super().__init__(
            data_root=data_root, split=split, ann_file='', **kwargs)

    def _split_is_training_data(self, split: str) -> bool:
        """``split`` selects training data only under a protocol; with
        ``protocol=None`` it is ignored and all images are used."""
        return self.protocol is not None and \
            super()._split_is_training_data(split)

    def load_data_list(self) -> List[dict]:
        """Parse the file names, keep ``self.split`` of the protocol."""
        root = require_dir(self.data_root, 'JAFFE folder',
                           '<data_root>/KA.AN1.39.tiff ... (a flat folder)',
                           'set data_root to the folder holding the .tiff '
                           'files', self.data_root, 'KA.AN1.39.tiff')
        data_list = []
        for entry in sorted(os.scandir(root), key=lambda e: e.name):
            if _is_ignored(entry.name):
                continue
            check_broken_link(entry)
            match = _NAME.match(entry.name)
            if match is None or not entry.is_file():
                raise annotation_error(
                    entry.path, 'not a JAFFE image name',
                    'expected <subject>.<code><take>.<id>.tiff, e.g. '
                    'KA.AN1.39.tiff')
            subject, code, take, image_id = match.groups()
            code = code.upper()
            if code not in JAFFE_CODES:
                raise annotation_error(
                    entry.path, f'unknown expression code {code!r}',
                    f"expected one of {' '.join(JAFFE_CODES)}")
            data_list.append(
                dict(
                    img_path=entry.path,
                    gt_label=JAFFE_CODES.index(code),
                    subject=subject.upper(),
                    take=int(take),
                    image_id=int(image_id),
                    ann_source=entry.path))
        if not data_list:
            raise ValueError(f'JAFFE: no image under {root} (expected '
                             'names like KA.AN1.39.tiff); set data_root to '
                             'the folder holding the .tiff files (the '
                             'archive unpacks them into one flat folder).')
        if self.protocol is None:
            return data_list
        subjects = [info['subject'] for info in data_list]
        if self.protocol == 'loso':
            try:
                train_idx, test_idx = leave_one_subject_out(
                    subjects, self.test_subject)
            except ValueError as e:
                raise ValueError(f'JAFFE ({root}): {e}') from None
        else:
            try:
                train_idx, test_idx = subject_kfold(
                    subjects, self.num_folds, self.fold, self.seed)
            except (TypeError, ValueError) as e:
                raise ValueError(f'JAFFE ({root}): {e}') from None
        keep = test_idx if self.split == 'test' else train_idx
        return [data_list[i] for i in keep]

    def extra_repr(self) -> List[str]:
        """The extra repr information of the dataset."""
        if self.protocol is None:
            proto = 'none (all images)'
        elif self.protocol == 'loso':
            proto = f'{self.split} of leave-out {self.test_subject}'
        else:
            proto = (f'{self.split} of fold {self.fold}/{self.num_folds} '
                     f'by subject (seed {self.seed})')
        return [
            f'Root of dataset: \t{self.data_root}', f'Protocol: \t{proto}'
        ]
