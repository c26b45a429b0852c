"""Face crops labelled with 68 (x, y) landmarks, read from a CSV file.

The CSV is what ``tools/dataset_converters/label_landmarks.py`` writes (dlib's
68-point shape predictor run on every image of a folder)::

    img_path,box_source,x0,y0,x1,y1,...,x67,y67
    train/angry/Training_10118481.jpg,fallback,0.06510,0.42969,...
    train/angry/Training_10120469.jpg,detected,0.34115,0.39323,...

- ``img_path``: the image, relative to ``data_prefix`` (itself relative to
  ``data_root``), as in every mmengine dataset;
- ``box_source``: ``detected`` (dlib's HOG detector found the face and the
  landmarks were fitted in its box) or ``fallback`` (no face was detected
  and the landmarks were fitted in the median box of the detected faces;
  less reliable, kept so that a metric can be reported on each kind);
- ``x<i>, y<i>``: landmark ``i`` of the iBUG 300-W 68-point scheme as a
  fraction of the image width and height, pixel centres at half-integers:
  ``x = (column + 0.5) / width``, so the image spans [0, 1], a resize
  leaves the values unchanged and a horizontal flip maps ``x`` to
  ``1 - x`` exactly. Points may lie slightly outside [0, 1] (tight crops
  cut the chin). This is the convention of MobileFaceNet's landmark head
  (:mod:`ferpretrain.models.backbones.mobilefacenet`).

An example layout (the one of ``configs/landmarks/``), with the CSVs next
to the split folders::

    data/fer2013                      <- data_root
    ├── train_landmarks.csv           <- ann_file of the training set
    ├── test_landmarks.csv
    ├── train/angry/Training_10118481.jpg  <- img_path 'train/angry/...'
    └── test/...

Only transforms that keep fractions valid may run before packing: resizes
of the whole image (``Resize``, ``LoadFERImage``) and
:class:`~ferpretrain.datasets.transforms.LandmarkRandomFlip`, which flips
the landmarks with the image. mmpretrain's ``RandomFlip``,
``RandomResizedCrop`` or rotations move the face but not its labels.
Pack with ``dict(type='PackInputs', algorithm_keys=('gt_landmarks', ))``
(add ``'box_source'`` to ``meta_keys`` to let
:class:`~ferpretrain.evaluation.LandmarkNME` report each box source).
"""
import csv
import os.path as osp
from typing import List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset

from ferpretrain.registry import DATASETS, TRANSFORMS
from .base_fer import (FERSampleError, ann_source, annotation_error,
                       check_images_exist, open_label_file,
                       require_file)
from .small_images import SIZE_CHECKED_KEY, check_mode, report_small_images

#: Points of the iBUG 300-W scheme dlib's 68-point predictor locates.
NUM_LANDMARKS = 68

#: The values ``box_source`` may take.
BOX_SOURCES = ('detected', 'fallback')

#: The header of a landmark CSV (138 columns).
LANDMARK_CSV_HEADER = ('img_path', 'box_source') + tuple(
    f'{axis}{i}' for i in range(NUM_LANDMARKS) for axis in 'xy')

_LABEL_HINT = ('write it with tools/dataset_converters/label_landmarks.py, '
               'or fix the line by hand')


@DATASETS.register_module()
class FaceLandmarkDataset(BaseDataset):
    """Images with 68 landmarks from a ``label_landmarks.py`` CSV.

    Each data info holds ``img_path`` (joined with ``data_root`` and
    ``data_prefix``), ``gt_landmarks`` (``(68, 2)`` float32, x and y as
    fractions of the image width and height, see the module docstring),
    ``box_source`` (``'detected'`` or ``'fallback'``) and ``ann_source``
    (``'<csv>:<line>'``, named when the sample fails in the pipeline).

    Checks, each raising an error that names the file and line and says how
    to fix it (nothing is skipped; blank lines are not samples):

    - the CSV missing (``FileNotFoundError``);
    - a header other than :data:`LANDMARK_CSV_HEADER`, a row with another
      number of columns, an empty ``img_path``, an unknown ``box_source``,
      a coordinate that is not a finite number, an image listed twice
      (:class:`~ferpretrain.datasets.FERAnnotationError`);
    - listed images missing on disk (``FileNotFoundError`` listing them with
      their lines; ``check_images=False`` skips this for remote storage).

    Args:
        ann_file (str): The CSV, relative to ``data_root`` or absolute.
        data_root (str): Root of ``ann_file`` and ``data_prefix``.
            Defaults to ``''``.
        data_prefix (str | dict): Folder the CSV's ``img_path`` values are
            relative to, under ``data_root``; a string or mmengine's
            ``dict(img_path=...)``. Defaults to ``''`` (``data_root``).
        check_images (bool): Check that every listed image is a file.
            Defaults to True.
        check_image_size (str | bool): Report images with a side under 16
            px once, at load, as :class:`BaseFERDataset` does (``'auto'``,
            True or False). Defaults to ``'auto'``.
        **kwargs: Other arguments of :class:`mmengine.dataset.BaseDataset`
            (``pipeline``, ``test_mode``, ``indices``, ...).

    Examples:
        >>> dataset = dict(
        ...     type='FaceLandmarkDataset',
        ...     data_root='data/fer2013',
        ...     ann_file='train_landmarks.csv',
        ...     pipeline=[
        ...         dict(type='LoadFERImage'),
        ...         dict(type='Resize', scale=(64, 64)),
        ...         dict(type='LandmarkRandomFlip', prob=0.5),
        ...         dict(type='PackInputs', algorithm_keys=('gt_landmarks', ))
        ...     ])
    """

    METAINFO = dict(
        num_landmarks=NUM_LANDMARKS,
        landmark_scheme='iBUG 300-W 68 points',
        landmark_units='fractions of the image width and height')

    def __init__(self,
                 ann_file: str,
                 data_root: str = '',
                 data_prefix: Union[str, dict] = '',
                 check_images: bool = True,
                 check_image_size: Union[str, bool] = 'auto',
                 **kwargs):
        if not ann_file:
            raise ValueError(
                'FaceLandmarkDataset: ann_file is required: the CSV written '
                'by tools/dataset_converters/label_landmarks.py.')
        if isinstance(data_prefix, str):
            data_prefix = dict(img_path=data_prefix)
        # mmengine's Compose builds dicts in the current default scope (the
        # root registry outside a runner); build them in mmpretrain's, where
        # ferpretrain's and mmpretrain's transforms are, as mmpretrain's own
        # datasets do.
        kwargs['pipeline'] = [
            TRANSFORMS.build(t) if isinstance(t, dict) else t
            for t in kwargs.get('pipeline') or []
        ]
        self.check_images = check_images
        self.check_image_size = check_mode(check_image_size,
                                           type(self).__name__)
        self._image_sizes_checked = False
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Parse and check the CSV (see the class docstring)."""
        path = require_file(
            self.ann_file, 'FaceLandmarkDataset ann_file',
            'a CSV with the header img_path,box_source,x0,y0,...,x67,y67 '
            'as tools/dataset_converters/label_landmarks.py writes it',
            'set ann_file (relative to data_root, or absolute), or run '
            'label_landmarks.py to create it')
        prefix = self.data_prefix.get('img_path', '') or ''
        data_list, seen = [], {}
        with open_label_file(path, newline='') as f:
            reader = csv.reader(f)
            header = next(reader, None)
            _check_header(path, header)
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # a blank line, e.g. at the end of the file
                source = ann_source(path, reader.line_num)
                rel, box_source, points = _parse_row(source, row)
                if rel in seen:
                    raise annotation_error(
                        source, f'image {rel!r} is listed twice (first at '
                        f'line {seen[rel]})', 'keep one of the two lines')
                seen[rel] = reader.line_num
                data_list.append(
                    dict(
                        img_path=osp.join(prefix, rel),
                        gt_landmarks=points,
                        box_source=box_source,
                        ann_source=source))
        if not data_list:
            raise annotation_error(
                path, 'no sample: the CSV holds only its header',
                'label a folder that holds images with label_landmarks.py')
        if self.check_images:
            check_images_exist(
                data_list,
                hint=f'The img_path values of {path} are relative to '
                f"'{prefix}' (data_root joined with data_prefix): set "
                'data_root/data_prefix to the folder label_landmarks.py '
                'wrote them relative to (its --relative-to).')
        return data_list

    def filter_data(self) -> List[dict]:
        """Keep every sample; report those with a side under 16 px (see
        :meth:`BaseFERDataset.filter_data`)."""
        data_list = super().filter_data()
        self._image_sizes_checked = report_small_images(
            f'{type(self).__name__} ({self.ann_file})', data_list,
            self.check_image_size)
        return data_list

    def prepare_data(self, idx: int):
        """Run the pipeline on sample ``idx``; name the sample on failure.

        Raises:
            FERSampleError: If the pipeline raises; the message names the
                image and the CSV line it came from.
        """
        data_info = self.get_data_info(idx)
        if self._image_sizes_checked:
            data_info[SIZE_CHECKED_KEY] = True
        try:
            return self.pipeline(data_info)
        except Exception as e:
            # A bare cv2 assertion does not say which of thousands of files
            # is at fault.
            raise FERSampleError(
                f'{type(self).__name__}: sample {idx} failed in the '
                f"pipeline: image {data_info.get('img_path')} (annotation "
                f"{data_info.get('ann_source', 'unknown')}): "
                f'{type(e).__name__}: {e}') from e

    def get_box_sources(self) -> List[str]:
        """``box_source`` of every sample, in order."""
        return [
            self.get_data_info(i)['box_source'] for i in range(len(self))
        ]

    def __repr__(self) -> str:
        head = f'Dataset {type(self).__name__}'
        if not self._fully_initialized:
            return f'{head}\n    (not loaded yet)'
        return (f'{head}\n    Number of samples: \t{len(self)}\n'
                f'    Annotation file: \t{self.ann_file}\n'
                f"    Images: \t{self.data_prefix.get('img_path', '')}"
                '/<img_path>')


def _check_header(path: str, header: Optional[Sequence[str]]) -> None:
    expected = LANDMARK_CSV_HEADER
    if header is None:
        raise annotation_error(
            ann_source(path, 1), 'empty file, expected the header '
            f'{",".join(expected[:4])},...,x67,y67', _LABEL_HINT)
    header = [h.strip() for h in header]
    if tuple(header) == expected:
        return
    if len(header) != len(expected):
        problem = (f'the header has {len(header)} columns, expected '
                   f'{len(expected)} (img_path, box_source, x0, y0, ..., '
                   'x67, y67)')
    else:
        col = next(i for i, (a, b) in enumerate(zip(header, expected))
                   if a != b)
        problem = (f'header column {col + 1} is {header[col]!r}, expected '
                   f'{expected[col]!r}')
    raise annotation_error(
        ann_source(path, 1), problem,
        'this is not a label_landmarks.py CSV; ' + _LABEL_HINT)


def _parse_row(source: str, row: Sequence[str]):
    """``(img_path, box_source, (68, 2) float32)`` of one CSV row."""
    if len(row) != len(LANDMARK_CSV_HEADER):
        raise annotation_error(
            source, f'{len(row)} columns, expected '
            f'{len(LANDMARK_CSV_HEADER)} (img_path, box_source and 136 '
            'coordinates)', _LABEL_HINT)
    rel, box_source = row[0].strip(), row[1].strip()
    if not rel:
        raise annotation_error(source, 'empty img_path', _LABEL_HINT)
    if box_source not in BOX_SOURCES:
        raise annotation_error(
            source, f'box_source is {box_source!r}, expected one of '
            f'{BOX_SOURCES}', _LABEL_HINT)
    values = np.empty(2 * NUM_LANDMARKS, dtype=np.float64)
    for i, text in enumerate(row[2:]):
        try:
            values[i] = float(text)
        except ValueError:
            values[i] = np.nan
        if not np.isfinite(values[i]):
            raise annotation_error(
                source, f'column {LANDMARK_CSV_HEADER[i + 2]!r} is '
                f'{text!r}, not a finite number', _LABEL_HINT)
    return rel, box_source, values.astype(np.float32).reshape(
        NUM_LANDMARKS, 2)
