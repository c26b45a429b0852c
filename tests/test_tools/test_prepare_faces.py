"""prepare_faces.py run as a user would, on the real layouts of JAFFE, CK+,
RAF-DB and a class-folder tree built from scikit-image's astronaut face;
the outputs are then read by ferpretrain's own dataset classes.

Most runs call the tool's ``main(argv)`` in this process (one import of
ferpretrain for all); one runs the script as a subprocess.
"""
import csv
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

from ferpretrain.datasets import JAFFE, RAFDB, CKPlus, FERFolder
from ferpretrain.utils import FaceAligner

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from tool_helpers import load_tool  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'dataset_converters', 'prepare_faces.py')

tool = load_tool(TOOL, 'prepare_faces_tool')
# The face fixtures live with the library tests.
faces = load_tool(
    osp.join(REPO, 'tests', 'test_utils', 'test_face_alignment.py'),
    'face_alignment_fixtures')


def _run(*args, expect=0):
    code = tool.main([str(a) for a in args] + ['--no-progress'])
    assert code == expect
    return code


def _report(out_root):
    with open(f'{out_root}_face_report.csv', newline='') as f:
        return {row['input']: row for row in csv.DictReader(f)}


def _infos(dataset):
    # data_list is emptied once mmengine serialises it.
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def _imwrite(path, image):
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), image)


# ----------------------------------------------------------------------
def _jaffe(root):
    gray = faces.face_image(gray=True)
    _imwrite(root / 'KA.AN1.39.tiff', gray)
    _imwrite(root / 'KA.HA1.29.tiff', faces.rotate(gray, 15))
    _imwrite(root / 'KM.NE1.1.tiff', faces.noise_image(256)[:, :, 0])
    _imwrite(root / 'KM.SU1.2.tiff', faces.two_faces(gray))
    faces.write_truncated_png(str(root / 'KL.DI1.3.tiff'), gray)
    (root / 'README').write_text('The JAFFE images ...')


def test_jaffe_layout(tmp_path, capsys):
    src, out = tmp_path / 'jaffe', tmp_path / 'jaffe_aligned'
    _jaffe(src)
    _run('--layout', 'jaffe', src, out, '--size', 64)
    printed = capsys.readouterr().out
    assert "dict(type='JAFFE'" in printed and 'README' in printed

    report = _report(out)
    assert set(report) == {'KM.NE1.1.tiff', 'KM.SU1.2.tiff',
                           'KL.DI1.3.tiff'}
    columns = ('status', 'num_faces', 'written')
    assert [report['KM.NE1.1.tiff'][c] for c in columns] == \
        ['no_face', '0', 'no']
    assert [report['KM.SU1.2.tiff'][c] for c in columns] == \
        ['multiple_faces', '2', 'aligned']
    assert report['KL.DI1.3.tiff']['status'] == 'unreadable'
    assert 'KL.DI1.3.tiff' in report['KL.DI1.3.tiff']['message']

    dataset = JAFFE(str(out))
    names = [osp.basename(info['img_path']) for info in _infos(dataset)]
    assert names == ['KA.AN1.39.tiff', 'KA.HA1.29.tiff', 'KM.SU1.2.tiff']
    assert [info['subject'] for info in _infos(dataset)] == \
        ['KA', 'KA', 'KM']
    image = cv2.imread(_infos(dataset)[0]['img_path'], cv2.IMREAD_UNCHANGED)
    assert image.shape == (64, 64)  # grayscale stays grayscale
    assert not osp.exists(src / 'face_report.csv')
    assert sorted(os.listdir(src)) == sorted(
        ['KA.AN1.39.tiff', 'KA.HA1.29.tiff', 'KM.NE1.1.tiff',
         'KM.SU1.2.tiff', 'KL.DI1.3.tiff', 'README'])

    # A second run refuses to replace anything without --overwrite.
    before = os.stat(out / 'KA.AN1.39.tiff').st_mtime_ns
    _run('--layout', 'jaffe', src, out, '--size', 64, expect=1)
    assert 'already exist' in capsys.readouterr().err
    assert os.stat(out / 'KA.AN1.39.tiff').st_mtime_ns == before

    # --keep-undetected completes the set with a centre crop; 'skip'
    # removes the two-face output the first run wrote.
    _run('--layout', 'jaffe', src, out, '--size', 64, '--overwrite',
         '--keep-undetected', '--multi-face', 'skip')
    report = _report(out)
    assert report['KM.NE1.1.tiff']['written'] == 'center_crop'
    assert report['KM.SU1.2.tiff']['written'] == 'no'
    names = [osp.basename(i['img_path']) for i in _infos(JAFFE(str(out)))]
    assert names == ['KA.AN1.39.tiff', 'KA.HA1.29.tiff', 'KM.NE1.1.tiff']


def test_ckplus_layout_with_two_workers(tmp_path):
    src, out = tmp_path / 'CK+', tmp_path / 'CK+aligned'
    gray = faces.face_image(gray=True)
    seq = src / 'cohn-kanade-images' / 'S005' / '001'
    for i, angle in enumerate((0, 5, -5, 10), start=1):
        _imwrite(seq / f'S005_001_0000000{i}.png', faces.rotate(gray, angle))
    _imwrite(src / 'cohn-kanade-images' / 'S010' / '002' /
             'S010_002_00000001.png', faces.noise_image(128)[:, :, 0])
    emotion = src / 'Emotion' / 'S005' / '001'
    emotion.mkdir(parents=True)
    (emotion / 'S005_001_00000004_emotion.txt').write_text(
        '   3.0000000e+00\n')
    # Landmarks of the peak frame: dlib's 5 points first, as 68 lines.
    peak = faces.rotate(gray, 10)
    aligner = FaceAligner(size=96)
    points = aligner.landmarks(peak, aligner.detect(peak)[0])
    landmarks = np.vstack([points, np.full((63, 2), 50.)])
    lm_dir = src / 'Landmarks' / 'S005' / '001'
    lm_dir.mkdir(parents=True)
    np.savetxt(lm_dir / 'S005_001_00000004_landmarks.txt', landmarks,
               fmt='   %.7e')

    _run('--layout', 'ckplus', src, out, '--size', 96, '--workers', 2)
    report = _report(out)
    assert list(report) == [osp.join('S010', '002', 'S010_002_00000001.png')]
    assert report[osp.join('S010', '002',
                           'S010_002_00000001.png')]['status'] == 'no_face'

    dataset = CKPlus(str(out), num_last_frames=3)
    assert len(dataset) == 3
    assert all(info['img_path'].startswith(str(out / 'cohn-kanade-images'))
               for info in _infos(dataset))
    assert {info['gt_label'] for info in _infos(dataset)} == {2}  # disgust
    assert cv2.imread(_infos(dataset)[0]['img_path'],
                      cv2.IMREAD_UNCHANGED).shape == (96, 96)
    assert (out / 'Emotion' / 'S005' / '001' /
            'S005_001_00000004_emotion.txt').read_text() == \
        '   3.0000000e+00\n'

    # The landmarks moved with their frame: the 5 points land on the
    # template of the output.
    moved = np.loadtxt(out / 'Landmarks' / 'S005' / '001' /
                       'S005_001_00000004_landmarks.txt')
    assert moved.shape == (68, 2)
    eye_distance = aligner.face_scale * aligner.size
    error = np.linalg.norm(moved[:5] - aligner.template_points(), axis=1)
    assert error.max() < 0.06 * eye_distance


def _rafdb(basic):
    color = faces.face_image()
    original = basic / 'Image' / 'original'
    _imwrite(original / 'train_00001.jpg', color)
    _imwrite(original / 'train_00002.jpg', faces.rotate(color, -12))
    _imwrite(original / 'test_0001.jpg', cv2.flip(color, 1))
    labels = basic / 'EmoLabel'
    labels.mkdir()
    (labels / 'list_patition_label.txt').write_text(
        'train_00001.jpg 4\ntrain_00002.jpg 1\ntest_0001.jpg 7\n')


def test_rafdb_layout_next_to_the_originals(tmp_path):
    basic = tmp_path / 'RAF-DB' / 'basic'
    _rafdb(basic)
    _run('--layout', 'rafdb', basic, basic, '--size', 64)
    assert sorted(os.listdir(basic / 'Image' / 'aligned_64')) == [
        'test_0001_aligned.jpg', 'train_00001_aligned.jpg',
        'train_00002_aligned.jpg'
    ]
    assert sorted(os.listdir(basic / 'Image' / 'original')) == [
        'test_0001.jpg', 'train_00001.jpg', 'train_00002.jpg'
    ]
    assert _report(basic) == {}
    train = RAFDB(str(basic), split='train', img_dir='Image/aligned_64')
    assert [i['gt_label'] for i in _infos(train)] == [3, 0]
    test = RAFDB(str(basic), split='test', img_dir='Image/aligned_64',
                 test_mode=True)
    image = cv2.imread(_infos(test)[0]['img_path'], cv2.IMREAD_UNCHANGED)
    assert image.shape == (64, 64, 3)


def test_rafdb_layout_into_a_new_root(tmp_path):
    basic, out = tmp_path / 'basic', tmp_path / 'raf_aligned'
    _rafdb(basic)
    _run('--layout', 'rafdb', basic, out, '--size', 48)
    assert (out / 'EmoLabel' / 'list_patition_label.txt').read_text() == \
        (basic / 'EmoLabel' / 'list_patition_label.txt').read_text()
    dataset = RAFDB(str(out), split='train', img_dir='Image/aligned_48')
    assert len(dataset) == 2


def test_folder_layout_as_a_script(tmp_path):
    src, out = tmp_path / 'mine', tmp_path / 'mine_aligned'
    color = faces.face_image()
    _imwrite(src / 'train' / 'happy' / '1.png', color)
    _imwrite(src / 'train' / 'sad' / '2.jpg', faces.rotate(color, 8))
    env = dict(os.environ, PYTHONPATH='')  # found from the checkout
    proc = subprocess.run(
        [sys.executable, TOOL, '--layout', 'folder', src, out, '--size',
         '56'],
        cwd=str(tmp_path), env=env, capture_output=True, text=True,
        timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'ok                     2        2' in proc.stdout
    assert "dict(type='FERFolder'" in proc.stdout
    dataset = FERFolder(str(out), classes=('happy', 'sad'))
    assert [i['gt_label'] for i in _infos(dataset)] == [0, 1]
    assert cv2.imread(_infos(dataset)[1]['img_path']).shape == (56, 56, 3)


def test_refuses_to_write_where_it_reads(tmp_path, capsys):
    src = tmp_path / 'jaffe'
    _imwrite(src / 'KA.AN1.39.tiff', faces.face_image(gray=True))
    _run('--layout', 'jaffe', src, src / 'aligned', expect=1)
    assert 'overlaps the input image folder' in capsys.readouterr().err
    _run('--layout', 'folder', src, tmp_path, expect=1)
    assert not osp.exists(tmp_path / 'jaffe' / 'aligned')


def test_clear_errors(tmp_path, capsys):
    _run('--layout', 'ckplus', tmp_path / 'none', tmp_path / 'out',
         expect=1)
    assert 'cohn-kanade-images' in capsys.readouterr().err
    src = tmp_path / 'jaffe'
    _imwrite(src / 'KA.AN1.39.tiff', faces.face_image(gray=True))
    _run('--layout', 'jaffe', src, tmp_path / 'out', '--predictor',
         tmp_path / 'missing.dat', expect=1)
    assert 'missing.dat' in capsys.readouterr().err
    assert not osp.exists(tmp_path / 'out')
    with pytest.raises(SystemExit):
        tool.main(['--layout', 'jaffe', str(src), 'x', '--face-scale', '2'])
