"""Face detection and 5-point similarity alignment with dlib.

Whole-picture FER datasets (JAFFE, CK+, the RAF-DB originals) need their
faces detected and aligned before training, and the alignment matters: a
model trained on one alignment scores far lower on another. This module
does it in three steps:

1. **Detect** faces with dlib's HOG frontal face detector
   (``dlib.get_frontal_face_detector()``, no model file; the default) or
   dlib's CNN detector (``detector='cnn'``: ``mmod_human_face_detector.dat``
   from the same ``face-recognition-models`` package; it finds turned and
   partly hidden faces that the HOG detector misses, but is 50 to 60
   times slower on a CPU: 0.3 s against 6.5 ms on a 256x256 image, 1.4 to
   2.1 s against 24 to 36 ms at 512x512, on 2 shared cores), optionally on
   an upsampled image to find smaller faces (HOG finds faces of about
   80x80 pixels and more).
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

Every face: :meth:`FaceAligner.align_all` aligns each detected face (as
the inferencer, :class:`ferpretrain.apis.FERInferencer`, does, calling
:meth:`FaceAligner.detect` and :meth:`FaceAligner.align_box` itself to
time them apart), and :meth:`FaceAligner.align` the one face a dataset
image should hold (what ``tools/dataset_converters/prepare_faces.py``
writes). Every face goes through the one method
:meth:`FaceAligner.align_box` (landmarks, fit, warp), so training data and
inference cannot drift apart.

Several faces in :meth:`FaceAligner.align`: ``multi_face='largest'``
(default) aligns the face with the largest detection box and reports the
image as ``'multiple_faces'``. dlib scans an image pyramid whose levels
are 5/6 apart, so its boxes come in discrete sizes (areas about 1.44x
apart) and boxes of one level differ by a pixel: boxes within 10% of the
largest area count as equally large, and among them the highest detector
score (the HOG-SVM margin; false detections sit near 0) wins
(:meth:`FaceAligner.pick_largest`); ``'skip'`` aligns none. Either way the
image is reported, never silently dropped or silently resolved.

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

from .errors import FERPretrainError

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

#: Face detectors: dlib's HOG detector (no model file) or its CNN (MMOD)
#: detector.
DETECTORS = ('hog', 'cnn')

FIVE_POINT_MODEL_FILE = 'shape_predictor_5_face_landmarks.dat'
CNN_DETECTOR_MODEL_FILE = 'mmod_human_face_detector.dat'
_PACKAGE = 'face-recognition-models'


def _install_hint(file_name: str) -> str:
    return (f'pip install {_PACKAGE} (CC0 model files of dlib, about '
            f'100 MB), or pass the path of a {file_name} file')


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


class DlibModelFileError(FERPretrainError, ValueError):
    """A dlib model file (shape predictor, CNN detector) that dlib cannot
    read, or of the wrong kind; the message names it (the tools print it
    alone, without a traceback)."""


class UnreadableImageError(FERPretrainError, ValueError):
    """An image file cannot be read or decoded; the message names it (the
    tools print it alone, without a traceback)."""


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


def _model_file(file_name: str, what: str,
                path: Optional[str] = None) -> str:
    """The path of one of dlib's model files: ``path`` if given, else the
    copy shipped by the ``face-recognition-models`` package.

    The package is located without importing it: its ``__init__`` imports
    ``pkg_resources``, which setuptools 81 removed.
    """
    if path is not None:
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{what} not found: {path} (expected a {file_name} file).')
        return path
    hint = _install_hint(file_name)
    spec = importlib.util.find_spec('face_recognition_models')
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f'The {_PACKAGE} package, which ships dlib\'s {file_name}, is '
            f'not installed: {hint}.')
    for folder in spec.submodule_search_locations:
        candidate = osp.join(folder, 'models', file_name)
        if osp.isfile(candidate):
            return candidate
    raise FileNotFoundError(
        f'{file_name} is missing from the installed {_PACKAGE} package '
        f'({list(spec.submodule_search_locations)}); reinstall it: '
        f'{hint}.')


def five_point_model_path(path: Optional[str] = None) -> str:
    """The path of dlib's 5-point shape predictor file.

    Args:
        path (str, optional): A user-given ``.dat`` file. Defaults to None:
            the file shipped by the ``face-recognition-models`` package.

    Raises:
        FileNotFoundError: If ``path`` does not exist, or the package is
            not installed or lacks the file (the message says to
            ``pip install face-recognition-models``).
    """
    return _model_file(FIVE_POINT_MODEL_FILE,
                       'dlib 5-point shape predictor', path)


def cnn_detector_model_path(path: Optional[str] = None) -> str:
    """The path of dlib's CNN face detector file
    (``mmod_human_face_detector.dat``); as :func:`five_point_model_path`.
    """
    return _model_file(CNN_DETECTOR_MODEL_FILE, 'dlib CNN face detector',
                       path)


def add_detection_arguments(parser) -> None:
    """Add ``--detector``, ``--upsample`` and ``--predictor`` to an
    ``argparse`` parser: how the command-line tools find faces
    (``tools/dataset_converters/prepare_faces.py`` and the demos in
    ``tools/demo/``), defined once so that they offer the same choices.
    The values go to :class:`FaceAligner` as ``detector``, ``upsample`` and
    ``predictor_path``."""
    parser.add_argument(
        '--detector',
        choices=DETECTORS,
        default='hog',
        help="dlib's face detector: hog (fast) or cnn (finds more turned "
        'faces, about 50x slower on a CPU; its model file comes from '
        'face-recognition-models) (default: hog)')
    parser.add_argument(
        '--upsample',
        type=int,
        default=0,
        help='detector upsampling: each step finds faces half as small, '
        'about 4x slower (default: 0, faces of about 80 px and more)')
    parser.add_argument(
        '--predictor',
        default=None,
        help='a dlib 5-point shape predictor .dat file (default: the one '
        'of the face-recognition-models package)')


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
        multi_face (str): ``'largest'`` or ``'skip'``: which face
            :meth:`align` aligns in an image with several. Defaults to
            ``'largest'``.
        predictor_path (str, optional): A 5-point ``.dat`` file. Defaults
            to None (the ``face-recognition-models`` one).
        detector (str): ``'hog'`` (dlib's HOG + linear SVM detector) or
            ``'cnn'`` (dlib's MMOD CNN detector). Defaults to ``'hog'``.
        detector_path (str, optional): The CNN detector's ``.dat`` file.
            Defaults to None (the ``face-recognition-models`` one); not
            read for ``'hog'``.

    Raises:
        ValueError: On an invalid option.
        DlibModelFileError: A model file dlib cannot read (a ValueError).
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
                 predictor_path: Optional[str] = None,
                 detector: str = 'hog',
                 detector_path: Optional[str] = None):
        _require_int('size', size, 8)
        _require_int('upsample', upsample, 0)
        _require_fraction('face_scale', face_scale)
        _require_fraction('eye_line', eye_line)
        _require_choice('multi_face', multi_face, MULTI_FACE_POLICIES)
        _require_choice('detector', detector, DETECTORS)
        self.size = size
        self.face_scale = float(face_scale)
        self.eye_line = float(eye_line)
        self.upsample = upsample
        self.multi_face = multi_face
        self.detector = detector
        self.predictor_path = five_point_model_path(predictor_path)
        self.detector_path = (cnn_detector_model_path(detector_path)
                              if detector == 'cnn' else None)
        dlib = _import_dlib()
        self._dlib = dlib
        if detector == 'cnn':
            try:
                self._detector = dlib.cnn_face_detection_model_v1(
                    self.detector_path)
            except RuntimeError as e:
                raise DlibModelFileError(
                    f'{self.detector_path}: not a dlib CNN face detector '
                    f'file ({e})') from e
        else:
            self._detector = dlib.get_frontal_face_detector()
        try:
            self._predictor = dlib.shape_predictor(self.predictor_path)
        except RuntimeError as e:
            raise DlibModelFileError(
                f'{self.predictor_path}: not a dlib shape predictor file '
                f'({e})') from e

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

    def detect(self,
               image: np.ndarray,
               region: Optional[Tuple[int, int, int, int]] = None
               ) -> List[FaceBox]:
        """The detected faces, largest area first (then highest score).

        The score is the HOG detector's SVM margin or the CNN detector's
        confidence, each detector at dlib's default threshold.

        Args:
            image (np.ndarray): ``(H, W)`` grayscale or ``(H, W, 3)`` BGR
                uint8.
            region (tuple, optional): ``(left, top, right, bottom)``
                (right and bottom exclusive, clipped to the image): scan
                only this window (the video tracker,
                :class:`~ferpretrain.utils.face_tracking.FaceTracker`,
                scans around the faces of the last frame: a small window
                costs a fraction of a whole frame). The boxes are in
                ``image``'s coordinates either way. Defaults to None
                (the whole image).
        """
        self._check_image(image)
        left = top = 0
        if region is not None:
            height, width = image.shape[:2]
            left, top = max(0, int(region[0])), max(0, int(region[1]))
            right = min(width, int(region[2]))
            bottom = min(height, int(region[3]))
            if right <= left or bottom <= top:
                return []
            image = image[top:bottom, left:right]
        view = self._dlib_view(image)
        if self.detector == 'cnn':
            found = [(d.rect, d.confidence)
                     for d in self._detector(view, self.upsample)]
        else:
            # dlib's default threshold (0); run() also returns the scores.
            rects, scores, _ = self._detector.run(view, self.upsample, 0.0)
            found = list(zip(rects, scores))
        boxes = [
            FaceBox(r.left() + left, r.top() + top, r.right() + left,
                    r.bottom() + top, float(score)) for r, score in found
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
            raise DlibModelFileError(
                f'{self.predictor_path}: a {shape.num_parts}-point shape '
                'predictor; FaceAligner needs the 5-point one '
                f'({FIVE_POINT_MODEL_FILE}).')
        return np.array([(p.x, p.y) for p in shape.parts()],
                        dtype=np.float64)

    def align_box(self, image: np.ndarray, box: FaceBox,
                  num_faces: int = 1) -> AlignmentResult:
        """Align the face in ``box``: landmarks, similarity fit, warp.

        The one path every aligned face takes (:meth:`align` for dataset
        preparation; :meth:`align_all` and the inferencer for inference),
        so that a model sees at inference exactly the crops it was trained
        on.

        Args:
            image (np.ndarray): ``(H, W)`` grayscale or ``(H, W, 3)`` BGR
                uint8.
            box (FaceBox): A box of :meth:`detect` (or any ``FaceBox``).
            num_faces (int): Faces detected in the image, for the result.

        Returns:
            AlignmentResult: Status ``'ok'``; ``image`` is ``(size, size)``
            or ``(size, size, 3)`` like the input.
        """
        points = self.landmarks(image, box)
        matrix = estimate_similarity(points, self.template_points())
        return AlignmentResult(
            STATUS_OK,
            num_faces,
            image=warp_image(image, matrix, self.size),
            matrix=matrix,
            box=box,
            landmarks=points)

    def align_all(self, image: np.ndarray) -> List[AlignmentResult]:
        """Detect and align every face, in :meth:`detect`'s order (largest
        first).

        Args:
            image (np.ndarray): ``(H, W)`` grayscale or ``(H, W, 3)`` BGR
                uint8.

        Returns:
            list[AlignmentResult]: One per face (status ``'ok'``,
            ``num_faces`` the number found); empty when there is none.
        """
        boxes = self.detect(image)
        return [self.align_box(image, box, len(boxes)) for box in boxes]

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
        if len(boxes) == 1:
            return self.align_box(image, boxes[0])
        if self.multi_face == 'skip':
            return AlignmentResult(
                STATUS_MULTIPLE_FACES, len(boxes),
                message=f'{len(boxes)} faces, none aligned '
                "(multi_face='skip')")
        face = self.pick_largest(boxes)
        result = self.align_box(image, face, len(boxes))
        result.status = STATUS_MULTIPLE_FACES
        result.message = (f'{len(boxes)} faces, aligned the largest: box '
                          f'({face.left}, {face.top}, {face.right}, '
                          f'{face.bottom}), score {face.score:.2f}')
        return result

    def align_file(self, path: str) -> AlignmentResult:
        """:func:`read_image` then :meth:`align`; an unreadable file gives
        status ``'unreadable'`` with the reason in ``message``."""
        try:
            image = read_image(path)
        except UnreadableImageError as e:
            return AlignmentResult(STATUS_UNREADABLE, 0, message=str(e))
        return self.align(image)
