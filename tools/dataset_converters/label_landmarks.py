"""Label every face crop under a folder with dlib's 68 landmarks (a CSV).

MobileFaceNet's landmark head (the frozen landmark branch of POSTER and
POSTER V2) is trained on 68-point landmarks; this tool makes them for any
folder of face crops, e.g. FER2013's ``<root>/<split>/<class>/<img>``, with
dlib's 68-point shape predictor. The CSV is read by
``dict(type='FaceLandmarkDataset', ann_file=..., data_root=...)``.

For each image (any tree below IN_ROOT, extensions .jpg .jpeg .png .bmp .tif
.tiff .webp in any case, sorted):

1. **Upscale** so that the longer side is ``--size`` pixels (default 192,
   bicubic; area averaging when shrinking). FER crops are small (FER2013:
   48x48) and dlib's HOG detector only finds faces of about 80 pixels and
   more; its points are whole pixels, so the larger image also gives finer
   landmarks (a quarter of a FER2013 pixel).
2. **Detect** with dlib's HOG frontal face detector (no model file;
   ``--upsample`` as in dlib). With several faces the largest box is used
   (boxes within 10 % of its area count as equal and the best score wins,
   as in ``ferpretrain.utils.face_alignment``).
3. **Fallback box** where no face is detected: FER images are face crops,
   so the face is where the other faces were. Detection runs on every image
   first; then the undetected ones get the *median detected box*: the
   median centre and the median side of the detected boxes (dlib's boxes
   are square, and its shape predictor was trained on them), in fractions
   of the image, so images of any size share it. It is printed, so that
   another split can reuse it with ``--fallback-box``, which also replaces
   it (and is required when no face at all is detected). On FER2013 about
   69 % of the faces are detected at 192 px, and the median box is
   (15, 29)-(165, 179) of 192 in both splits.
4. **Landmarks**: dlib's shape predictor in that box.

Output ``--out FILE.csv`` (one row per readable image, sorted by path)::

    img_path,box_source,x0,y0,x1,y1,...,x67,y67

- ``img_path``: relative to ``--relative-to`` (default IN_ROOT), ``/``
  separated;
- ``box_source``: ``detected`` or ``fallback``;
- ``x<i>, y<i>``: point ``i`` of the iBUG 300-W scheme (jaw 0-16, brows
  17-26, nose 27-35, eyes 36-47, mouth 48-67) as a fraction of the image
  width / height, with pixel centres at half-integers: ``x = (column + 0.5)
  / width``. The image spans [0, 1], so the values do not depend on the
  upscaling, a resized image keeps them, and a horizontal flip maps ``x``
  to ``1 - x``. Points may lie a little outside [0, 1] (tight crops cut the
  chin). This is the convention of MobileFaceNet's landmark head.

Nothing is dropped silently: images that cannot be read are not in the CSV
but in ``<out>_report.csv`` (``img_path,status,message``; written on every
run, header only when every image was read), and the summary names the
report and counts detected, fallback and unreadable images. Files that are
not images are listed in the summary.

Model file: ``shape_predictor_68_face_landmarks.dat`` of the
``face-recognition-models`` package (found without importing it), or
``--predictor PATH``. dlib's 68-point model is trained on the iBUG 300-W
data set, whose licence excludes commercial use: so do landmarks made with
it and networks trained on them.

Safety: an existing CSV or report is never replaced without
``--overwrite``; both are written through a temporary file, so an
interrupted run leaves no half-written CSV.

Exit status: 0 when every image was processed (unreadable ones are
reported, not errors); 1 on a real error (input missing, no image, output
exists without ``--overwrite``, model file missing or not a 68-point
predictor, no face detected and no ``--fallback-box``); 2 on invalid
arguments; 130 when interrupted (Ctrl-C).

Speed: about 7 ms per FER2013 image in one process; 2 workers labelled
the 35,887 FER2013 train and test images in 279 s on 2 CPU cores shared
with other work.

Example (the layout of ``configs/landmarks/``, paths relative to the
dataset root)::

    python tools/dataset_converters/label_landmarks.py data/fer2013/train \\
        --relative-to data/fer2013 --out data/fer2013/train_landmarks.csv \\
        --workers 2
"""
import csv
import importlib.util
import os
import os.path as osp
import sys
import time

import cv2
import numpy as np

# Allow running from a source checkout without installing ferpretrain. An
# installed copy, earlier on sys.path, still wins.
_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

from ferpretrain.utils.batch_files import (  # noqa: E402
    add_batch_arguments, atomic_file, batch_parser, is_inside, list_some,
    map_with_progress, parse_batch_args, progress_bar, quiet_opencv,
    walk_images, worker_pool)
from ferpretrain.utils.face_alignment import (  # noqa: E402
    IMAGE_EXTENSIONS, FaceAligner, FaceBox, UnreadableImageError,
    read_image)

MODEL_FILE = 'shape_predictor_68_face_landmarks.dat'
NUM_LANDMARKS = 68
#: The CSV header; ``ferpretrain.datasets.LANDMARK_CSV_HEADER`` reads it.
CSV_HEADER = ('img_path', 'box_source') + tuple(
    f'{axis}{i}' for i in range(NUM_LANDMARKS) for axis in 'xy')
REPORT_HEADER = ('img_path', 'status', 'message')
DETECTED, FALLBACK, UNREADABLE = 'detected', 'fallback', 'unreadable'
_PENDING = 'pending'  # no face detected yet: waits for the fallback box
_MAX_LISTED = 5


class LabelError(Exception):
    """A real error: the message is printed and the tool exits with 1."""


def landmark_model_path(path=None):
    """The 68-point predictor file: ``path``, or the one of the
    ``face-recognition-models`` package (located without importing it: its
    ``__init__`` imports ``pkg_resources``, gone from setuptools >= 81)."""
    if path is not None:
        if not osp.isfile(path):
            raise LabelError(f'dlib shape predictor not found: {path} '
                             f'(expected a {MODEL_FILE} file)')
        return path
    spec = importlib.util.find_spec('face_recognition_models')
    hint = ('pip install face-recognition-models (CC0 package of dlib '
            f'model files, about 100 MB), or pass --predictor {MODEL_FILE}')
    if spec is None or not spec.submodule_search_locations:
        raise LabelError(f'the face-recognition-models package, which ships '
                         f'dlib\'s {MODEL_FILE}, is not installed: {hint}')
    for folder in spec.submodule_search_locations:
        candidate = osp.join(folder, 'models', MODEL_FILE)
        if osp.isfile(candidate):
            return candidate
    raise LabelError(f'{MODEL_FILE} is missing from the installed '
                     'face-recognition-models package; reinstall it: ' + hint)


# ----------------------------------------------------------------------
# The labeller: one per process (dlib objects cannot be pickled).
class Labeller:
    """dlib's HOG detector and 68-point shape predictor at one scale.

    Args:
        predictor_path (str): A 68-point ``.dat`` file.
        size (int): Longer side of the image the detector sees.
        upsample (int): dlib's upsampling steps of the detector.
    """

    def __init__(self, predictor_path, size=192, upsample=0):
        import dlib
        self._dlib = dlib
        self.size = size
        self.upsample = upsample
        self._detector = dlib.get_frontal_face_detector()
        try:
            self._predictor = dlib.shape_predictor(predictor_path)
        except RuntimeError as e:
            raise LabelError(f'{predictor_path}: not a dlib shape predictor '
                             f'file ({e})') from None
        # The predictor tells its point count only once used.
        probe = self._predictor(
            np.zeros((16, 16), np.uint8), dlib.rectangle(0, 0, 15, 15))
        if probe.num_parts != NUM_LANDMARKS:
            raise LabelError(
                f'{predictor_path}: a {probe.num_parts}-point shape '
                f'predictor; landmarks need the 68-point one ({MODEL_FILE})')

    def prepare(self, image):
        """The upscaled image dlib reads: grayscale as is, colour as RGB."""
        h, w = image.shape[:2]
        scale = self.size / max(h, w)
        new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
        if (new_w, new_h) != (w, h):
            interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
            image = cv2.resize(image, (new_w, new_h), interpolation=interp)
        if image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        return np.ascontiguousarray(image)

    def detect(self, view):
        """The face box (a ``FaceBox``) by the largest-face rule, or None,
        and the number of faces detected."""
        rects, scores, _ = self._detector.run(view, self.upsample, 0.0)
        boxes = [
            FaceBox(r.left(), r.top(), r.right(), r.bottom(), float(s))
            for r, s in zip(rects, scores)
        ]
        if not boxes:
            return None, 0
        return FaceAligner.pick_largest(boxes), len(boxes)

    def landmarks(self, view, box):
        """``(68, 2)`` fractions of the image in the pixel box ``(left,
        top, right, bottom)`` (inclusive, dlib's convention)."""
        shape = self._predictor(
            view, self._dlib.rectangle(*(int(v) for v in box[:4])))
        h, w = view.shape[:2]
        points = np.array([(p.x, p.y) for p in shape.parts()],
                          dtype=np.float64)
        # Pixel centres at half-integers: the image spans [0, 1].
        return (points + 0.5) / (w, h)


def box_to_fractions(box, width, height):
    """dlib's inclusive pixel box -> ``(x0, y0, x1, y1)`` edge fractions."""
    left, top, right, bottom = box[:4]
    return (left / width, top / height, (right + 1) / width,
            (bottom + 1) / height)


def fractions_to_box(frac, width, height):
    """Edge fractions -> dlib's inclusive pixel box."""
    x0, y0, x1, y1 = frac
    return (int(round(x0 * width)), int(round(y0 * height)),
            int(round(x1 * width)) - 1, int(round(y1 * height)) - 1)


def median_box(boxes):
    """The box at the median centre with the median width and height,
    from ``(N, 4)`` edge-fraction boxes (in fractions). dlib's boxes are
    square in pixels; so is this one for images of one aspect ratio."""
    boxes = np.asarray(boxes, dtype=np.float64)
    cx = np.median((boxes[:, 0] + boxes[:, 2]) / 2)
    cy = np.median((boxes[:, 1] + boxes[:, 3]) / 2)
    half_w = np.median(boxes[:, 2] - boxes[:, 0]) / 2
    half_h = np.median(boxes[:, 3] - boxes[:, 1]) / 2
    return (float(cx - half_w), float(cy - half_h), float(cx + half_w),
            float(cy + half_h))


# ----------------------------------------------------------------------
# Work done for one image, in a worker process.
_WORKER = {}


def _init_worker(options):
    quiet_opencv()
    _WORKER['labeller'] = Labeller(options['predictor'], options['size'],
                                   options['upsample'])


def _read_view(job):
    image = read_image(job['src'])
    return _WORKER['labeller'].prepare(image)


def detect_and_label(job):
    """Pass 1: detect; label the detected faces right away."""
    row = dict(rel=job['rel'], status=_PENDING, box=None, points=None,
               num_faces=0, message='')
    try:
        view = _read_view(job)
    except UnreadableImageError as e:
        row.update(status=UNREADABLE, message=str(e))
        return row
    labeller = _WORKER['labeller']
    face, row['num_faces'] = labeller.detect(view)
    if face is not None:
        h, w = view.shape[:2]
        row.update(
            status=DETECTED,
            box=box_to_fractions(face, w, h),
            points=labeller.landmarks(view, face))
    return row


def label_in_box(job):
    """Pass 2: landmarks in the fallback box (edge fractions)."""
    row = dict(rel=job['rel'], status=FALLBACK, box=job['box'],
               points=None, num_faces=0, message='')
    try:
        view = _read_view(job)
    except UnreadableImageError as e:
        # Readable in pass 1: the file changed in between.
        row.update(status=UNREADABLE, message=str(e))
        return row
    h, w = view.shape[:2]
    row['points'] = _WORKER['labeller'].landmarks(
        view, fractions_to_box(job['box'], w, h))
    return row


# ----------------------------------------------------------------------
# The run: inputs, the two passes, the CSV, the report, the summary.
def find_images(root):
    """Paths (sorted) of the images under ``root`` and of other files."""
    images, others = walk_images(root)
    return ([osp.join(root, rel) for rel in images],
            [osp.join(root, rel) for rel in others])


def report_path(out):
    """``<out without .csv>_report.csv``."""
    stem = out[:-4] if out.lower().endswith('.csv') else out
    return stem + '_report.csv'


def _write_csv_atomic(path, header, rows):
    with atomic_file(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def _landmark_rows(rows):
    for row in rows:
        if row['status'] in (DETECTED, FALLBACK):
            yield [row['rel'], row['status']] + [
                f'{v:.5f}' for v in row['points'].reshape(-1)
            ]


def _fmt_box(frac, size):
    px = ', '.join(f'{v * size:.0f}' for v in frac)
    return (f'({", ".join(f"{v:.4f}" for v in frac)}) of the image, '
            f'({px}) at {size} px')


def _summary(args, stats):
    n = stats['total']

    def pct(k):
        return f'{100. * k / n:5.1f} %' if n else '  -'

    lines = [
        f'labelled {n} images under {stats["in_root"]} in '
        f'{stats["seconds"]:.1f}s with {args.workers} worker(s) (longer side '
        f'upscaled to {args.size} px, upsample {args.upsample})',
        f'  {DETECTED:<11}{stats[DETECTED]:>8}  {pct(stats[DETECTED])}' +
        (f'   ({stats["multi"]} with several faces: the largest box)'
         if stats['multi'] else ''),
        f'  {FALLBACK:<11}{stats[FALLBACK]:>8}  {pct(stats[FALLBACK])}' +
        (f'   box {_fmt_box(stats["fallback_box"], args.size)}, '
         f'{stats["fallback_from"]}' if stats['fallback_box'] else ''),
        f'  {UNREADABLE:<11}{stats[UNREADABLE]:>8}  {pct(stats[UNREADABLE])}'
        + ('   not in the CSV: listed in the report'
           if stats[UNREADABLE] else ''),
        f'csv: {args.out} ({stats[DETECTED] + stats[FALLBACK]} rows; x, y '
        'are fractions of the image width and height)',
        f'report: {stats["report"]} ({stats[UNREADABLE]} image(s) listed)',
    ]
    if stats['others']:
        lines.append('not images, left out: ' +
                     list_some(stats['others'], _MAX_LISTED))
    lines.append(
        f"load it with: dict(type='FaceLandmarkDataset', "
        f"data_root='{stats['relative_to']}', ann_file='{args.out}')")
    return '\n'.join(lines)


def parse_args(argv=None):
    parser = batch_parser(__doc__)
    parser.add_argument(
        'in_root',
        help='the folder of face images to label '
        '(searched recursively)')
    parser.add_argument(
        '--out', required=True, help='the CSV to write (FILE.csv)')
    parser.add_argument(
        '--relative-to',
        default=None,
        help='write img_path relative to this folder, which must hold '
        'IN_ROOT (default: IN_ROOT); e.g. the dataset root when labelling '
        'one split folder')
    parser.add_argument(
        '--size',
        type=int,
        default=192,
        help='longer side the image is resized to before detection, bicubic '
        '(default: 192; FER2013 48x48 faces are then found about 70 %% of '
        'the time)')
    parser.add_argument(
        '--upsample',
        type=int,
        default=0,
        help="dlib detector's upsampling steps: each finds faces half as "
        'small, about 4x slower (default: 0)')
    parser.add_argument(
        '--fallback-box',
        type=float,
        nargs=4,
        default=None,
        metavar=('X0', 'Y0', 'X1', 'Y1'),
        help='box used where no face is detected, as fractions of the image '
        'width/height (default: the median detected box of this run)')
    parser.add_argument(
        '--predictor',
        default=None,
        help=f'a dlib 68-point shape predictor ({MODEL_FILE}; default: the '
        'one of the face-recognition-models package)')
    add_batch_arguments(parser, 'worker processes (default: 1)',
                        'replace an existing CSV and report')
    args = parse_batch_args(parser, argv, size=16, upsample=0)
    if args.fallback_box is not None:
        x0, y0, x1, y1 = args.fallback_box
        if not (x0 < x1 and y0 < y1):
            parser.error('--fallback-box needs X0 < X1 and Y0 < Y1')
    if not args.out.lower().endswith('.csv'):
        parser.error('--out must name a .csv file')
    return args


def _check_inputs(args, in_root, relative_to, out, report):
    if not osp.isdir(in_root):
        raise LabelError(f'input folder not found: {in_root}')
    if not is_inside(in_root, relative_to):
        raise LabelError(
            f'--relative-to {relative_to} does not hold the input folder '
            f'{in_root}; img_path values would leave it. Pass a parent of '
            'IN_ROOT (or leave it out).')
    for path in (out, report):
        if osp.isdir(path):
            raise LabelError(f'{path} is a folder; --out must name a file')
    if not args.overwrite:
        existing = [p for p in (out, report) if osp.lexists(p)]
        if existing:
            raise LabelError(
                f'{" and ".join(existing)} already exist(s); refusing to '
                'overwrite: pass --overwrite, or choose another --out.')


def main(argv=None):
    """Run the tool; return the exit status (see the module docstring)."""
    args = parse_args(argv)
    in_root = osp.abspath(args.in_root)
    relative_to = osp.abspath(args.relative_to or args.in_root)
    out = args.out = osp.abspath(args.out)
    report = report_path(out)
    try:
        _check_inputs(args, in_root, relative_to, out, report)
        images, others = find_images(in_root)
        if not images:
            exts = ' '.join(IMAGE_EXTENSIONS)
            raise LabelError(f'no image found under {in_root} (extensions '
                             f'{exts}, any case)')
        options = dict(
            predictor=landmark_model_path(args.predictor), size=args.size,
            upsample=args.upsample)
        # Built here too: a bad model file fails once, with its message,
        # instead of in every worker (a pool whose initializer fails
        # restarts workers forever).
        _init_worker(options)
    except (LabelError, ImportError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1

    jobs = [
        dict(src=p, rel=osp.relpath(p, relative_to).replace(os.sep, '/'))
        for p in images
    ]
    workers = min(args.workers, len(jobs))
    start = time.time()
    try:
        # One worker: this process's labeller, built above.
        with progress_bar(not args.no_progress) as progress, \
                worker_pool(workers, _init_worker, (options, )) as pool:
            rows = map_with_progress(detect_and_label, jobs, pool, progress,
                                     'detecting faces')
            detected = [r['box'] for r in rows if r['status'] == DETECTED]
            pending = [r for r in rows if r['status'] == _PENDING]
            fallback_box, fallback_from = None, ''
            if args.fallback_box is not None:
                fallback_box = tuple(args.fallback_box)
                fallback_from = 'given by --fallback-box'
            elif detected:
                fallback_box = median_box(detected)
                fallback_from = (f'median of the {len(detected)} detected '
                                 'boxes')
            if pending and fallback_box is None:
                raise LabelError(
                    f'no face detected in any of the {len(rows)} images, so '
                    'there is no median box for the undetected ones: pass '
                    '--fallback-box X0 Y0 X1 Y1 (fractions of the image), '
                    'a larger --size or --upsample 1')
            second = map_with_progress(
                label_in_box,
                [dict(src=osp.join(relative_to, r['rel']), rel=r['rel'],
                      box=fallback_box) for r in pending],
                pool, progress, 'fallback boxes ')
    except LabelError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('interrupted: nothing was written.', file=sys.stderr)
        return 130
    rows = sorted([r for r in rows if r['status'] != _PENDING] + second,
                  key=lambda r: r['rel'])
    _write_csv_atomic(out, CSV_HEADER, _landmark_rows(rows))
    _write_csv_atomic(report, REPORT_HEADER,
                      [(r['rel'], r['status'], r['message'])
                       for r in rows if r['status'] == UNREADABLE])
    stats = {s: sum(r['status'] == s for r in rows)
             for s in (DETECTED, FALLBACK, UNREADABLE)}
    stats.update(
        total=len(rows),
        multi=sum(r['num_faces'] > 1 for r in rows),
        fallback_box=fallback_box if stats[FALLBACK] else None,
        fallback_from=fallback_from,
        in_root=in_root,
        relative_to=relative_to,
        report=report,
        others=[osp.relpath(p, in_root) for p in others],
        seconds=time.time() - start)
    print(_summary(args, stats))
    return 0


if __name__ == '__main__':
    sys.exit(main())
