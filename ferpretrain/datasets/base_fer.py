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
from typing import List, Optional, Sequence, Union

import numpy as np
from mmengine.logging import MMLogger
from mmpretrain.datasets import BaseDataset

# How many problems one error message lists before summarising the rest.
_MAX_LISTED = 5


class FERAnnotationError(ValueError):
    """An annotation (label file line, csv row, folder entry) is invalid.

    The message always names the file (and line, where there is one).
    """


class FERSampleError(RuntimeError):
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


def require_file(path: str,
                 what: str,
                 expected: str,
                 hint: str,
                 data_root: str = '',
                 expected_rel: str = '') -> str:
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
    if osp.isfile(path):
        return path
    state = 'is a folder, not a file' if osp.isdir(path) else 'not found'
    raise FileNotFoundError(
        f'{what} {state}: {path}. Expected {expected}; {hint}.' +
        _suggest_subfolder(data_root, expected_rel))


def require_dir(path: str,
                what: str,
                expected: str,
                hint: str,
                data_root: str = '',
                expected_rel: str = '') -> str:
    """Return ``path`` if it is a folder, else raise a ``FileNotFoundError``
    (same arguments as :func:`require_file`)."""
    if osp.isdir(path):
        return path
    state = 'is a file, not a folder' if osp.isfile(path) else 'not found'
    raise FileNotFoundError(
        f'{what} {state}: {path}. Expected {expected}; {hint}.' +
        _suggest_subfolder(data_root, expected_rel))


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
                 **kwargs):
        if self.SPLITS:
            if split not in self.SPLITS:
                raise ValueError(
                    f'{type(self).__name__}: split must be one of '
                    f'{tuple(self.SPLITS)}, got {split!r}.')
            if test_mode and split in self.TRAIN_SPLITS:
                MMLogger.get_current_instance().warning(
                    f'{type(self).__name__}: split={split!r} with '
                    'test_mode=True; the training data will be used.')
        elif split is not None:
            raise ValueError(
                f'{type(self).__name__} has no splits, got split={split!r}.')
        self.split = split
        super().__init__(test_mode=test_mode, **kwargs)

    def prepare_data(self, idx: int):
        """Run the pipeline on sample ``idx``; name the sample on failure.

        Raises:
            FERSampleError: If the pipeline raises; the message names the
                image file and the annotation line it came from.
        """
        data_info = self.get_data_info(idx)
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
