"""Images too small to hold a face: counted and reported, never dropped.

A face under 16 pixels a side (a thumbnail, a failed crop, a mislabelled
icon) is blown up by the pipeline's resize to the input size and carries
little more than blur; a handful of them in a split usually means a
preparation step went wrong. They are kept (dropping samples would change
the split's counts behind the user's back) and reported once, with a few
example files and what to do about them.

Where the size is found, cheapest first:

- a ``face_box`` in the data info (AffectNet: the face the model sees after
  :class:`CropFaceBox` is the box, not the whole picture): read from the
  annotation, no I/O;
- an in-memory ``img`` array (``fer2013.csv``, whose rows are checked to
  be 48x48 anyway): its shape, no I/O;
- an image file: its header, read with PIL (``Image.open(...).size`` reads
  the first bytes and does not decode), about 25 microseconds a file from
  the page cache, far more from a cold disk or a network file system.

The cost decides when the check runs (:func:`report_small_images`):
``check_image_size='auto'``, the default of the datasets, reads the headers
at load when a split lists at most :data:`AUTO_MAX_HEADER_READS` files:
every official split of RAF-DB, FER2013 / FERPlus, SFEW, CK+ and JAFFE, in
about a second at most; AffectNet needs no read (its face boxes). Bigger
folder datasets are not read at load, which would cost seconds to minutes
on every start; :class:`LoadFERImage`, which decodes every image anyway,
then checks the decoded size for free and reports as it meets them. The
dataset tells the transform which samples it has already checked (the
``img_size_checked`` key), so nothing is reported twice.
"""
import logging
import warnings
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.logging import print_log

#: Images with a side below this many pixels are reported.
MIN_IMAGE_SIDE = 16
#: With ``check_image_size='auto'``, the most image headers read at load.
AUTO_MAX_HEADER_READS = 30000
#: The data info key a dataset sets on samples whose size it has checked.
SIZE_CHECKED_KEY = 'img_size_checked'
#: The values of the datasets' ``check_image_size`` argument.
CHECK_MODES = ('auto', True, False)
# How many small images a report lists.
_MAX_LISTED = 5

#: What a report of small images tells the user to do.
WHAT_TO_DO = (
    'They are kept, and the resize of the pipeline blows them up to the '
    'input size. Check that they are faces (not thumbnails or failed '
    'crops); to leave them out, remove their annotation lines (or the '
    'files of a folder dataset), or re-crop them from the original '
    'pictures.')


def check_mode(value: Union[str, bool], owner: str) -> Union[str, bool]:
    """Validate a ``check_image_size`` argument; return it."""
    # ``is``: 1 and 0 are no modes, though 1 == True
    if not (value == 'auto' or value is True or value is False):
        raise ValueError(f"{owner}: check_image_size must be 'auto', True "
                         f'or False, got {value!r}.')
    return value


def read_image_size(path: str) -> Optional[Tuple[int, int]]:
    """``(width, height)`` from the header of an image file, or None if PIL
    cannot read it (a damaged file is reported by :class:`LoadFERImage`
    when it fails to decode it, naming the file)."""
    from PIL import Image
    try:
        with warnings.catch_warnings():
            # No warnings from a side look at the header (a huge image's
            # bomb warning, corrupt EXIF): the loader reports bad files.
            warnings.simplefilter('ignore')
            with Image.open(path) as img:
                return img.size
    except Exception:
        return None


def _known_size(info: dict) -> Optional[Tuple[int, int, str]]:
    """``(width, height, what)`` without I/O, or None."""
    box = info.get('face_box')
    if box is not None:
        return int(box[2]), int(box[3]), 'face box'
    img = info.get('img')
    if isinstance(img, np.ndarray) and img.ndim >= 2:
        return img.shape[1], img.shape[0], 'image'
    return None


def _sample_name(info: dict) -> str:
    return info.get('img_path') or \
        f"in-memory image ({info.get('ann_source', '?')})"


def small_image_message(owner: str, small: Sequence[Tuple[dict, int, int,
                                                            str]],
                        total: int, min_side: int = MIN_IMAGE_SIDE) -> str:
    """The report of ``small`` = ``[(info, width, height, what)]``."""
    lines = []
    for info, w, h, what in small[:_MAX_LISTED]:
        line = f'  {_sample_name(info)}: {what} {w}x{h} (WxH)'
        if info.get('ann_source') and info.get('img_path'):
            line += f", listed at {info['ann_source']}"
        lines.append(line)
    if len(small) > _MAX_LISTED:
        lines.append(f'  ... and {len(small) - _MAX_LISTED} more')
    return (f'{owner}: {len(small)} of {total} images have a side under '
            f'{min_side} px:\n' + '\n'.join(lines) + '\n' + WHAT_TO_DO +
            ' (check_image_size=False skips this check.)')


def report_small_images(owner: str,
                        data_list: List[dict],
                        mode: Union[str, bool] = 'auto',
                        min_side: int = MIN_IMAGE_SIDE) -> bool:
    """Count the samples of ``data_list`` with a side under ``min_side``
    and log one warning naming the count, ``owner`` and a few of them.

    Args:
        owner (str): Who reports, e.g. ``"RAFDB (split 'train', <label
            file>)"``.
        data_list (list[dict]): The loaded data infos.
        mode (str | bool): ``'auto'`` (read image headers only for at most
            :data:`AUTO_MAX_HEADER_READS` files, else leave the check to
            :class:`LoadFERImage`), True (always read them) or False (no
            check here).

    Returns:
        bool: True if the size of every sample was checked (the caller
        then marks its samples with ``img_size_checked`` so that
        :class:`LoadFERImage` does not report them again).
    """
    if mode is False or not data_list:
        return False
    known, files = [], []
    for info in data_list:
        size = _known_size(info)
        if size is not None:
            known.append((info, ) + size)
        elif info.get('img_path'):
            files.append(info)
    if mode == 'auto' and len(files) > AUTO_MAX_HEADER_READS:
        print_log(
            f'{owner}: the sizes of its {len(files)} image files are not '
            f'read at load (more than {AUTO_MAX_HEADER_READS}, slow on '
            f'every start); LoadFERImage reports images under {min_side} '
            'px as it loads them. check_image_size=True reads them all at '
            'load.',
            logger='current',
            level=logging.INFO)
        return False
    unreadable = 0
    for info in files:
        size = read_image_size(info['img_path'])
        if size is None:
            unreadable += 1
        else:
            known.append((info, size[0], size[1], 'image'))
    small = [s for s in known if min(s[1], s[2]) < min_side]
    if small:
        print_log(
            small_image_message(owner, small, len(data_list), min_side),
            logger='current',
            level=logging.WARNING)
    if unreadable:
        print_log(
            f'{owner}: the header of {unreadable} image file(s) could not '
            'be read; LoadFERImage checks their size when it decodes them.',
            logger='current',
            level=logging.INFO)
    return unreadable == 0 and len(known) == len(data_list)
