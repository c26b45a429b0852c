# Copyright (c) ferpretrain contributors. Licensed under Apache-2.0.
"""Facial expressions of every face in an image or a folder of images.

Usage::

    python tools/demo/image_demo.py INPUT [CONFIG [CHECKPOINT]] --out-dir DIR
        [--device cpu] [--batch-size 8] [--dtype fp32] [--no-detect]
        [--detector hog|cnn] [--predictor DAT] [--upsample 0]
        [--neutral IMAGE] [--min-side 480] [--show] [--no-progress]
        [--trust-checkpoint] [--cfg-options KEY=VALUE ...] [--debug]

INPUT is an image or a folder (its images, recursively). Each face is
found (dlib), aligned as ``tools/dataset_converters/prepare_faces.py``
aligns training faces, and classified (:class:`ferpretrain.apis.
FERInferencer`). Written to DIR:

- the annotated images, under their names relative to INPUT: each face's
  box, label and probability, dlib's 5 landmarks, and a bar for every
  class (images smaller than ``--min-side`` are enlarged so the text
  reads);
- ``predictions.json``: a list of ``{"image": path, "image_shape": [H, W],
  "faces": [{"box": [x1, y1, x2, y2], "detection_score": s, "landmarks":
  [[x, y] x 5], "label": name, "label_index": i, "score": p, "scores":
  {class: probability}}]}`` (x2 and y2 exclusive);
- ``predictions.csv``: one row a face; an image without a face, or one
  that cannot be read, is one row with empty face fields (and the reason
  in ``error``).

A short summary follows: images, faces, images without a face, time per
stage. ``--no-detect`` takes each image as an aligned face crop. Without
CONFIG the model that ships with ferpretrain runs (trained on FER2013's
real faces); CONFIG may also be a model name (its published weights), an
``.onnx`` file (CHECKPOINT left out); CHECKPOINT ``none`` runs the
config's random initialisation (to try the tool only).

Exit status: 0 on success (images without a face and, in a folder,
unreadable images are reported, not errors); 1 on an error in the input
(printed as one message; ``--debug`` for the traceback); 2 on invalid
arguments.
"""
import os.path as osp
import sys

# Allow running from a source checkout without installing ferpretrain. An
# installed copy, earlier on sys.path, still wins.
_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

from ferpretrain.apis import (collect_images, csv_fields,  # noqa: E402
                              face_rows, write_csv, write_json)
from ferpretrain.apis.cli import (add_inferencer_arguments,  # noqa: E402
                                  demo_parser, inferencer_from_args,
                                  parse_demo_args, plural, stage_summary)
from ferpretrain.utils.batch_files import (is_inside,  # noqa: E402
                                           list_some, progress_bar)
from ferpretrain.utils.errors import ConfigError, run_tool  # noqa: E402
from ferpretrain.visualization import (draw_predictions,  # noqa: E402
                                       save_image)

_WINDOW = 'ferpretrain image demo (any key: next, q / Esc: stop showing)'


def parse_args(argv=None):
    parser = demo_parser(__doc__)
    parser.add_argument('input', help='an image, or a folder of images')
    add_inferencer_arguments(parser)
    parser.add_argument(
        '--out-dir', required=True, help='where the outputs are written')
    parser.add_argument(
        '--min-side',
        type=int,
        default=480,
        help='enlarge smaller annotated images to this shorter side '
        '(default: 480; 0 keeps the size)')
    parser.add_argument(
        '--show',
        action='store_true',
        help='show each annotated image in a window')
    parser.add_argument(
        '--no-progress', action='store_true', help='hide the progress bar')
    return parse_demo_args(parser, argv)


class _Viewer:
    """Shows images until the user presses q or Esc."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __call__(self, image) -> None:
        if not self.enabled:
            return
        import cv2
        try:
            cv2.imshow(_WINDOW, image)
            key = cv2.waitKey(0) & 0xFF
        except cv2.error as error:
            raise ConfigError(f'--show needs a display ({error}); run '
                              'without --show') from None
        if key in (ord('q'), 27):
            self.enabled = False
            cv2.destroyAllWindows()


def _summary(records, ignored, inferencer, out_dir) -> str:
    unreadable = [r for r in records if r.get('error')]
    faceless = [r for r in records if not r['faces'] and not r.get('error')]
    faces = sum(len(r['faces']) for r in records)
    lines = [
        f'{plural(len(records), "image")}, {plural(faces, "face")}, '
        f'{plural(len(faceless), "image")} without a face' +
        (f', {len(unreadable)} unreadable' if unreadable else ''),
        f'classes ({inferencer.classes_source}): '
        f'{", ".join(inferencer.classes)}',
        stage_summary(inferencer.timings),
        f'predictions: {osp.join(out_dir, "predictions.json")}, '
        f'{osp.join(out_dir, "predictions.csv")}; annotated images in '
        f'{out_dir}',
    ]
    if faceless:
        lines.append('without a face: ' +
                     list_some([r['image'] for r in faceless]))
    if unreadable:
        lines.append('unreadable: ' + list_some([r['error']
                                                 for r in unreadable]))
    if ignored:
        lines.append('not images, left out: ' + list_some(ignored))
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    images, ignored = collect_images(args.input)
    single = osp.isfile(args.input)
    root = osp.dirname(args.input) if single else args.input
    out_dir = args.out_dir
    if not single and is_inside(out_dir, root):
        raise ConfigError(f'--out-dir {out_dir} lies inside the input '
                          f'folder {root}; choose another one (the tool '
                          'never writes where it reads).')
    inferencer = inferencer_from_args(args)
    classes = inferencer.classes
    viewer = _Viewer(args.show)
    records, rows = [], []
    with progress_bar(not args.no_progress and not single) as progress:
        task = progress.add_task('classifying faces', total=len(images))
        # In a folder an unreadable image is reported and skipped; a single
        # image that cannot be read is an error.
        for record in inferencer.iter_images(
                images, neutral=args.neutral, return_images=True,
                skip_unreadable=not single):
            decoded = record.pop('decoded', None)
            if decoded is not None:
                annotated = draw_predictions(
                    decoded, record['faces'], classes,
                    min_side=args.min_side)
                out = osp.join(out_dir, osp.relpath(record['image'], root))
                if osp.exists(out) and osp.samefile(out, record['image']):
                    raise ConfigError(f'{out} would replace its input; '
                                      'choose another --out-dir')
                save_image(out, annotated)
                viewer(annotated)
            records.append(record)
            rows += face_rows(record, classes)
            progress.advance(task)
    write_json(osp.join(out_dir, 'predictions.json'), records)
    write_csv(osp.join(out_dir, 'predictions.csv'), rows, csv_fields(classes))
    print(_summary(records, ignored, inferencer, out_dir))


if __name__ == '__main__':
    run_tool(main)
