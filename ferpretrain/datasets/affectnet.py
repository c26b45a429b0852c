"""AffectNet (Mollahosseini, Hasani and Mahoor, 2017), manual annotations."""
import csv
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional

from mmengine.logging import MMLogger

from ferpretrain.registry import DATASETS
from .base_fer import (BaseFERDataset, annotation_error, ann_source,
                       check_images_exist, int_in_range, open_label_file,
                       require_dir, require_file)
from .categories import AFFECTNET_CATEGORIES, AFFECTNET_CODES


_HEADER = ('subDirectory_filePath', 'face_x', 'face_y', 'face_width',
           'face_height', 'facial_landmarks', 'expression', 'valence',
           'arousal')
_LIST_DIR = 'Manually_Annotated_file_lists'
_IMG_DIR = 'Manually_Annotated_Images'
_SPLIT_FILES = {
    'train': f'{_LIST_DIR}/training.csv',
    'val': f'{_LIST_DIR}/validation.csv',
    'test': f'{_LIST_DIR}/validation.csv',
}
_CONTEMPT = 7


@DATASETS.register_module()
class AffectNet(BaseFERDataset):
    """AffectNet, manually annotated part: 8 expressions (or 7 without
    Contempt).

    `AffectNet <http://mohammadmahoor.com/affectnet/>`_ (Mollahosseini,
    Hasani and Mahoor, IEEE TAC 2017). The class reads the official
    download as it is:
    ::

        AffectNet                                  <- data_root
        ├── Manually_Annotated_file_lists
        │   ├── training.csv                       header row, one image a row
        │   └── validation.csv
        └── Manually_Annotated_Images
            ├── 1
            │   ├── <sha1>.jpg                     whole images, with the
            │   └── ...                            face box in the csv
            ├── ...
            └── 1001

    The csv columns are ``subDirectory_filePath, face_x, face_y,
    face_width, face_height, facial_landmarks, expression, valence,
    arousal`` (``facial_landmarks`` is a quoted ``;``-separated list of
    floats, unused). ``expression`` codes 0..10 are ``Neutral, Happy, Sad,
    Surprise, Fear, Disgust, Anger, Contempt, None, Uncertain, No-Face``
    (:data:`AFFECTNET_CODES`).

    Labels: ``num_classes=8`` keeps codes 0..7 as ``gt_label`` 0..7
    (:data:`AFFECTNET_CATEGORIES`); ``num_classes=7`` also drops Contempt
    (code 7), giving the first 7 names. Codes 8..10 (None, Uncertain,
    No-Face) are always excluded. Nothing is dropped silently: the number
    of rows excluded per reason is logged and kept in :attr:`excluded`.

    Splits: ``'train'`` reads ``training.csv``; ``'val'`` and ``'test'``
    both read ``validation.csv``: AffectNet's test set is not public, and
    papers (POSTER, POSTER V2, DAN, APViT, ...) report accuracy on the
    validation set (500 images a class). The training set is heavily
    imbalanced; papers train with a class-balanced sampler
    (:class:`ClassBalancedSampler`).

    The images are whole pictures: crop the face with
    :class:`CropFaceBox` right after loading. Each data info carries
    ``img_path``, ``gt_label``, ``face_box`` (``(x, y, w, h)``, ints, in
    pixels), ``valence``, ``arousal`` and ``ann_source``
    (``'<csv>:<line>'``).

    Rows with a wrong column count, a non-numeric or empty box, a
    non-integer expression or one outside 0..10 raise
    :class:`FERAnnotationError` naming ``<csv>:<line>``; listed images that
    are missing raise ``FileNotFoundError`` naming the image and its line.

    Args:
        data_root (str): The folder holding ``Manually_Annotated_file_lists``
            and ``Manually_Annotated_Images``.
        split (str): ``'train'``, ``'val'`` or ``'test'`` (= ``'val'``).
            Defaults to ``'train'``.
        num_classes (int): 7 or 8. Defaults to 8.
        ann_file (str, optional): The csv, relative to ``data_root`` or
            absolute. Defaults to None: the official csv of ``split``.
        img_dir (str): Image folder, relative to ``data_root`` or absolute.
            Defaults to ``'Manually_Annotated_Images'``.
        **kwargs: Other arguments of :class:`BaseFERDataset` (``pipeline``,
            ``test_mode``, ``indices``, ...). ``metainfo`` / ``classes``
            are set from ``num_classes`` and may not be given.

    Examples:
        >>> from ferpretrain.datasets.affectnet import AffectNet
        >>> val = AffectNet('data/AffectNet', split='val', num_classes=7,
        ...                 test_mode=True)
        >>> val.CLASSES
        ('Neutral', 'Happy', 'Sad', 'Surprise', 'Fear', 'Disgust', 'Anger')
        >>> # in a config
        >>> train_dataloader = dict(
        ...     batch_size=64,
        ...     sampler=dict(type='ClassBalancedSampler'),
        ...     dataset=dict(
        ...         type='AffectNet', data_root='data/AffectNet',
        ...         split='train', num_classes=8,
        ...         pipeline=[dict(type='LoadFERImage'),
        ...                   dict(type='CropFaceBox'),
        ...                   dict(type='Resize', scale=224),
        ...                   dict(type='PackInputs')]))
    """

    METAINFO = {'classes': AFFECTNET_CATEGORIES}
    SPLITS = ('train', 'val', 'test')

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 num_classes: int = 8,
                 ann_file: Optional[str] = None,
                 img_dir: str = _IMG_DIR,
                 **kwargs):
        if num_classes not in (7, 8):
            raise ValueError(
                f'AffectNet: num_classes must be 7 or 8, got {num_classes!r}.')
        if kwargs.get('classes') is not None or \
                'classes' in (kwargs.get('metainfo') or {}):
            raise ValueError('AffectNet: the classes follow num_classes (7 or '
                             '8); do not pass classes / metainfo["classes"].')
        self.num_classes = num_classes
        self._custom_ann_file = ann_file is not None
        self._custom_img_dir = img_dir != _IMG_DIR
        #: Rows left out, by reason (filled by ``load_data_list``).
        self.excluded: Dict[str, int] = OrderedDict()
        if ann_file is None:
            # an invalid split is reported by BaseFERDataset
            ann_file = _SPLIT_FILES.get(split, '')
        metainfo = dict(kwargs.pop('metainfo', None) or {})
        metainfo['classes'] = AFFECTNET_CATEGORIES[:num_classes]
        super().__init__(data_root=data_root, split=split, ann_file=ann_file,
                         metainfo=metainfo, data_prefix=img_dir, **kwargs)

    def _parse_row(self, row: List[str], source: str) -> Optional[dict]:
        """Return the data info of ``row``, or None (counted) if excluded."""
        if len(row) != len(_HEADER):
            raise annotation_error(
                source, f'expected {len(_HEADER)} columns, got {len(row)}',
                'columns: ' + ', '.join(_HEADER) + '; facial_landmarks '
                'must be quoted')
        rel_path = row[0].strip()
        if not rel_path:
            raise annotation_error(source, 'empty subDirectory_filePath')
        box = []
        for name, value in zip(_HEADER[1:5], row[1:5]):
            try:
                box.append(int(round(float(value))))
            except ValueError:
                raise annotation_error(
                    source, f'{name} {value!r} of {rel_path} is not a number'
                ) from None
        if box[2] <= 0 or box[3] <= 0:
            raise annotation_error(
                source, f'face box {tuple(box)} (x, y, w, h) of {rel_path} '
                'is empty')
        expr = row[6].strip()
        code = int_in_range(expr, 0, len(AFFECTNET_CODES) - 1)
        if code is None:
            raise annotation_error(
                source, f'expression {expr!r} of {rel_path} is not an '
                f'integer in 0..{len(AFFECTNET_CODES) - 1}',
                'codes 0..10 = ' + ', '.join(AFFECTNET_CODES))
        affect = []
        for name, value in zip(_HEADER[7:], row[7:]):
            try:
                affect.append(float(value))
            except ValueError:
                raise annotation_error(
                    source, f'{name} {value!r} of {rel_path} is not a number'
                ) from None

        if code >= 8:
            reason = f'{AFFECTNET_CODES[code]} (code {code})'
        elif code == _CONTEMPT and self.num_classes == 7:
            reason = f'Contempt (code {code}, 7-class protocol)'
        else:
            reason = None
        if reason is not None:
            self.excluded[reason] = self.excluded.get(reason, 0) + 1
            return None
        return dict(
            img_path=osp.join(self.img_prefix, rel_path),
            gt_label=code,
            face_box=tuple(box),
            valence=affect[0],
            arousal=affect[1],
            ann_source=source)

    def load_data_list(self) -> List[dict]:
        """Parse the csv of ``self.split``, drop the excluded codes (logged),
        check the images."""
        rel = _SPLIT_FILES[self.split]
        if self._custom_ann_file:
            hint = 'check ann_file (relative to data_root or absolute)'
        else:
            hint = ('set data_root to the folder holding '
                    f'{_LIST_DIR}/ and {_IMG_DIR}/, or ann_file to the csv')
        require_file(
            self.ann_file,
            'AffectNet annotation csv',
            f'<data_root>/{rel} as in the official AffectNet download',
            hint,
            data_root=self.data_root,
            expected_rel=rel)
        img_hint = ('check img_dir (relative to data_root or absolute)'
                    if self._custom_img_dir else
                    f'set data_root to the folder holding {_IMG_DIR}/')
        require_dir(
            self.img_prefix,
            'AffectNet image folder',
            f'<data_root>/{_IMG_DIR}/<subDirectory>/<file>.jpg',
            img_hint,
            data_root=self.data_root,
            expected_rel=_IMG_DIR)

        self.excluded = OrderedDict()
        data_list = []
        with open_label_file(self.ann_file, newline='') as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise annotation_error(
                    ann_source(self.ann_file, 1), 'empty file',
                    'expected the header ' + ','.join(_HEADER))
            if [h.strip() for h in header[:1]] != [_HEADER[0]] or \
                    len(header) != len(_HEADER):
                raise annotation_error(
                    ann_source(self.ann_file, 1),
                    f'unexpected header {",".join(header)!r}',
                    'expected ' + ','.join(_HEADER))
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as e:
                    raise annotation_error(
                        ann_source(self.ann_file, reader.line_num),
                        f'malformed csv: {e}') from e
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # a blank (e.g. trailing) line holds no sample
                info = self._parse_row(
                    row, ann_source(self.ann_file, reader.line_num))
                if info is not None:
                    data_list.append(info)

        total = len(data_list) + sum(self.excluded.values())
        if self.excluded:
            reasons = ', '.join(f'{n} {reason}'
                                for reason, n in self.excluded.items())
            MMLogger.get_current_instance().info(
                f'AffectNet ({self.split}, {self.num_classes} classes): '
                f'kept {len(data_list)} of {total} rows of {self.ann_file}; '
                f'excluded {reasons}')
        if not data_list:
            raise self._empty_split_error(
                self.ann_file, f'{total} rows, none with an expression in '
                f'0..{self.num_classes - 1}',
                'the official csv holds thousands of rows of every '
                'expression: this one is cut short or another file (see the '
                'excluded rows logged above); ' + hint)
        check_images_exist(
            data_list,
            hint='Images are looked up as <image folder>/'
            '<subDirectory_filePath>; ' + img_hint + '.')
        return data_list

    def extra_repr(self) -> List[str]:
        """The extra repr information of the dataset."""
        lines = super().extra_repr() + [
            f'Annotation file: \t{self.ann_file}',
            f'Images: \t{self.img_prefix}/<subDirectory_filePath>',
        ]
        if self.excluded:
            lines.append('Excluded rows: \t' + ', '.join(
                f'{n} {reason}' for reason, n in self.excluded.items()))
        return lines
