"""label_landmarks.py run as a user would, on FER-like 48x48 crops of
scikit-image's astronaut face (a real face, shipped with the package) and
synthetic images; the CSV is then read by FaceLandmarkDataset.

Most runs call the tool's ``main(argv)`` in this process; one uses worker
processes and one runs the script as a subprocess.
"""
import csv
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import skimage.data as skimage_data

from ferpretrain.datasets import LANDMARK_CSV_HEADER, FaceLandmarkDataset
from ferpretrain.datasets.transforms import flip_landmarks
from ferpretrain.utils.face_alignment import five_point_model_path

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from tool_helpers import load_tool  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'dataset_converters', 'label_landmarks.py')

tool = load_tool(TOOL, 'label_landmarks_tool')


def fer_face():
    """The astronaut's face cut and shrunk like a FER2013 image: 48x48
    grayscale, the face filling most of it."""
    gray = cv2.cvtColor(
        np.ascontiguousarray(skimage_data.astronaut()[:, :, ::-1]),
        cv2.COLOR_BGR2GRAY)
    return cv2.resize(gray[40:180, 140:280], (48, 48),
                      interpolation=cv2.INTER_AREA)


def _imwrite(path, image):
    os.makedirs(osp.dirname(str(path)), exist_ok=True)
    assert cv2.imwrite(str(path), image)


@pytest.fixture
def fer_root(tmp_path):
    """``fer/{train,test}/<class>/``: faces, a flipped face, a blank image,
    a file that is not an image decoder's, a note."""
    root = tmp_path / 'fer'
    face = fer_face()
    _imwrite(root / 'train/happy/face.png', face)
    _imwrite(root / 'train/happy/face_mirrored.png', face[:, ::-1])
    _imwrite(root / 'train/sad/blank.png', np.full((48, 48), 128, np.uint8))
    _imwrite(root / 'test/happy/face.jpg', face)
    with open(root / 'train/sad/broken.jpg', 'wb') as f:
        f.write(b'not a jpeg')
    (root / 'train/notes.txt').write_text('not an image')
    return root


def _run(*args, expect=0):
    code = tool.main([str(a) for a in args] + ['--no-progress'])
    assert code == expect
    return code


def _read(path):
    with open(path, newline='') as f:
        rows = list(csv.reader(f))
    return rows[0], {row[0]: row for row in rows[1:]}


def _points(row):
    return np.array(row[2:], dtype=float).reshape(68, 2)


def test_labels_a_split_with_detected_fallback_and_unreadable(
        fer_root, tmp_path, capsys):
    out = tmp_path / 'labels' / 'train_landmarks.csv'
    _run(fer_root / 'train', '--relative-to', fer_root, '--out', out)
    printed = capsys.readouterr().out

    header, rows = _read(out)
    assert tuple(header) == tool.CSV_HEADER == LANDMARK_CSV_HEADER
    # Relative to --relative-to, sorted; the unreadable one is not there.
    assert list(rows) == [
        'train/happy/face.png', 'train/happy/face_mirrored.png',
        'train/sad/blank.png'
    ]
    assert all(len(row) == 138 for row in rows.values())
    assert rows['train/happy/face.png'][1] == 'detected'
    assert rows['train/happy/face_mirrored.png'][1] == 'detected'
    # No face on a blank image: landmarks in the median detected box.
    assert rows['train/sad/blank.png'][1] == 'fallback'

    # Fractions of the image: the face fills the crop.
    face = _points(rows['train/happy/face.png'])
    assert face.min() > -0.1 and face.max() < 1.1
    # iBUG order on a real face: jaw from image-left to image-right, the
    # image-left eye corner (36) left of the other (45), eyes above the
    # nose tip (30), the nose above the mouth (51, 57), chin (8) lowest.
    assert face[0, 0] < face[8, 0] < face[16, 0]
    assert face[36, 0] < face[39, 0] < face[42, 0] < face[45, 0]
    assert face[36, 1] < face[30, 1] < face[51, 1] < face[57, 1] < face[8, 1]
    inter_ocular_px = np.linalg.norm(face[36] - face[45]) * 48
    assert 15 < inter_ocular_px < 30

    # Labelling the mirrored image = mirroring the labels (x -> 1 - x and
    # the iBUG left/right renumbering), to a fraction of a 48-px pixel.
    mirrored = _points(rows['train/happy/face_mirrored.png'])
    error_px = np.linalg.norm((flip_landmarks(face) - mirrored) * 48, axis=1)
    assert error_px.mean() < 0.6, error_px.mean()

    # The unreadable file is in the report, and the summary says so.
    header, report = _read(str(out)[:-4] + '_report.csv')
    assert header == ['img_path', 'status', 'message']
    assert list(report) == ['train/sad/broken.jpg']
    assert report['train/sad/broken.jpg'][1] == 'unreadable'
    assert 'cannot be decoded' in report['train/sad/broken.jpg'][2]
    for text in ('detected          2', 'fallback          1',
                 'unreadable        1', 'median of the 2 detected boxes',
                 'train_landmarks_report.csv (1 image(s) listed)',
                 'not images, left out: notes.txt'):
        assert text in printed, printed

    # FaceLandmarkDataset reads it, with the dataset root as data_root.
    dataset = FaceLandmarkDataset(ann_file=str(out), data_root=str(fer_root))
    assert len(dataset) == 3
    info = dataset.get_data_info(0)
    assert info['img_path'] == osp.join(str(fer_root), 'train/happy/face.png')
    np.testing.assert_allclose(info['gt_landmarks'], face, atol=1e-5)


def test_fallback_box_is_the_median_box(tmp_path):
    # One face and one blank image: the median of one detected box is that
    # box, so the blank image's landmarks are those an explicit
    # --fallback-box of the face's box gives.
    root = tmp_path / 'one_face'
    _imwrite(root / 'face.png', fer_face())
    _imwrite(root / 'blank.png', np.full((48, 48), 128, np.uint8))
    out = tmp_path / 'a.csv'
    _run(root, '--out', out)
    _, rows = _read(out)
    labeller = tool.Labeller(tool.landmark_model_path(), size=192)
    view = labeller.prepare(fer_face())
    box, _ = labeller.detect(view)
    frac = tool.box_to_fractions(box, 192, 192)
    assert tool.fractions_to_box(frac, 192, 192) == tuple(box[:4])
    out2 = tmp_path / 'b.csv'
    _run(root, '--out', out2, '--fallback-box', *frac)
    _, rows2 = _read(out2)
    assert rows['blank.png'][1] == rows2['blank.png'][1] == 'fallback'
    np.testing.assert_allclose(
        _points(rows2['blank.png']), _points(rows['blank.png']), atol=1e-5)
    # The median of several boxes: median centre, median side.
    boxes = [(0.1, 0.1, 0.5, 0.5), (0.2, 0.2, 0.8, 0.8), (0.3, 0.1, 0.9, 0.7)]
    assert tool.median_box(boxes) == pytest.approx((0.2, 0.1, 0.8, 0.7))


def test_no_face_anywhere_needs_a_fallback_box(tmp_path, capsys):
    root = tmp_path / 'blank'
    _imwrite(root / 'a.png', np.zeros((48, 48), np.uint8))
    _run(root, '--out', tmp_path / 'x.csv', expect=1)
    assert '--fallback-box' in capsys.readouterr().err
    assert not (tmp_path / 'x.csv').exists()
    _run(root, '--out', tmp_path / 'x.csv', '--fallback-box', 0.1, 0.1, 0.9,
         0.9)
    _, rows = _read(tmp_path / 'x.csv')
    assert rows['a.png'][1] == 'fallback'


def test_refuses_to_overwrite(fer_root, tmp_path, capsys):
    out = tmp_path / 'l.csv'
    _run(fer_root / 'test', '--out', out)
    before = out.read_bytes()
    _run(fer_root / 'test', '--out', out, expect=1)
    err = capsys.readouterr().err
    assert 'refusing to overwrite' in err and '--overwrite' in err
    assert out.read_bytes() == before
    # A stale report alone also blocks a run.
    out.unlink()
    _run(fer_root / 'test', '--out', out, expect=1)
    _run(fer_root / 'test', '--out', out, '--overwrite')
    assert out.read_bytes() == before


def test_input_errors(fer_root, tmp_path, capsys):
    _run(tmp_path / 'missing', '--out', tmp_path / 'a.csv', expect=1)
    assert 'input folder not found' in capsys.readouterr().err
    empty = tmp_path / 'empty'
    empty.mkdir()
    _run(empty, '--out', tmp_path / 'a.csv', expect=1)
    assert 'no image found' in capsys.readouterr().err
    _run(fer_root / 'train', '--relative-to', fer_root / 'test', '--out',
         tmp_path / 'a.csv', expect=1)
    assert 'does not hold the input folder' in capsys.readouterr().err
    _run(fer_root, '--out', tmp_path / 'a.csv', '--predictor',
         tmp_path / 'nope.dat', expect=1)
    assert 'shape predictor not found' in capsys.readouterr().err
    # The 5-point model is a dlib predictor, but not the 68-point one.
    five = five_point_model_path()
    _run(fer_root, '--out', tmp_path / 'a.csv', '--predictor', five,
         expect=1)
    assert 'a 5-point shape predictor' in capsys.readouterr().err
    not_dat = tmp_path / 'x.dat'
    not_dat.write_bytes(b'garbage')
    _run(fer_root, '--out', tmp_path / 'a.csv', '--predictor', not_dat,
         expect=1)
    assert 'not a dlib shape predictor' in capsys.readouterr().err
    for bad in (['--workers', '0'], ['--size', '8'],
                ['--fallback-box', '0.5', '0', '0.4', '1']):
        with pytest.raises(SystemExit) as info:
            tool.main([str(fer_root), '--out', str(tmp_path / 'a.csv')] +
                      bad)
        assert info.value.code == 2
    with pytest.raises(SystemExit):
        tool.main([str(fer_root), '--out', str(tmp_path / 'a.txt')])


def test_workers_give_the_same_csv(fer_root, tmp_path):
    one, two = tmp_path / 'one.csv', tmp_path / 'two.csv'
    _run(fer_root, '--out', one)
    _run(fer_root, '--out', two, '--workers', '2')
    assert one.read_bytes() == two.read_bytes()


def test_script_runs_as_a_subprocess(fer_root, tmp_path):
    out = tmp_path / 'l.csv'
    proc = subprocess.run(
        [sys.executable, TOOL, str(fer_root / 'test'), '--out',
         str(out), '--no-progress'],
        cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout
    assert 'detected          1' in proc.stdout
    _, rows = _read(out)
    assert list(rows) == ['happy/face.jpg']
