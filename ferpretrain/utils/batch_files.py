"""Running a function over the image files of a folder tree, as the dataset
tools (``tools/dataset_converters/prepare_faces.py``,
``label_landmarks.py``) do.

* :func:`walk_images`: the images of a tree, sorted, and the other files;
* :func:`atomic_file`: outputs written through a temporary file, so that an
  interrupted run leaves nothing half-written under the final name;
* :func:`worker_pool`, :func:`progress_bar` and :func:`map_with_progress`:
  a function mapped over jobs in worker processes (or this one), with a
  progress bar on stderr;
* :func:`batch_parser`, :func:`add_batch_arguments` and
  :func:`parse_batch_args`: the command line of such a tool (its module
  docstring as the manual; ``--workers``, ``--overwrite``,
  ``--no-progress``);
* :func:`quiet_opencv` for worker processes, :func:`is_inside` for the
  checks that a tool never writes where it reads, and :func:`list_some`
  for summaries.
"""
import argparse
import contextlib
import multiprocessing
import os
import os.path as osp
from typing import (Callable, Iterable, Iterator, List, Optional, Sequence,
                    Tuple)

from .face_alignment import IMAGE_EXTENSIONS

__all__ = [
    'is_junk', 'is_image', 'walk_images', 'is_inside', 'atomic_file',
    'quiet_opencv', 'worker_pool', 'progress_bar', 'map_with_progress',
    'list_some', 'batch_parser', 'add_batch_arguments', 'parse_batch_args'
]

_JUNK = ('thumbs.db', 'desktop.ini')


def is_junk(name: str) -> bool:
    """Hidden files and folders and the files Windows leaves in folders."""
    return name.startswith('.') or name.lower() in _JUNK


def is_image(name: str) -> bool:
    """Whether the file name has an image extension (any case)."""
    return name.lower().endswith(IMAGE_EXTENSIONS)


def walk_images(root: str) -> Tuple[List[str], List[str]]:
    """Paths relative to ``root`` of the images below it and of the other
    files (to list to the user, not to process), both in a sorted walk;
    junk (:func:`is_junk`) is left out."""
    images, others = [], []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not is_junk(d))
        for name in sorted(files):
            if is_junk(name):
                continue
            rel = osp.relpath(osp.join(folder, name), root)
            (images if is_image(name) else others).append(rel)
    return images, others


def is_inside(path: str, folder: str) -> bool:
    """True if ``path`` is ``folder`` or lies below it (links resolved)."""
    path, folder = osp.realpath(path), osp.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


@contextlib.contextmanager
def atomic_file(path: str, mode: str = 'wb', **kwargs) -> Iterator:
    """Open ``.<name>.part`` next to ``path`` (folders created) and move
    it to ``path`` once the block completes; ``kwargs`` go to ``open``."""
    folder = osp.dirname(path)
    os.makedirs(folder or '.', exist_ok=True)
    tmp = osp.join(folder, f'.{osp.basename(path)}.part')
    with open(tmp, mode, **kwargs) as f:
        yield f
    os.replace(tmp, path)


def quiet_opencv() -> None:
    """Settings for an OpenCV worker process: one thread (the processes
    already run in parallel), and no decoder messages (the tools report
    unreadable files themselves; OpenCV's would break up the progress
    bar)."""
    import cv2
    cv2.setNumThreads(1)
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_FATAL)


@contextlib.contextmanager
def worker_pool(workers: int, initializer: Callable,
                initargs: tuple = ()) -> Iterator:
    """``workers`` processes, each set up by ``initializer(*initargs)``, or
    None for one worker (the caller's process, set up by the caller).

    Leaving the block terminates the pool, also on Ctrl-C or an error,
    instead of waiting for the queued jobs.
    """
    if workers <= 1:
        yield None
        return
    with multiprocessing.Pool(workers, initializer, initargs) as pool:
        yield pool


def progress_bar(show: bool = True):
    """A ``rich`` progress bar on stderr: description, bar, done/total,
    elapsed and remaining time; ``show=False`` draws nothing."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress,
                               TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)
    return Progress(
        TextColumn('{task.description}'),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not show)


def map_with_progress(func: Callable,
                      jobs: list,
                      pool,
                      progress,
                      description: str,
                      chunksize: int = 16) -> list:
    """``func`` over ``jobs`` in ``pool`` (in completion order) or, for a
    None pool, in this process (in order), advancing a task of
    ``progress``; the results as a list."""
    rows = []
    if not jobs:
        return rows
    task = progress.add_task(description, total=len(jobs))
    results = (pool.imap_unordered(func, jobs, chunksize=chunksize)
               if pool is not None else map(func, jobs))
    for row in results:
        rows.append(row)
        progress.advance(task)
    return rows


def list_some(items: Iterable[str], limit: int = 5) -> str:
    """``'a, b, c'``, or the first ``limit`` items and ``' and N more'``."""
    items = list(items)
    more = len(items) - limit
    return ', '.join(items[:limit]) + (f' and {more} more'
                                       if more > 0 else '')


def batch_parser(manual: str) -> argparse.ArgumentParser:
    """A parser whose ``--help`` shows ``manual`` (the tool's module
    docstring: layouts, outputs, exit status) as it is written."""
    return argparse.ArgumentParser(
        description=manual,
        formatter_class=argparse.RawDescriptionHelpFormatter)


def add_batch_arguments(parser: argparse.ArgumentParser, workers_help: str,
                        overwrite_help: str) -> None:
    """Add ``--workers N`` (worker processes), ``--overwrite`` and
    ``--no-progress`` (hide the progress bar)."""
    parser.add_argument(
        '--workers', type=int, default=1, help=workers_help)
    parser.add_argument(
        '--overwrite', action='store_true', help=overwrite_help)
    parser.add_argument(
        '--no-progress', action='store_true', help='hide the progress bar')


def parse_batch_args(parser: argparse.ArgumentParser,
                     argv: Optional[Sequence[str]] = None,
                     **minimums: int) -> argparse.Namespace:
    """Parse ``argv``; stop (``parser.error``, exit 2) unless ``--workers``
    is at least 1 and each argument named in ``minimums`` (``size=8``) at
    least its value."""
    args = parser.parse_args(argv)
    for name, minimum in dict(workers=1, **minimums).items():
        if getattr(args, name) < minimum:
            parser.error(f'--{name.replace("_", "-")} must be >= {minimum}')
    return args
