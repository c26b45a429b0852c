"""tools/demo/*.py run as a user runs them, on real and synthetic faces.

The demos' ``main`` runs in this process (one import for all), through
``run_tool`` where a refusal is checked, as the scripts' ``__main__`` does.
"""
import csv
import json
import os.path as osp
import sys

import cv2
import numpy as np
import pytest

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                            'test_apis'))
from inferencer_helpers import (CHECKPOINT_CLASSES, CONFIG,  # noqa: E402
                                build_model, face_image, side_by_side,
                                video_frames, write_checkpoint, write_video)
from tool_helpers import REPO_ROOT, load_tool  # noqa: E402

from ferpretrain.utils.errors import run_tool  # noqa: E402

DEMO = osp.join(REPO_ROOT, 'tools', 'demo')
image_demo = load_tool(osp.join(DEMO, 'image_demo.py'), 'image_demo_tool')
video_demo = load_tool(osp.join(DEMO, 'video_demo.py'), 'video_demo_tool')
webcam_demo = load_tool(osp.join(DEMO, 'webcam_demo.py'), 'webcam_demo_tool')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    return write_checkpoint(
        tmp_path_factory.mktemp('ckpt') / 'model.pth', build_model())


@pytest.fixture(scope='module')
def video(tmp_path_factory):
    # Frames 0 and 3 are blank: no face.
    return write_video(
        tmp_path_factory.mktemp('video') / 'clip.avi', video_frames(6, 3),
        fps=5, fourcc='MJPG')


def _refusal(main, argv, capture):
    """Run ``main(argv)`` as the script does; the exit code and stderr
    (``capture``: pytest's capsys or capfd)."""
    with pytest.raises(SystemExit) as exit_info:
        run_tool(lambda: main(argv), argv)
    return exit_info.value.code, capture.readouterr().err


def _rows(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def test_image_demo_on_a_folder(checkpoint, tmp_path, capsys):
    inputs = tmp_path / 'photos'
    (inputs / 'group').mkdir(parents=True)
    cv2.imwrite(str(inputs / 'one.png'), face_image())
    cv2.imwrite(str(inputs / 'group' / 'two.jpg'),
                side_by_side(face_image()))
    cv2.imwrite(str(inputs / 'wall.png'), np.full((120, 160, 3), 200,
                                                  np.uint8))
    (inputs / 'broken.jpg').write_text('not an image')
    (inputs / 'notes.txt').write_text('x')
    out = tmp_path / 'out'
    image_demo.main([str(inputs), CONFIG, checkpoint, '--out-dir', str(out),
                     '--no-progress'])
    printed = capsys.readouterr().out
    assert '4 images, 3 faces, 1 image without a face, 1 unreadable' in \
        printed
    assert 'time per image: decode' in printed and 'notes.txt' in printed

    with open(out / 'predictions.json') as f:
        records = {osp.relpath(r['image'], inputs): r for r in json.load(f)}
    assert set(records) == {'one.png', osp.join('group', 'two.jpg'),
                            'wall.png', 'broken.jpg'}
    assert len(records[osp.join('group', 'two.jpg')]['faces']) == 2
    assert records['wall.png']['faces'] == []
    assert 'broken.jpg' in records['broken.jpg']['error']
    (face, ) = records['one.png']['faces']
    assert list(face['scores']) == list(CHECKPOINT_CLASSES)
    assert face['label'] == max(face['scores'], key=face['scores'].get)
    assert len(face['box']) == 4 and len(face['landmarks']) == 5

    rows = _rows(out / 'predictions.csv')
    assert len(rows) == 2 + 1 + 1 + 1  # 3 faces, the faceless, the broken
    by_image = {}
    for row in rows:
        by_image.setdefault(osp.relpath(row['image'], inputs), []).append(row)
    wall, = by_image['wall.png']
    assert wall['face'] == '' and wall['label'] == '' and not wall['error']
    one, = by_image['one.png']
    assert [int(one[k]) for k in ('x1', 'y1', 'x2', 'y2')] == face['box']
    assert float(one[f'score_{face["label"]}']) == pytest.approx(
        face['score'])

    # Annotated copies, under the input's names; small ones enlarged.
    drawn = cv2.imread(str(out / 'one.png'))
    assert drawn.shape == (480, 480, 3)
    assert (out / 'group' / 'two.jpg').is_file()
    assert not (out / 'broken.jpg').exists()


def test_image_demo_refusals_are_one_message(checkpoint, tmp_path, capsys):
    broken = tmp_path / 'broken.jpg'
    broken.write_text('not an image')
    code, err = _refusal(image_demo.main, [
        str(broken), CONFIG, checkpoint, '--out-dir', str(tmp_path / 'o')
    ], capsys)
    assert code == 1 and 'Traceback' not in err
    assert f'{broken}: cannot be decoded' in err
    code, err = _refusal(image_demo.main, [
        str(tmp_path / 'missing'), CONFIG, checkpoint, '--out-dir',
        str(tmp_path / 'o')
    ], capsys)
    assert code == 1 and 'missing: no such file or folder' in err
    cv2.imwrite(str(tmp_path / 'a.png'), face_image())
    code, err = _refusal(image_demo.main, [
        str(tmp_path), CONFIG, checkpoint, '--out-dir', str(tmp_path / 'o')
    ], capsys)
    assert code == 1 and 'inside the input folder' in err
    with pytest.raises(SystemExit) as usage:  # CHECKPOINT is required
        image_demo.main([str(tmp_path), CONFIG, '--out-dir', 'x'])
    assert usage.value.code == 2


def test_image_demo_no_detect_on_crops(checkpoint, tmp_path, capsys):
    crop = tmp_path / 'crops' / 'face.png'
    crop.parent.mkdir()
    cv2.imwrite(str(crop), cv2.resize(face_image(), (64, 64)))
    image_demo.main([str(crop), CONFIG, checkpoint, '--out-dir',
                     str(tmp_path / 'o'), '--no-detect'])
    assert '1 image, 1 face, 0 images without a face' in \
        capsys.readouterr().out
    (row, ) = _rows(tmp_path / 'o' / 'predictions.csv')
    assert [row[k] for k in ('x1', 'y1', 'x2', 'y2')] == ['0', '0', '64',
                                                          '64']


def test_video_demo_writes_the_video_and_a_row_per_frame(
        checkpoint, video, tmp_path, capsys):
    out = tmp_path / 'annotated.mp4'
    video_demo.main([video, CONFIG, checkpoint, '--out', str(out),
                     '--no-progress'])
    printed = capsys.readouterr().out
    assert '6 frames, 4 faces, 2 frames without a face' in printed
    capture = cv2.VideoCapture(str(out))
    frames = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        assert frame.shape == (256, 256, 3)
        frames += 1
    capture.release()
    assert frames == 6
    rows = _rows(tmp_path / 'annotated.csv')  # next to --out by default
    assert [int(r['frame']) for r in rows] == list(range(6))
    assert [float(r['time']) for r in rows] == pytest.approx(
        [i / 5 for i in range(6)])
    assert [r['label'] == '' for r in rows] == [True, False, False, True,
                                                False, False]
    faced = rows[1]
    assert faced['label'] in CHECKPOINT_CLASSES
    assert sum(float(faced[f'score_{c}'])
               for c in CHECKPOINT_CLASSES) == pytest.approx(1, abs=1e-6)


def test_video_demo_refuses_what_it_cannot_open(checkpoint, tmp_path,
                                                capsys):
    fake = tmp_path / 'fake.mp4'
    fake.write_text('not a video')
    code, err = _refusal(video_demo.main, [
        str(fake), CONFIG, checkpoint, '--out', str(tmp_path / 'o.mp4')
    ], capsys)
    assert code == 1 and 'Traceback' not in err
    assert 'fake.mp4: cannot be opened' in err
    code, err = _refusal(video_demo.main, [
        str(tmp_path / 'gone.mp4'), CONFIG, checkpoint, '--out',
        str(tmp_path / 'o.mp4')
    ], capsys)
    assert code == 1 and 'gone.mp4: not found' in err
    with pytest.raises(SystemExit) as usage:
        video_demo.main([str(fake), CONFIG, checkpoint, '--out', 'o.mp4',
                         '--full-scan-interval', '0'])
    assert usage.value.code == 2
    assert '--full-scan-interval must be >= 1' in capsys.readouterr().err


def test_webcam_loop_runs_on_a_video_without_a_window(checkpoint, video,
                                                      capsys):
    from ferpretrain.apis import FERInferencer
    inferencer = FERInferencer(CONFIG, checkpoint)
    capture = cv2.VideoCapture(video)
    stats = webcam_demo.live_loop(inferencer, capture, show=False)
    capture.release()
    assert (stats['frames'], stats['faces'], stats['faceless']) == (6, 4, 2)
    assert stats['fps'] > 0
    webcam_demo.main([CONFIG, checkpoint, '--source', video, '--no-show',
                      '--max-frames', '4', '--full-scan-interval', '1'])
    printed = capsys.readouterr().out
    assert '4 frames, 2 faces, 2 frames without a face' in printed


def test_webcam_without_a_camera_is_one_message(checkpoint, capfd):
    # capfd: OpenCV writes its own messages to the process's stderr.
    code, err = _refusal(webcam_demo.main,
                         [CONFIG, checkpoint, '--camera', '7', '--no-show'],
                         capfd)
    assert code == 1 and 'Traceback' not in err
    assert 'camera 7: no camera at this index' in err
    # OpenCV's own lines about the missing device are silenced.
    assert 'VIDEOIO' not in err and 'obsensor' not in err


def test_demos_find_faces_with_prepare_faces_options(checkpoint, tmp_path,
                                                     capsys):
    """--detector, --upsample and --predictor mean the same in the demos as
    in prepare_faces.py (one definition), and --predictor reaches dlib."""
    prepare = load_tool(
        osp.join(REPO_ROOT, 'tools', 'dataset_converters',
                 'prepare_faces.py'), 'prepare_faces_for_demo_tests')
    argv = ['--detector', 'cnn', '--upsample', '1', '--predictor', 'p.dat']
    prepared = prepare.parse_args(['in', 'out', '--layout', 'folder'] + argv)
    for demo_args in (image_demo.parse_args(
            ['x.jpg', CONFIG, 'none', '--out-dir', 'o'] + argv),
                      video_demo.parse_args(
                          ['x.mp4', CONFIG, 'none', '--out', 'o.mp4'] + argv),
                      webcam_demo.parse_args([CONFIG, 'none'] + argv)):
        for key in ('detector', 'upsample', 'predictor'):
            assert getattr(demo_args, key) == getattr(prepared, key)
    fake = tmp_path / 'fake.dat'
    fake.write_bytes(b'not a model')
    cv2.imwrite(str(tmp_path / 'a.png'), face_image())
    code, err = _refusal(image_demo.main, [
        str(tmp_path / 'a.png'), CONFIG, checkpoint, '--out-dir',
        str(tmp_path / 'o'), '--predictor', str(fake)
    ], capsys)
    assert code == 1 and 'Traceback' not in err
    assert 'fake.dat: not a dlib shape predictor file' in err


def test_a_model_name_with_none_keeps_random_weights():
    """CHECKPOINT "none" means the random initialisation also for a model
    name, whose published weights would load otherwise."""
    import warnings

    from ferpretrain.apis import DEFAULT_MODEL
    from ferpretrain.apis.cli import inferencer_from_args
    args = image_demo.parse_args(['x.jpg', DEFAULT_MODEL, 'none',
                                  '--out-dir', 'o'])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        inferencer = inferencer_from_args(args)
    assert any('random initialisation' in str(w.message) for w in caught)
    assert inferencer.classes_source == 'config'
    shipped = inferencer_from_args(
        image_demo.parse_args(['x.jpg', '--out-dir', 'o']))
    assert shipped.classes_source == 'checkpoint' and not shipped.tta
    assert inferencer_from_args(
        image_demo.parse_args(['x.jpg', '--out-dir', 'o', '--tta'])).tta
