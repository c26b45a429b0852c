"""Where the inferencer's images and frames come from: image files and
folders, video files, cameras; each failure is one message naming the
input (:class:`InputSourceError`)."""
import os
import os.path as osp
from typing import Any, List, Tuple, Union

import cv2
import numpy as np

from ferpretrain.utils.batch_files import walk_images
from ferpretrain.utils.errors import FERPretrainError
from ferpretrain.utils.face_alignment import IMAGE_EXTENSIONS

__all__ = [
    'InputSourceError', 'VIDEO_EXTENSIONS', 'collect_images', 'is_capture',
    'is_video_source', 'open_video_source'
]

#: File extensions read as videos (any case); anything else is an image.
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v',
                    '.mpg', '.mpeg', '.wmv', '.flv')


class InputSourceError(FERPretrainError, ValueError):
    """A video that cannot be opened or read, a missing camera, a folder
    without images; the message names the input."""


def collect_images(path: str) -> Tuple[List[str], List[str]]:
    """The images of ``path``: itself if it is a file, else the image files
    below the folder (sorted walk, hidden files left out), and the other
    files found there (to tell the user).

    Raises:
        InputSourceError: ``path`` does not exist, or the folder holds no
            image.
    """
    if osp.isfile(path):
        return [path], []
    if not osp.isdir(path):
        raise InputSourceError(f'{path}: no such file or folder')
    images, others = walk_images(path)
    if not images:
        raise InputSourceError(
            f'{path}: no image in this folder (extensions read: '
            f'{" ".join(IMAGE_EXTENSIONS)}, any case)')
    return [osp.join(path, rel) for rel in images], others


def is_capture(source: Any) -> bool:
    """A ``cv2.VideoCapture``-like object (``read()``, ``isOpened()``)."""
    return hasattr(source, 'read') and hasattr(source, 'isOpened')


def is_video_source(source: Any) -> bool:
    """A camera index, a video file name or a ``cv2.VideoCapture``-like
    object (``read()``, ``isOpened()``)."""
    if isinstance(source, (int, np.integer)) and not isinstance(
            source, bool):
        return True
    if isinstance(source, (str, os.PathLike)):
        return str(source).lower().endswith(VIDEO_EXTENSIONS)
    return is_capture(source)


def _quiet_open(source) -> cv2.VideoCapture:
    # OpenCV logs several lines of its own for a missing camera (one per
    # backend it tries); the error raised below says it once.
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        return cv2.VideoCapture(source)
    finally:
        cv2.utils.logging.setLogLevel(level)


def open_video_source(source: Union[int, str, Any]) -> Tuple[Any, str, bool]:
    """Open a camera index or a video file (or adopt an open capture).

    Returns:
        tuple: ``(capture, name, is_camera)``; ``name`` is what messages
        call it (``'camera 0'``, the file name).

    Raises:
        InputSourceError: No such camera, no such file, or a file that is
            not a video OpenCV can decode; one message naming the input.
    """
    if is_capture(source):
        if not source.isOpened():
            raise InputSourceError('the video capture given is not open')
        return source, type(source).__name__, False
    if isinstance(source, (int, np.integer)) and not isinstance(
            source, bool):
        capture = _quiet_open(int(source))
        if not capture.isOpened():
            raise InputSourceError(
                f'camera {int(source)}: no camera at this index (none '
                'connected, in use by another program, or no permission '
                'to open it); try another index, or a video file instead')
        return capture, f'camera {int(source)}', True
    path = os.fspath(source)
    if not osp.isfile(path):
        raise InputSourceError(f'video file {path}: not found')
    capture = _quiet_open(path)
    if not capture.isOpened():
        raise InputSourceError(
            f'video file {path}: cannot be opened (not a video, damaged, '
            'or a codec this OpenCV build cannot decode; '
            'cv2.getBuildInformation() lists its video I/O backends)')
    return capture, path, False
