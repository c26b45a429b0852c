"""Shared base of ferpretrain's facial expression datasets.

What it adds to :class:`mmpretrain.datasets.BaseDataset` is actionable
errors:

- each data info may carry ``ann_source``, the place the sample was read
  from (``'<label file>:<line>'``, or the image path for folder layouts);
- an exception raised by the pipeline (a corrupt image, a failing
  transform) is re-raised as :class:`FERSampleError` naming the image and
  its ``ann_source``, chained to the original;
- helpers raise a clear ``FileNotFoundError`` that says which layout was
  expected and how to fix ``data_root``, and report images that are listed
  but missing on disk (nothing is silently dropped); folder layouts, which
  list nothing, report broken symbolic links instead.
"""
import os
import os.path as osp
from typing import IO, Collection, List, Optional, Sequence, Union

import numpy as np
from mmengine.logging import MMLogger
from mmpretrain.datasets import BaseDataset

from ferpretrain.utils.errors import FERPretrainError
from .small_images import SIZE_CHECKED_KEY, check_mode, report_small_images

# How many problems one error message lists before summarising the rest.
_MAX_LISTED = 5


class FERAnnotationError(FERPretrainError, ValueError):
    """An annotation (label file line, csv row, folder entry) is invalid.

    The message always names the file (and line, where there is one).
    """


class FERSampleError(FERPretrainError, RuntimeError):
    """Preparing one sample failed; the message names its image and
    annotation source, the original exception is chained as
    ``__cause__``."""


def ann_source(path: str, lineno: Optional[int] = None) -> str:
    """Format the origin of a sample: ``'<path>:<lineno>'`` or ``path``.

    Line numbers are 1-based, as editors show them.
    """
    return path if lineno is None else f'{path}:{lineno}'


def annotation_error(source: str,
                     problem: str,
                     hint: str = '') -> FERAnnotationError:
    """Build a :class:`FERAnnotationError` for ``'<file>:<line>: problem'``.

    Returned, not raised, so that call sites read ``raise annotation_error(
    ...)`` and linters see the control flow.
    """
    msg = f'{source}: {problem}'
    if hint:
        msg += f' ({hint})'
    return FERAnnotationError(msg)


_UTF16_BOMS = (b'\xff\xfe', b'\xfe\xff')


def open_label_file(path: str, newline: Optional[str] = None) -> IO[str]:
    """Open a text or CSV label file for reading, BOM or not.

    Windows Notepad and Excel ("CSV UTF-8") save UTF-8 with a byte-order
    mark. Read as plain ``utf-8`` the mark stays glued to the first
    character: to the first column name of a CSV header (so a lookup of
    ``'emotion'`` fails), to the first image name of a label list (so its
    path is wrong), or to the number of a one-value file. ``utf-8-sig``
    drops a leading mark and reads a file without one unchanged, so every
    dataset opens its label files here and both read alike.

    A UTF-16 file (Notepad's "Unicode") cannot be read as UTF-8 at all: it
    is refused here with a message naming the file, rather than with a bare
    ``UnicodeDecodeError`` halfway through it.

    Args:
        path (str): The label file.
        newline (str, optional): As :func:`open`; pass ``''`` for
            :mod:`csv` readers (quoted fields may hold line breaks).

    Raises:
        FERAnnotationError: If the file starts with a UTF-16 byte-order
            mark.
    """
    with open(path, 'rb') as f:
        head = f.read(2)
    if head in _UTF16_BOMS:
        raise annotation_error(
            ann_source(path, 1), 'the file is UTF-16 encoded',
            're-save it as UTF-8 (e.g. Notepad: Save as, Encoding UTF-8)')
    return open(path, encoding='utf-8-sig', newline=newline)


def _suggest_subfolder(data_root: str, expected_rel: str) -> str:
    """If ``expected_rel`` exists one folder below ``data_root``, say so:
    the most common mistake is pointing at the archive's parent folder."""
    if not data_root or not osp.isdir(data_root):
        return ''
    try:
        entries = sorted(os.scandir(data_root), key=lambda e: e.name)
    except OSError:
        return ''
    for entry in entries:
        if entry.is_dir() and osp.exists(osp.join(entry.path, expected_rel)):
            return f" Found it under '{entry.path}': did you mean " \
                   f"data_root='{entry.path}'?"
    return ''


# kind -> (test for it, test for the other kind, state when it is the other)
_PATH_KINDS = {
    'file': (osp.isfile, osp.isdir, 'is a folder, not a file'),
    'folder': (osp.isdir, osp.isfile, 'is a file, not a folder'),
}


def _require(kind: str, path: str, what: str, expected: str, hint: str,
             data_root: str, expected_rel: str) -> str:
    is_kind, is_other, other_state = _PATH_KINDS[kind]
    if is_kind(path):
        return path
    state = other_state if is_other(path) else 'not found'
    raise FileNotFoundError(
        f'{what} {state}: {path}. Expected {expected}; {hint}.' +
        _suggest_subfolder(data_root, expected_rel))


def require_file(path: str, what: str, expected: str, hint: str,
                 data_root: str = '', expected_rel: str = '') -> str:
    """Return ``path`` if it is a file, else raise a ``FileNotFoundError``
    that says what was expected and how to fix it.

    Args:
        path (str): The file to check.
        what (str): What the file is, e.g. ``'RAF-DB label file'``.
        expected (str): The expected layout, e.g. ``'<data_root>/EmoLabel/
            list_patition_label.txt as in the official RAF-DB download'``.
        hint (str): How to fix it, e.g. ``"set data_root to the 'basic'
            folder"``.
        data_root (str): When given with ``expected_rel``, the sub-folders
            of ``data_root`` are searched for ``expected_rel`` and a match
            is suggested.
        expected_rel (str): ``path`` relative to ``data_root``.
    """
    return _require('file', path, what, expected, hint, data_root,
                    expected_rel)


def require_dir(path: str, what: str, expected: str, hint: str,
                data_root: str = '', expected_rel: str = '') -> str:
    """Return ``path`` if it is a folder, else raise a ``FileNotFoundError``
    (same arguments as :func:`require_file`)."""
    return _require('folder', path, what, expected, hint, data_root,
                    expected_rel)


def check_choice(owner: str, name: str, value, choices: Collection) -> None:
    """Raise ``ValueError('<owner>: <name> must be one of (...), got
    <value>.')`` unless ``value`` is in ``choices`` (a sequence, or a dict
    whose keys are the choices)."""
    if value not in choices:
        raise ValueError(f'{owner}: {name} must be one of '
                         f'{tuple(choices)}, got {value!r}.')


def int_in_range(text: str, low: int, high: int) -> Optional[int]:
    """``text`` as an integer in ``low..high`` (both included), or None if
    it is not one: label codes are checked in one step, so that a caller
    raises one message for both ways a code can be wrong."""
    try:
        value = int(text)
    except ValueError:
        return None
    return value if low <= value <= high else None


def check_images_exist(data_list: Sequence[dict], hint: str = '') -> None:
    """Raise ``FileNotFoundError`` if an ``img_path`` of ``data_list`` is not
    a file.

    All images are checked (one ``os.path.isfile`` each) so that the message
    can say how many are missing; the first few are listed with the
    annotation line that names them.
    """
    missing = [
        info for info in data_list if info.get('img_path') is not None
        and not osp.isfile(info['img_path'])
    ]
    if not missing:
        return
    lines = [
        f"  {info['img_path']} (listed at {info.get('ann_source', '?')})"
        for info in missing[:_MAX_LISTED]
    ]
    if len(missing) > _MAX_LISTED:
        lines.append(f'  ... and {len(missing) - _MAX_LISTED} more')
    msg = (f'{len(missing)} of {len(data_list)} listed images not found:\n' +
           '\n'.join(lines))
    if len(missing) < len(data_list):
        # Some images are there: the folder is right, files are lost.
        msg += ('\nRestore the missing files (re-extract the archive) or '
                'remove their lines from the annotation file.')
    if hint:
        msg += f'\n{hint}'
    raise FileNotFoundError(msg)


def check_broken_link(entry: Union[str, os.DirEntry]) -> None:
    """Raise :class:`FERAnnotationError` if ``entry`` (a path, or an entry
    of ``os.scandir``, whose cached type spares a system call) is a symbolic
    link whose target is gone.

    Folder layouts have no annotation listing their images: a dangling link
    (a dataset linked from a moved or unmounted copy) is their "listed image
    that is missing", and must not be skipped as a non-file or reported as a
    badly named entry.
    """
    if isinstance(entry, str):
        path, is_link = entry, osp.islink(entry)
    else:
        path, is_link = entry.path, entry.is_symlink()
    if is_link and not osp.exists(path):
        raise annotation_error(
            path, f'broken link: its target {os.readlink(path)} is missing',
            'restore the target (mount or copy the dataset back) or remove '
            'the link')


class BaseFERDataset(BaseDataset):
    """Base class of the facial expression recognition datasets.

    Subclasses set ``METAINFO = {'classes': ...}`` and ``SPLITS``, derive
    their file paths from ``data_root`` and implement ``load_data_list()``
    returning dicts with ``img_path`` (or an in-memory ``img``),
    ``gt_label`` (int index into ``METAINFO['classes']``) and
    ``ann_source`` (see :func:`ann_source`).

    Args:
        split (str, optional): One of ``SPLITS``. Defaults to None (for
            datasets without splits).
        test_mode (bool): Passed to :class:`mmpretrain.datasets.BaseDataset`
            (in test mode a ``None`` from the pipeline raises instead of
            fetching another sample). A warning is logged when it is set on
            a training split. Defaults to False.
        check_image_size (str | bool): Report images with a side under 16
            px once, at load (see :mod:`ferpretrain.datasets.small_images`):
            ``'auto'`` reads image headers when the split lists at most
            30,000 files and otherwise leaves the check to
            :class:`LoadFERImage`; True always reads them; False skips the
            load-time check. The whole loaded split is checked, before
            ``indices`` picks a subset. Defaults to ``'auto'``.
        **kwargs: Other arguments of
            :class:`mmpretrain.datasets.BaseDataset` (``ann_file``,
            ``data_root``, ``data_prefix``, ``pipeline``, ``indices``, ...).
    """

    #: The splits the dataset accepts; empty means no ``split`` argument.
    SPLITS: Sequence[str] = ()
    #: Splits that are training data (for the ``test_mode`` warning).
    TRAIN_SPLITS: Sequence[str] = ('train', )

    def __init__(self,
                 split: Optional[str] = None,
                 test_mode: bool = False,
                 check_image_size: Union[str, bool] = 'auto',
                 **kwargs):
        self.check_image_size = check_mode(check_image_size,
                                           type(self).__name__)
        # set by filter_data(): every sample's size was checked at load
        self._image_sizes_checked = False
        if self.SPLITS:
            check_choice(type(self).__name__, 'split', split, self.SPLITS)
            if test_mode and self._split_is_training_data(split):
                MMLogger.get_current_instance().warning(
                    f'{type(self).__name__}: split={split!r} with '
                    'test_mode=True; the training data will be used.')
        elif split is not None:
            raise ValueError(
                f'{type(self).__name__} has no splits, got split={split!r}.')
        self.split = split
        super().__init__(test_mode=test_mode, **kwargs)

    def _split_is_training_data(self, split: str) -> bool:
        """Whether ``split`` selects training data (then ``test_mode=True``
        is warned about). Called from ``__init__`` before the data are
        loaded; subclasses whose ``split`` only applies under some options
        (the subject folds of CK+ and JAFFE) override it, so that the
        warning is given only when it is true."""
        return split in self.TRAIN_SPLITS

    def filter_data(self) -> List[dict]:
        """Keep every sample; report those with a side under 16 px.

        mmengine calls this once, right after :meth:`load_data_list`, on
        the plain list (before it is serialised), which makes it the one
        place where the size check sees every sample cheaply.
        """
        data_list = super().filter_data()
        owner = f'{type(self).__name__}'
        if self.split is not None:
            owner += f' (split {self.split!r})'
        self._image_sizes_checked = report_small_images(
            owner, data_list, self.check_image_size)
        return data_list

    def prepare_data(self, idx: int):
        """Run the pipeline on sample ``idx``; name the sample on failure.

        Raises:
            FERSampleError: If the pipeline raises; the message names the
                image file and the annotation line it came from.
        """
        return self._run_pipeline(idx, self.get_data_info(idx))

    def _run_pipeline(self, idx: int, data_info: dict):
        """The pipeline on ``data_info`` (of sample ``idx``); failures are
        re-raised as :class:`FERSampleError`."""
        if self._image_sizes_checked:
            # reported at load already: LoadFERImage need not again
            data_info[SIZE_CHECKED_KEY] = True
        try:
            return self.pipeline(data_info)
        except Exception as e:
            # The bare exception of a transform (often an assertion deep in
            # cv2) gives no hint which of thousands of files is at fault.
            raise FERSampleError(self._describe_failure(idx, data_info,
                                                        e)) from e

    def _describe_failure(self, idx: int, data_info: dict,
                          err: Exception) -> str:
        img_path = data_info.get('img_path')
        source = data_info.get('ann_source', 'unknown')
        image = img_path if img_path else f'in-memory image from {source}'
        return (f'{type(self).__name__}: sample {idx} failed in the '
                f'pipeline: image {image} (annotation {source}): '
                f'{type(err).__name__}: {err}')

    def extra_repr(self) -> List[str]:
        """Where the dataset is and which split; datasets add the files
        they read."""
        lines = [f'Root of dataset: \t{self.data_root}']
        if self.split is not None:
            lines.append(f'Split: \t{self.split}')
        return lines

    def class_counts(self) -> List[int]:
        """Number of samples of each class, in ``METAINFO['classes']``
        order (e.g. for class-balanced losses or sanity checks)."""
        labels = self.get_gt_labels().astype(np.int64)
        return np.bincount(labels, minlength=len(self.CLASSES)).tolist()

    def _empty_split_error(self,
                           source: str,
                           found: str,
                           hint: str = '') -> ValueError:
        """The error of a split without samples; ``hint`` says how to fix
        it (default: check ``data_root`` and ``split``)."""
        if not hint:
            hint = ('check that data_root holds the complete dataset and '
                    f'that split={self.split!r} is the one you want')
        return ValueError(f'{type(self).__name__}: no sample of split '
                          f'{self.split!r} in {source} ({found}); {hint}.')


# Files that operating systems drop into folders; skipped like hidden files
# by every folder-based dataset, and never reported as stray files.
OS_JUNK_FILES = ('thumbs.db', 'desktop.ini')


def is_os_junk(name: str) -> bool:
    """True for hidden files and OS clutter (Thumbs.db, desktop.ini)."""
    return name.startswith('.') or name.lower() in OS_JUNK_FILES
