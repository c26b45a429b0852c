"""Face detection and 5-point similarity alignment with dlib.

Whole-picture FER datasets (JAFFE, CK+, the RAF-DB originals) need their
faces detected and aligned before training, and the alignment matters: a
model trained on one alignment scores far lower on another. This module
does it in three steps:

1. **Detect** faces with dlib's HOG frontal face detector
   (``dlib.get_frontal_face_detector()``, no model file), optionally on an
   upsampled image to find faces smaller than about 80x80 pixels.
2. **Locate 5 landmarks** in the chosen face with dlib's 5-point shape
   predictor, ``shape_predictor_5_face_landmarks.dat`` from the
   ``face-recognition-models`` package (CC0; trained on dlib's own 5-point
   data set, not on iBUG 300-W) or a file the user gives. Its points, in
   image terms (the subject's left eye is on the image's right):

   ====== ===============================================
   index  point
   ====== ===============================================
   0      outer corner of the eye on the image's right
   1      inner corner of the eye on the image's right
   2      outer corner of the eye on the image's left
   3      inner corner of the eye on the image's left
   4      base of the nose (subnasale)
   ====== ===============================================

3. **Warp**: the similarity transform (rotation, uniform scale,
   translation; never a reflection or a shear, so faces keep their
   proportions) that maps the 5 points onto :data:`FIVE_POINT_TEMPLATE`
   in the least-squares sense (:func:`estimate_similarity`, Umeyama's
   closed form), applied with ``cv2.warpAffine``.

The template (:data:`FIVE_POINT_TEMPLATE`) is written in units of the
distance between the two eye centres (each eye centre = the mean of its two
corners), with the origin midway between the eye centres and y pointing
down. Its values come from adult anthropometric averages (Farkas, 1994):
outer eye corners 90 mm apart, inner corners 32 mm apart (so eye centres
61 mm apart), and the nose base 44 mm below the line of the eye corners::

    (-0.73, 0)  (-0.27, 0)   (0.27, 0)  (0.73, 0)     eye corners
                       (0, 0.72)                       nose base

On the scikit-image ``astronaut`` photograph, dlib's points lie within
0.04 eye distances of it after the fit. The template is placed in the
``size x size`` output by two numbers (:meth:`FaceAligner.template_points`):

- ``face_scale``: the eye-centre distance as a fraction of ``size``
  (default 0.3). Smaller values give a looser crop (more margin);
- ``eye_line``: the height of the eye line as a fraction of ``size``
  (default 0.4); the eyes are centred horizontally.

With the defaults the whole face, forehead to chin, fits in the square
with a thin margin (the chin lies about 1.8 eye distances below the eyes,
at 0.94 of the height), which keeps the mouth and chin that expressions
use, unlike the tighter 112x112 face-recognition crops that cut the chin.

Images: ``(H, W)`` grayscale or ``(H, W, 3)`` BGR uint8 arrays (OpenCV's
order, as :func:`read_image` returns them). The aligned face keeps the
source channel count: ``(size, size)`` for grayscale, ``(size, size, 3)``
BGR for colour, so a grayscale dataset stays grayscale on disk
(ferpretrain's ``LoadFERImage`` replicates the gray channel at load time).

Several faces: ``multi_face='largest'`` (default) aligns the face with the
largest detection box and reports the image as ``'multiple_faces'``. dlib
scans an image pyramid whose levels are 5/6 apart, so its boxes come in
discrete sizes (areas about 1.44x apart) and boxes of one level differ by
a pixel: boxes within 10% of the largest area count as equally large, and
among them the highest detector score (the HOG-SVM margin; false
detections sit near 0) wins (:meth:`FaceAligner.pick_largest`);
``'skip'`` aligns none. Either way the image is reported, never silently
dropped or silently resolved.

Example:
    >>> from ferpretrain.utils.face_alignment import FaceAligner
    >>> aligner = FaceAligner(size=112)
    >>> result = aligner.align_file('data/jaffe/KA.AN1.39.tiff')
    >>> result.status, result.num_faces, result.image.shape
    ('ok', 1, (112, 112))
"""
import importlib.util
import os.path as osp
from dataclasses import dataclass
from typing import List, NamedTuple, Optional, Tuple

import cv2
import numpy as np

#: Result statuses of :meth:`FaceAligner.align`.
STATUS_OK = 'ok'
STATUS_NO_FACE = 'no_face'
STATUS_MULTIPLE_FACES = 'multiple_faces'
STATUS_UNREADABLE = 'unreadable'
STATUSES = (STATUS_OK, STATUS_NO_FACE, STATUS_MULTIPLE_FACES,
            STATUS_UNREADABLE)

#: Policies for an image with several detected faces.
MULTI_FACE_POLICIES = ('largest', 'skip')

#: Image file extensions the preparation tools read (any case).
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff',
                    '.webp')

#: The 5-point template, shape ``(5, 2)``, in dlib's point order (see the
#: module docstring): x, y in units of the eye-centre distance, origin
#: midway between the eye centres, y down.
FIVE_POINT_TEMPLATE = np.array(
    [
        [0.73, 0.0],  # outer corner, eye on the image's right
        [0.27, 0.0],  # inner corner, eye on the image's right
        [-0.73, 0.0],  # outer corner, eye on the image's left
        [-0.27, 0.0],  # inner corner, eye on the image's left
        [0.0, 0.72],  # base of the nose
    ],
    dtype=np.float64)

FIVE_POINT_MODEL_FILE = 'shape_predictor_5_face_landmarks.dat'
_INSTALL_HINT = ('pip install face-recognition-models (CC0 model files of '
                 'dlib, about 100 MB), or pass the path of a '
                 f'{FIVE_POINT_MODEL_FILE} file')


class FaceBox(NamedTuple):
    """A detected face: box corners in source pixels (``right`` and
    ``bottom`` inclusive, as dlib gives them; they may lie outside the
    image) and dlib's detection score."""

    left: int
    top: int
    right: int
    bottom: int
    score: float

    @property
    def area(self) -> int:
        return (self.right - self.left + 1) * (self.bottom - self.top + 1)


class UnreadableImageError(ValueError):
    """An image file cannot be read or decoded; the message names it."""


@dataclass
class AlignmentResult:
    """What :meth:`FaceAligner.align` found in one image.

    Attributes:
        status (str): ``'ok'`` (one face), ``'no_face'``,
            ``'multiple_faces'`` or ``'unreadable'``.
        num_faces (int): Faces detected (0 when unreadable).
        image (np.ndarray, optional): The aligned face, ``(size, size)`` or
            ``(size, size, 3)`` uint8 like the source; None when nothing
            was aligned (no face, unreadable, or several faces with
            ``multi_face='skip'``).
        matrix (np.ndarray, optional): ``(2, 3)`` float64 affine matrix
            from source pixel coordinates to output pixel coordinates
            (apply it to other landmarks with :func:`transform_points`).
        box (FaceBox, optional): The aligned face's detection box (and
            score) in the source image.
        landmarks (np.ndarray, optional): ``(5, 2)`` float64 dlib points of
            the aligned face, in source pixel coordinates.
        message (str): Why the image is unreadable, or which face was
            chosen among several; empty otherwise.
    """

    status: str
    num_faces: int
    image: Optional[np.ndarray] = None
    matrix: Optional[np.ndarray] = None
    box: Optional[FaceBox] = None
    landmarks: Optional[np.ndarray] = None
    message: str = ''


def _import_dlib():
    try:
        import dlib
    except ImportError as e:
        raise ImportError(
            'Face alignment needs dlib: pip install dlib-bin (a prebuilt '
            'wheel; the plain "dlib" package compiles for many minutes). '
            f'Import failed with: {e}') from e
    return dlib


def five_point_model_path(path: Optional[str] = None) -> str:
    """The path of dlib's 5-point shape predictor file.

    Args:
        path (str, optional): A user-given ``.dat`` file. Defaults to None:
            the file shipped by the ``face-recognition-models`` package.

    The package is located without importing it: its ``__init__`` imports
    ``pkg_resources``, which setuptools 81 removed.

    Raises:
        FileNotFoundError: If ``path`` does not exist, or the package is
            not installed or lacks the file (the message says to
            ``pip install face-recognition-models``).
    """
    if path is not None:
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'dlib 5-point shape predictor not found: {path} (expected '
                f'a {FIVE_POINT_MODEL_FILE} file).')
        return path
    spec = importlib.util.find_spec('face_recognition_models')
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            'The face-recognition-models package, which ships dlib\'s '
            f'{FIVE_POINT_MODEL_FILE}, is not installed: {_INSTALL_HINT}.')
    for folder in spec.submodule_search_locations:
        candidate = osp.join(folder, 'models', FIVE_POINT_MODEL_FILE)
        if osp.isfile(candidate):
            return candidate
    raise FileNotFoundError(
        f'{FIVE_POINT_MODEL_FILE} is missing from the installed '
        'face-recognition-models package '
        f'({list(spec.submodule_search_locations)}); reinstall it: '
        f'{_INSTALL_HINT}.')


def read_image(path: str) -> np.ndarray:
    """Read an image as OpenCV does, keeping grayscale as grayscale.

    Returns:
        np.ndarray: ``(H, W)`` uint8 for a grayscale file, ``(H, W, 3)``
        uint8 BGR otherwise (an alpha channel is dropped, 16-bit samples
        are scaled to 8 bits, EXIF orientation is applied, as
        ``cv2.imread`` and mmcv do).

    Raises:
        UnreadableImageError: If the file cannot be opened or decoded
            (missing, empty, truncated, not an image); the message names
            the file.
    """
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as e:
        raise UnreadableImageError(f'{path}: cannot be read ({e})') from e
    if not data:
        raise UnreadableImageError(f'{path}: empty file')
    # Decoding bytes (not cv2.imread) so that a path with non-ASCII
    # characters works on every OS.
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_ANYCOLOR)
    if image is None:
        raise UnreadableImageError(
            f'{path}: cannot be decoded as an image (corrupt, truncated or '
            'not an image file)')
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    return image


def estimate_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform from ``src`` to ``dst`` points.

    Umeyama's closed form (IEEE TPAMI 1991): the rotation, uniform scale
    and translation minimising ``sum |s R src_i + t - dst_i|^2``, with the
    rotation forced proper (determinant +1), so a face is never mirrored.

    Args:
        src (np.ndarray): ``(N, 2)`` source points, N >= 2, not all equal.
        dst (np.ndarray): ``(N, 2)`` target points.

    Returns:
        np.ndarray: ``(2, 3)`` float64 matrix ``[s R | t]``, usable by
        ``cv2.warpAffine``.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or \
            len(src) < 2:
        raise ValueError('estimate_similarity: src and dst must both be '
                         f'(N, 2) with N >= 2, got {src.shape} and '
                         f'{dst.shape}')
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    src_var = (src_c**2).sum() / len(src)
    if src_var <= 1e-12:
        raise ValueError('estimate_similarity: the source points coincide')
    cov = dst_c.T @ src_c / len(src)
    u, sigma, vt = np.linalg.svd(cov)
    # Flip the least significant axis when the best orthogonal map is a
    # reflection: the best proper rotation (Umeyama's correction).
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1] = -1.0
    rotation = u @ np.diag(d) @ vt
    scale = (sigma * d).sum() / src_var
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a ``(2, 3)`` affine matrix to ``(N, 2)`` points."""
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def warp_image(image: np.ndarray, matrix: np.ndarray,
               size: int) -> np.ndarray:
    """Warp ``image`` by ``matrix`` into a ``size x size`` image.

    Pixels that fall outside the source are black (a constant border: a
    replicated border paints streaks that a model could learn as texture).
    When the warp shrinks the image by more than 2, the source is first
    reduced with area averaging, since bilinear sampling alone would alias
    (RAF-DB originals hold faces of several hundred pixels).
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    scale = np.sqrt(abs(np.linalg.det(matrix[:, :2])))
    if scale < 0.5:
        h, w = image.shape[:2]
        new_w = max(1, int(round(w * scale * 2)))
        new_h = max(1, int(round(h * scale * 2)))
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
        # Express the matrix in the reduced image's coordinates, with the
        # exact per-axis ratios the rounding produced.
        matrix = matrix.copy()
        matrix[:, 0] *= w / new_w
        matrix[:, 1] *= h / new_h
    return cv2.warpAffine(
        image,
        matrix, (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0)


def center_crop_matrix(height: int, width: int, size: int) -> np.ndarray:
    """The ``(2, 3)`` matrix mapping the largest centred square of a
    ``height x width`` image onto a ``size x size`` output.

    A fallback for images with no detected face (JAFFE and CK+ frames hold
    a roughly centred face), as an affine matrix so that landmarks can be
    transformed like those of aligned faces.
    """
    side = min(height, width)
    scale = size / side
    return np.array([[scale, 0.0, -(width - side) / 2 * scale],
                     [0.0, scale, -(height - side) / 2 * scale]])


def _require_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or \
            value < minimum:
        raise ValueError(f'FaceAligner: {name} must be an int >= {minimum}, '
                         f'got {value!r}')


def _require_fraction(name: str, value) -> None:
    if not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ValueError(f'FaceAligner: {name} must be in (0, 1), '
                         f'got {value!r}')


def _require_choice(name: str, value, choices: Tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f'FaceAligner: {name} must be one of '
                         f'{choices}, got {value!r}')


class FaceAligner:
    """Detect faces, locate dlib's 5 landmarks, warp onto a template.

    See the module docstring for the template, the geometry options and
    the multi-face policy. dlib objects cannot be pickled: build one
    aligner per process (e.g. in a worker initializer).

    Args:
        size (int): Side of the square output in pixels. Defaults to 112
            (the input size of ferpretrain's APViT/IR-50 configs).
        face_scale (float): Eye-centre distance as a fraction of ``size``,
            in ``(0, 1)``. Defaults to 0.3.
        eye_line (float): Height of the eye line as a fraction of
            ``size``, in ``(0, 1)``. Defaults to 0.4.
        upsample (int): Times the detector upsamples the image (each time
            doubles it: finds faces half as large, about 4 times slower).
            Defaults to 0 (faces of about 80x80 pixels and more).
        multi_face (str): ``'largest'`` or ``'skip'``. Defaults to
            ``'largest'``.
        predictor_path (str, optional): A 5-point ``.dat`` file. Defaults
            to None (the ``face-recognition-models`` one).

    Raises:
        ValueError: On an invalid option.
        ImportError: If dlib is missing.
        FileNotFoundError: If the predictor file is missing (the message
            says to ``pip install face-recognition-models``).
    """

    def __init__(self,
                 size: int = 112,
                 face_scale: float = 0.3,
                 eye_line: float = 0.4,
                 upsample: int = 0,
                 multi_face: str = 'largest',
                 predictor_path: Optional[str] = None):
        _require_int('size', size, 8)
        _require_int('upsample', upsample, 0)
        _require_fraction('face_scale', face_scale)
        _require_fraction('eye_line', eye_line)
        _require_choice('multi_face', multi_face, MULTI_FACE_POLICIES)
        self.size = size
        self.face_scale = float(face_scale)
        self.eye_line = float(eye_line)
        self.upsample = upsample
        self.multi_face = multi_face
        self.predictor_path = five_point_model_path(predictor_path)
        dlib = _import_dlib()
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        try:
            self._predictor = dlib.shape_predictor(self.predictor_path)
        except RuntimeError as e:
            raise ValueError(f'{self.predictor_path}: not a dlib shape '
                             f'predictor file ({e})') from e

    def template_points(self) -> np.ndarray:
        """The template in output pixels, ``(5, 2)`` float64."""
        center = np.array([0.5, self.eye_line]) * self.size
        return center + FIVE_POINT_TEMPLATE * self.face_scale * self.size

    @staticmethod
    def _dlib_view(image: np.ndarray) -> np.ndarray:
        """The array dlib reads: grayscale as is, colour as RGB."""
        if image.ndim == 2:
            return np.ascontiguousarray(image)
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def _check_image(self, image: np.ndarray) -> None:
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or \
                not (image.ndim == 2 or
                     (image.ndim == 3 and image.shape[2] == 3)):
            raise ValueError(
                'FaceAligner: expected an (H, W) or (H, W, 3) uint8 image, '
                f'got {getattr(image, "shape", type(image))} '
                f'{getattr(image, "dtype", "")}')

    def detect(self, image: np.ndarray) -> List[FaceBox]:
        """The detected faces, largest area first."""
        self._check_image(image)
        # dlib's default threshold (0); run() also returns the scores.
        rects, scores, _ = self._detector.run(
            self._dlib_view(image), self.upsample, 0.0)
        boxes = [
            FaceBox(r.left(), r.top(), r.right(), r.bottom(), float(score))
            for r, score in zip(rects, scores)
        ]
        return sorted(boxes, key=lambda b: (-b.area, -b.score))

    @staticmethod
    def pick_largest(boxes: List[FaceBox]) -> FaceBox:
        """The largest box; boxes within 10% of its area (the same pyramid
        level of dlib's detector) count as equal and the best score wins.
        """
        largest = max(box.area for box in boxes)
        return max((box for box in boxes if box.area >= 0.9 * largest),
                   key=lambda box: box.score)

    def landmarks(self, image: np.ndarray,
                  box: Tuple[int, int, int, int]) -> np.ndarray:
        """dlib's 5 points of the face in ``box`` (a :class:`FaceBox` or
        ``(left, top, right, bottom)``), ``(5, 2)`` float64."""
        self._check_image(image)
        shape = self._predictor(
            self._dlib_view(image),
            self._dlib.rectangle(*(int(v) for v in box[:4])))
        # dlib's predictor object does not tell its point count until used.
        if shape.num_parts != len(FIVE_POINT_TEMPLATE):
            raise ValueError(
                f'{self.predictor_path}: a {shape.num_parts}-point shape '
                'predictor; FaceAligner needs the 5-point one '
                f'({FIVE_POINT_MODEL_FILE}).')
        return np.array([(p.x, p.y) for p in shape.parts()],
                        dtype=np.float64)

    def align(self, image: np.ndarray) -> AlignmentResult:
        """Detect, pick a face by the multi-face policy, align it.

        Args:
            image (np.ndarray): ``(H, W)`` grayscale or ``(H, W, 3)`` BGR
                uint8.

        Returns:
            AlignmentResult: ``image`` is ``(size, size)`` or
            ``(size, size, 3)`` like the input, or None.
        """
        boxes = self.detect(image)
        if not boxes:
            return AlignmentResult(STATUS_NO_FACE, 0)
        status, message, face = STATUS_OK, '', boxes[0]
        if len(boxes) > 1:
            status = STATUS_MULTIPLE_FACES
            if self.multi_face == 'skip':
                return AlignmentResult(
                    status, len(boxes),
                    message=f'{len(boxes)} faces, none aligned '
                    "(multi_face='skip')")
            face = self.pick_largest(boxes)
            message = (f'{len(boxes)} faces, aligned the largest: box '
                       f'({face.left}, {face.top}, {face.right}, '
                       f'{face.bottom}), score {face.score:.2f}')
        points = self.landmarks(image, face)
        matrix = estimate_similarity(points, self.template_points())
        return AlignmentResult(
            status,
            len(boxes),
            image=warp_image(image, matrix, self.size),
            matrix=matrix,
            box=face,
            landmarks=points,
            message=message)

    def align_file(self, path: str) -> AlignmentResult:
        """:func:`read_image` then :meth:`align`; an unreadable file gives
        status ``'unreadable'`` with the reason in ``message``."""
        try:
            image = read_image(path)
        except UnreadableImageError as e:
            return AlignmentResult(STATUS_UNREADABLE, 0, message=str(e))
        return self.align(image)
