"""RAF-DB (Real-world Affective Faces Database), basic emotion subset."""
import os.path as osp
from typing import List, Optional

from ferpretrain.registry import DATASETS
from .base_fer import (BaseFERDataset, annotation_error, ann_source,
                       check_choice, check_images_exist, int_in_range,
                       open_label_file, require_dir, require_file)
from .categories import RAFDB_CATEGORIES

# image_type -> (folder under data_root, suffix replacing '.jpg' of a name)
_IMAGE_TYPES = {
    'aligned': ('Image/aligned', '_aligned.jpg'),
    'original': ('Image/original', '.jpg'),
}
_SPLIT_PREFIXES = {'train': 'train_', 'test': 'test_'}


@DATASETS.register_module()
class RAFDB(BaseFERDataset):
    """RAF-DB basic: 7 basic expressions, 12,271 train / 3,068 test images.

    `RAF-DB <http://www.whdeng.cn/raf/model1.html>`_ (Li, Deng and Du,
    CVPR 2017). The class reads the official ``basic`` download as it is:
    ::

        basic                                  <- data_root
        ├── EmoLabel
        │   └── list_patition_label.txt        "train_00001.jpg 5" a line
        ├── Image
        │   ├── original
        │   │   ├── train_00001.jpg            whole images
        │   │   ├── ...
        │   │   └── test_3068.jpg
        │   └── aligned
        │       ├── train_00001_aligned.jpg    100x100 aligned faces
        │       ├── ...
        │       └── test_3068_aligned.jpg
        └── Annotation                         landmarks, boxes (unused)

    (``list_patition_label.txt`` is the file's real, misspelt name.) The
    split is the file-name prefix ``train_`` / ``test_``; the test split is
    the conventional evaluation set (build it with ``split='test',
    test_mode=True``).

    Labels: the file's codes 1..7 become ``gt_label`` 0..6 =
    ``('Surprise', 'Fear', 'Disgust', 'Happiness', 'Sadness', 'Anger',
    'Neutral')`` (:data:`RAFDB_CATEGORIES`). Other repositories re-order
    them: POSTER uses ``label - 1`` (the same order), APViT its own
    (:data:`APVIT_RAFDB_CATEGORIES`); converting their checkpoints means
    permuting the head rows (:func:`label_permutation`).

    Per-class counts (Sur/Fea/Dis/Hap/Sad/Ang/Neu):

    ====== ===== === === ==== ==== === ==== ======
    split  Sur   Fea Dis Hap  Sad  Ang Neu  total
    ====== ===== === === ==== ==== === ==== ======
    train  1290  281 717 4772 1982 705 2524 12,271
    test   329   74  160 1185 478  162 680  3,068
    ====== ===== === === ==== ==== === ==== ======

    Every listed image must exist; malformed lines, labels outside 1..7,
    duplicated names and unknown prefixes raise errors naming
    ``<label file>:<line>``. Each data info carries ``img_path``,
    ``gt_label`` and ``ann_source`` (``'<label file>:<line>'``).

    Args:
        data_root (str): The ``basic`` folder.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        image_type (str): ``'aligned'`` (``Image/aligned/<name>_aligned.jpg``)
            or ``'original'`` (``Image/original/<name>.jpg``). Defaults to
            ``'aligned'``.
        ann_file (str): Label file, relative to ``data_root`` or absolute.
            Defaults to ``'EmoLabel/list_patition_label.txt'``.
        img_dir (str, optional): Image folder (relative to ``data_root`` or
            absolute) replacing the one of ``image_type``, for faces
            re-aligned by a preparation tool, e.g. APViT's
            ``'Image/aligned_224'``. Defaults to None.
        img_suffix (str, optional): What replaces ``'.jpg'`` of a listed
            name to give the image file name. Defaults to None: the suffix
            of ``image_type`` (``'_aligned.jpg'`` or ``'.jpg'``). APViT's
            ``aligned_224`` faces keep the plain names: ``'.jpg'``.
        **kwargs: Other arguments of :class:`BaseFERDataset` (``pipeline``,
            ``test_mode``, ``indices``, ...).

    Examples:
        >>> from ferpretrain.datasets import RAFDB
        >>> test_set = RAFDB('data/RAF-DB/basic', split='test',
        ...                  test_mode=True)
        >>> test_set
        Dataset RAFDB
            Number of samples:  3068
            Number of categories:       7
            Root of dataset:    data/RAF-DB/basic
            Split:      test
            Label file:         data/RAF-DB/basic/EmoLabel/list_patition_label.txt
            Images:     data/RAF-DB/basic/Image/aligned/<name>_aligned.jpg
        >>> # faces re-aligned to 224x224 by a preparation tool
        >>> RAFDB('data/RAF-DB/basic', split='train',
        ...       img_dir='Image/aligned_224', img_suffix='.jpg')
        >>> # in a config
        >>> dataset = dict(type='RAFDB', data_root='data/RAF-DB/basic',
        ...                split='test', test_mode=True,
        ...                pipeline=[dict(type='LoadFERImage'),
        ...                          dict(type='PackInputs')])
    """  # noqa: E501

    METAINFO = {'classes': RAFDB_CATEGORIES}
    SPLITS = ('train', 'test')

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 image_type: str = 'aligned',
                 ann_file: str = 'EmoLabel/list_patition_label.txt',
                 img_dir: Optional[str] = None,
                 img_suffix: Optional[str] = None,
                 **kwargs):
        check_choice('RAFDB', 'image_type', image_type, _IMAGE_TYPES)
        default_dir, default_suffix = _IMAGE_TYPES[image_type]
        self.image_type = image_type
        self.img_suffix = default_suffix if img_suffix is None else img_suffix
        self._custom_img_dir = img_dir is not None
        super().__init__(
            data_root=data_root,
            split=split,
            ann_file=ann_file,
            data_prefix=default_dir if img_dir is None else img_dir,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Parse the label file, keep ``self.split``, check the images."""
        rel = 'EmoLabel/list_patition_label.txt'
        require_file(
            self.ann_file,
            'RAF-DB label file',
            f"<data_root>/{rel} as in the official RAF-DB 'basic' download",
            "set data_root to the 'basic' folder (the one holding EmoLabel/ "
            'and Image/), or ann_file to the label file',
            data_root=self.data_root,
            expected_rel=rel)
        if self._custom_img_dir:
            img_hint = 'check img_dir (relative to data_root or absolute)'
        else:
            img_hint = (f"image_type={self.image_type!r} reads "
                        f"<data_root>/{_IMAGE_TYPES[self.image_type][0]}; "
                        'set data_root to the \'basic\' folder, or img_dir '
                        'to a folder of re-aligned faces')
        require_dir(
            self.img_prefix,
            'RAF-DB image folder',
            f'<image folder>/<name>{self.img_suffix} for each listed '
            '<name>.jpg',
            img_hint,
            data_root=self.data_root,
            expected_rel=_IMAGE_TYPES[self.image_type][0])

        prefix = _SPLIT_PREFIXES[self.split]
        known = tuple(_SPLIT_PREFIXES.values())
        num_classes = len(RAFDB_CATEGORIES)
        first_seen = {}
        data_list = []
        with open_label_file(self.ann_file) as f:
            for lineno, line in enumerate(f, start=1):
                fields = line.split()
                if not fields:
                    continue  # a blank (e.g. trailing) line holds no sample
                source = ann_source(self.ann_file, lineno)
                if len(fields) != 2:
                    raise annotation_error(
                        source, f'expected "<name>.jpg <label>", got '
                        f'{line.strip()!r}',
                        'restore the line from the official label file')
                name, label = fields
                code = int_in_range(label, 1, num_classes)
                if code is None:
                    raise annotation_error(
                        source, f'label {label!r} of {name} is not an '
                        f'integer in 1..{num_classes}',
                        f'codes 1..7 = {", ".join(RAFDB_CATEGORIES)}')
                if name in first_seen:
                    raise annotation_error(
                        source, f'{name} is listed again (first at line '
                        f'{first_seen[name]})')
                first_seen[name] = lineno
                if not name.startswith(known):
                    raise annotation_error(
                        source, f'{name} has an unknown prefix',
                        f'RAF-DB names start with {" or ".join(known)}')
                if not name.startswith(prefix):
                    continue
                stem = osp.splitext(name)[0]
                data_list.append(
                    dict(
                        img_path=osp.join(self.img_prefix,
                                          stem + self.img_suffix),
                        gt_label=code - 1,
                        ann_source=source))

        if not data_list:
            raise self._empty_split_error(
                self.ann_file, f"no name starts with '{prefix}'",
                "the official label file lists both 'train_' and 'test_' "
                'names: this one is cut short or another file')
        check_images_exist(
            data_list,
            hint=f'Images are looked up as <image folder>/<name>'
            f'{self.img_suffix}; ' + img_hint + '.')
        return data_list

    def extra_repr(self) -> List[str]:
        """The extra repr information of the dataset."""
        return super().extra_repr() + [
            f'Label file: \t{self.ann_file}',
            f'Images: \t{self.img_prefix}/<name>{self.img_suffix}',
        ]
