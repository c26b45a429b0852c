"""FERInferencer: the values it returns, not only their shapes.

- the aligned crop is prepare_faces.py's crop, pixel for pixel (default
  geometry and a config's own ``face_alignment``);
- the probabilities are those of the config's pipeline and model run by
  hand on the same crop (to 1e-6), and of an independent normalisation
  written out here (which a BGR/RGB swap would break);
- class names come from the checkpoint, in its order, else the config;
- checkpoints load strictly, in both formats ferpretrain writes;
- several faces, no face, videos with faceless frames, pair models, the
  ONNX backend's interface, bfloat16, timings, bad inputs.
"""
import os.path as osp
import sys
import types
import warnings

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import DefaultScope

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from inferencer_helpers import (CHECKPOINT_CLASSES, CONFIG,  # noqa: E402
                                DOE_CONFIG, REPO, build_model, face_image,
                                load_tool, side_by_side, synthetic_faces,
                                tiny_pair_config, video_frames,
                                write_checkpoint, write_video)

from ferpretrain.apis import (STAGES, FERInferencer,  # noqa: E402
                              InputSourceError, config_classes)
from ferpretrain.datasets import RAFDB_CATEGORIES  # noqa: E402
from ferpretrain.utils.errors import (CheckpointMismatchError,  # noqa: E402
                                      ConfigError)
from ferpretrain.utils.face_alignment import (  # noqa: E402
    FaceAligner, UnreadableImageError)

PREPARE_FACES = osp.join(REPO, 'tools', 'dataset_converters',
                         'prepare_faces.py')


@pytest.fixture(scope='module')
def model():
    return build_model()


@pytest.fixture(scope='module')
def checkpoint(model, tmp_path_factory):
    return write_checkpoint(
        tmp_path_factory.mktemp('ckpt') / 'converted.pth', model)


@pytest.fixture(scope='module')
def inferencer(checkpoint):
    return FERInferencer(CONFIG, checkpoint, batch_size=2)


def _test_pipeline(cfg):
    """The config's test pipeline, built by hand."""
    from mmpretrain.registry import TRANSFORMS
    steps = cfg.test_dataloader.dataset.pipeline
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return Compose([TRANSFORMS.build(t) for t in steps])


def _manual_probs(model, crops):
    """The config's test pipeline and the model's test_step, by hand."""
    pipeline = _test_pipeline(Config.fromfile(CONFIG))
    batch = pseudo_collate([pipeline(dict(img=c)) for c in crops])
    with torch.no_grad():
        samples = model.test_step(batch)
    return np.stack([s.pred_score.numpy() for s in samples])


def _normalised_by_hand(model, crops):
    """BGR crops -> RGB, ImageNet mean/std (the config's data
    preprocessor, written out) -> logits -> softmax."""
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    rgb = np.stack([c[:, :, ::-1] for c in crops]).astype(np.float32)
    x = (torch.from_numpy(rgb).permute(0, 3, 1, 2) - mean) / std
    with torch.no_grad():
        return model(x, mode='tensor').softmax(1).numpy()


# ----------------------------------------------------------------------
def test_crop_equals_prepare_faces_output(inferencer, checkpoint, tmp_path):
    """One alignment path: the inferencer's crop is the face that
    prepare_faces.py writes for training, pixel for pixel."""
    tool = load_tool(PREPARE_FACES, 'prepare_faces_for_inferencer')
    src = tmp_path / 'in' / 'happy'
    src.mkdir(parents=True)
    cv2.imwrite(str(src / 'a.png'), face_image())
    assert tool.main(['--layout', 'folder', str(tmp_path / 'in'),
                      str(tmp_path / 'out'), '--size', '64',
                      '--no-progress']) == 0
    prepared = cv2.imread(str(tmp_path / 'out' / 'happy' / 'a.png'))
    assert inferencer.align_size == 64  # the config's test input size
    result = inferencer(str(src / 'a.png'), return_crops=True)[0]
    assert len(result['faces']) == 1
    crop = result['faces'][0]['aligned_face']
    np.testing.assert_array_equal(crop, prepared)

    # A config that declares its own geometry gets prepare_faces' crop
    # made with the same options, and no other.
    assert tool.main(['--layout', 'folder', str(tmp_path / 'in'),
                      str(tmp_path / 'out2'), '--size', '64',
                      '--face-scale', '0.25', '--eye-line', '0.45',
                      '--no-progress']) == 0
    prepared2 = cv2.imread(str(tmp_path / 'out2' / 'happy' / 'a.png'))
    looser = FERInferencer(
        CONFIG, checkpoint,
        cfg_options=dict(face_alignment=dict(face_scale=0.25,
                                             eye_line=0.45)))
    crop2 = looser(str(src / 'a.png'), return_crops=True)[0]['faces'][0][
        'aligned_face']
    np.testing.assert_array_equal(crop2, prepared2)
    assert np.abs(crop2.astype(int) - crop.astype(int)).mean() > 10


def test_probabilities_equal_a_manual_run(inferencer, model):
    crops = synthetic_faces(3)
    # batch_size=2: the third face is a batch of its own.
    results = inferencer(crops, detect=False)
    probs = np.array([[r['faces'][0]['scores'][c] for c in CHECKPOINT_CLASSES]
                      for r in results])
    np.testing.assert_allclose(probs, _manual_probs(model, crops), atol=1e-6)
    np.testing.assert_allclose(
        probs, _normalised_by_hand(model, crops), atol=1e-5)
    # A channel swap would be seen: the model tells BGR from RGB here.
    swapped = _normalised_by_hand(model, [c[:, :, ::-1] for c in crops])
    assert np.abs(swapped - probs).max() > 1e-3
    # The faces differ: the check above compares distinct numbers.
    assert np.abs(probs[0] - probs[1]).max() > 1e-2
    for result, row in zip(results, probs):
        face = result['faces'][0]
        assert list(face['scores']) == list(CHECKPOINT_CLASSES)
        assert abs(sum(face['scores'].values()) - 1) < 1e-6
        best = int(np.argmax(row))
        assert face['label_index'] == best
        assert face['label'] == CHECKPOINT_CLASSES[best]
        assert face['score'] == pytest.approx(row[best])
        assert face['box'] == [0, 0, 64, 64]
        assert face['landmarks'] is None
        assert face['detection_score'] is None


def test_detected_face_is_classified_like_its_crop(inferencer, model):
    result = inferencer(face_image(), return_crops=True)[0]
    assert result['image'] == '<array 0>' and result['image_shape'] == [
        256, 256
    ]
    (face, ) = result['faces']
    x1, y1, x2, y2 = face['box']
    assert 60 < x1 < x2 < 200 and 40 < y1 < y2 < 190
    assert face['detection_score'] > 0.5
    points = np.array(face['landmarks'])
    assert points.shape == (5, 2)
    assert ((points >= [x1, y1]) & (points <= [x2, y2])).all()
    crop = face['aligned_face']
    assert crop.shape == (64, 64, 3) and crop.dtype == np.uint8
    probs = [face['scores'][c] for c in CHECKPOINT_CLASSES]
    np.testing.assert_allclose(probs, _manual_probs(model, [crop])[0],
                               atol=1e-6)


def test_every_face_of_an_image(inferencer):
    image = side_by_side(face_image())
    (result, ) = inferencer(image)
    assert len(result['faces']) == 2
    boxes = sorted(f['box'] for f in result['faces'])
    assert boxes[0][2] <= 256 <= boxes[1][0]  # one in each half
    # The same face twice: the same prediction.
    left, right = sorted(result['faces'], key=lambda f: f['box'][0])
    assert left['label'] == right['label']
    np.testing.assert_allclose(list(left['scores'].values()),
                               list(right['scores'].values()), atol=0.05)
    # No face: an empty list, not an error.
    blank = np.full((200, 200, 3), 128, np.uint8)
    assert inferencer([blank, face_image()])[0]['faces'] == []


def test_align_all_and_align_share_one_path():
    aligner = FaceAligner(size=64)
    image = side_by_side(face_image())
    results = aligner.align_all(image)
    assert [r.status for r in results] == ['ok', 'ok']
    assert all(r.num_faces == 2 for r in results)
    chosen = aligner.align(image)
    assert chosen.status == 'multiple_faces'
    same = [r for r in results if r.box == chosen.box]
    assert len(same) == 1
    np.testing.assert_array_equal(same[0].image, chosen.image)
    np.testing.assert_array_equal(same[0].matrix, chosen.matrix)


def test_cnn_detector_finds_the_same_face():
    hog = FaceAligner(size=64).detect(face_image())
    cnn = FaceAligner(size=64, detector='cnn').detect(face_image())
    assert len(hog) == len(cnn) == 1

    def area(b):
        return (b.right - b.left) * (b.bottom - b.top)

    (a, ), (b, ) = hog, cnn
    ix = max(0, min(a.right, b.right) - max(a.left, b.left))
    iy = max(0, min(a.bottom, b.bottom) - max(a.top, b.top))
    assert ix * iy / (area(a) + area(b) - ix * iy) > 0.5
    with pytest.raises(ValueError, match='detector'):
        FaceAligner(detector='mtcnn')


def test_class_names_come_from_the_checkpoint_else_the_config(
        model, checkpoint, tmp_path):
    converted = FERInferencer(CONFIG, checkpoint)
    assert converted.classes == CHECKPOINT_CLASSES
    assert converted.classes_source == 'checkpoint'
    bare = write_checkpoint(tmp_path / 'bare.pth', model, classes=None)
    from_config = FERInferencer(CONFIG, bare)
    assert from_config.classes == RAFDB_CATEGORIES
    assert from_config.classes_source == 'config'
    # Same weights, other names: the same probabilities under its names.
    crop = synthetic_faces(1)
    a = converted(crop, detect=False)[0]['faces'][0]['scores']
    b = from_config(crop, detect=False)[0]['faces'][0]['scores']
    np.testing.assert_allclose(list(a.values()), list(b.values()))
    assert list(b) == list(RAFDB_CATEGORIES)
    # A checkpoint naming 6 classes for a 7-output head is refused.
    six = write_checkpoint(tmp_path / 'six.pth', model,
                           classes=CHECKPOINT_CLASSES[:6])
    with pytest.raises(ConfigError, match='6 class names'):
        FERInferencer(CONFIG, six)


def test_training_checkpoints_load_and_mismatches_are_refused(
        model, tmp_path):
    trained = write_checkpoint(tmp_path / 'epoch_3.pth', model,
                               training=True)
    assert FERInferencer(CONFIG, trained).classes == CHECKPOINT_CLASSES

    state = dict(model.state_dict())
    state['head.fc.weight'] = torch.zeros(3, 96)
    state['head.fc.bias'] = torch.zeros(3)
    torch.save(dict(state_dict=state), str(tmp_path / 'head3.pth'))
    with pytest.raises(CheckpointMismatchError) as error:
        FERInferencer(CONFIG, str(tmp_path / 'head3.pth'))
    message = str(error.value)
    assert 'head.fc.weight: [3, 96] in the file, [7, 96] in the model' in \
        message and 'model.head.num_classes=3' in message
    state = {k: v for k, v in model.state_dict().items()
             if not k.startswith('neck.')}
    torch.save(dict(state_dict=state), str(tmp_path / 'part.pth'))
    with pytest.raises(CheckpointMismatchError, match='missing'):
        FERInferencer(CONFIG, str(tmp_path / 'part.pth'))


def test_video_frames_with_and_without_faces(inferencer, tmp_path):
    frames = video_frames(6, every=3)
    video = write_video(tmp_path / 'clip.mp4', frames, fps=10)
    stream = inferencer(video)
    assert not isinstance(stream, list)
    records = list(stream)
    assert [r['frame'] for r in records] == list(range(6))
    assert [r['time'] for r in records] == pytest.approx(
        [i / 10 for i in range(6)])
    assert [len(r['faces']) for r in records] == [0, 1, 1, 0, 1, 1]
    assert inferencer.timings['inputs'] == 6
    assert inferencer.timings['faces'] == 4
    # An open capture is read, not released; max_frames stops early.
    capture = cv2.VideoCapture(video)
    assert len(list(inferencer.stream(capture, max_frames=2))) == 2
    assert capture.isOpened()
    capture.release()


def test_video_faces_are_tracked_between_whole_frame_scans(
        inferencer, tmp_path, monkeypatch):
    """Whole-frame scans every N frames, windows in between: the same face
    in every frame as with a whole-frame scan of each, and a face that
    vanishes is reported missing on that very frame."""
    head = face_image()
    frames = []
    for i in range(8):
        frame = np.full((240, 480, 3), 100, np.uint8)
        if i != 5:
            frame[:, 8 * i + 20:8 * i + 276] = head[:240]
        frames.append(frame)
    video = write_video(tmp_path / 'moving.avi', frames, fourcc='MJPG')
    scans = []
    detect = inferencer.aligner.detect

    def counting_detect(image, region=None):
        scans.append('full' if region is None else 'window')
        return detect(image, region)

    monkeypatch.setattr(inferencer.aligner, 'detect', counting_detect)
    every = list(inferencer.stream(video, full_scan_interval=1))
    assert scans == ['full'] * 8
    scans.clear()
    tracked = list(inferencer.stream(video, full_scan_interval=4))
    # Frame 5 has no face: its window fails, the whole frame is scanned,
    # and frame 6 (no face known) is scanned whole too.
    assert scans == ['full', 'window', 'window', 'window', 'full',
                     'window', 'full', 'full', 'window']
    assert [len(r['faces']) for r in every] == [1] * 5 + [0] + [1] * 2
    assert [len(r['faces']) for r in tracked] == [1] * 5 + [0] + [1] * 2
    for mine, theirs in zip(tracked, every):
        for a, b in zip(mine['faces'], theirs['faces']):
            box_a, box_b = a['box'], b['box']
            inter = [max(box_a[0], box_b[0]), max(box_a[1], box_b[1]),
                     min(box_a[2], box_b[2]), min(box_a[3], box_b[3])]
            assert inter[2] > inter[0] and inter[3] > inter[1]
            assert np.abs(np.subtract(a['landmarks'],
                                      b['landmarks'])).max() < 3
    with pytest.raises(ConfigError, match='full_scan_interval'):
        inferencer.stream(video, full_scan_interval=0)


def test_bad_sources_and_inputs_name_the_input(inferencer, tmp_path):
    with pytest.raises(InputSourceError, match='missing.mp4: not found'):
        inferencer(str(tmp_path / 'missing.mp4'))
    fake = tmp_path / 'fake.mp4'
    fake.write_text('not a video')
    with pytest.raises(InputSourceError, match='fake.mp4: cannot be opened'):
        inferencer(str(fake))
    with pytest.raises(InputSourceError, match='camera 9: no camera'):
        inferencer(9)
    broken = tmp_path / 'broken.jpg'
    broken.write_text('not an image')
    with pytest.raises(UnreadableImageError, match='broken.jpg'):
        inferencer(str(broken))
    skipped = inferencer([str(broken), face_image()], skip_unreadable=True)
    assert 'broken.jpg' in skipped[0]['error'] and skipped[0]['faces'] == []
    assert len(skipped[1]['faces']) == 1
    with pytest.raises(UnreadableImageError, match='missing.png'):
        inferencer(str(tmp_path / 'missing.png'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(InputSourceError, match='no image'):
        inferencer(str(tmp_path / 'empty'))
    with pytest.raises(ConfigError, match='uint8'):
        inferencer(np.zeros((8, 8, 3), np.float32))


def test_folder_input_in_sorted_order(inferencer, tmp_path):
    for name in ('b.png', 'a.png', 'sub/c.jpg'):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / name), face_image())
    (tmp_path / 'notes.txt').write_text('x')
    results = inferencer(str(tmp_path))
    assert [osp.relpath(r['image'], tmp_path) for r in results] == [
        'a.png', 'b.png', osp.join('sub', 'c.jpg')
    ]
    assert all(len(r['faces']) == 1 for r in results)


def test_timings_per_stage(inferencer):
    inferencer([face_image(), side_by_side(face_image())])
    timings = inferencer.timings
    assert set(STAGES) <= set(timings)
    assert timings['inputs'] == 2 and timings['faces'] == 3
    assert all(timings[s] > 0 for s in ('detect', 'align', 'classify'))
    assert timings['total'] == pytest.approx(
        sum(timings[s] for s in STAGES))


def test_bf16_keeps_float32_probabilities(checkpoint):
    crops = synthetic_faces(2)
    fp32 = FERInferencer(CONFIG, checkpoint)(crops, detect=False)
    bf16 = FERInferencer(CONFIG, checkpoint, dtype='bf16')(crops,
                                                            detect=False)
    for a, b in zip(fp32, bf16):
        pa = np.array(list(a['faces'][0]['scores'].values()))
        pb = np.array(list(b['faces'][0]['scores'].values()))
        assert abs(pb.sum() - 1) < 1e-6  # a float32 softmax
        assert np.abs(pa - pb).max() < 0.05


def _scores(results):
    return np.array([list(r['faces'][0]['scores'].values())
                     for r in results])


def test_flip_tta_averages_the_face_and_its_mirror(inferencer, checkpoint,
                                                   tmp_path):
    crops = synthetic_faces(3)
    mirrored = [c[:, ::-1].copy() for c in crops]
    plain = _scores(inferencer(crops, detect=False))
    flipped = _scores(inferencer(mirrored, detect=False))
    assert np.abs(plain - flipped).max() > 1e-3  # the mirror tells
    tta = FERInferencer(CONFIG, checkpoint, batch_size=2, tta=True)
    assert tta.tta and not inferencer.tta
    np.testing.assert_allclose(
        _scores(tta(crops, detect=False)), (plain + flipped) / 2,
        atol=1e-6)

    # Pair models: the neutral face is mirrored with the target.
    cfg = tiny_pair_config()
    pair_ckpt = write_checkpoint(tmp_path / 'doe.pth', build_model(cfg),
                                 classes=None)
    neutral, target = synthetic_faces(2, seed=3)
    doe = FERInferencer(cfg, pair_ckpt)
    doe_tta = FERInferencer(cfg, pair_ckpt, tta=True)
    expected = (_scores([doe(target, neutral=neutral, detect=False)[0]]) +
                _scores([doe(target[:, ::-1].copy(),
                             neutral=neutral[:, ::-1].copy(),
                             detect=False)[0]])) / 2
    np.testing.assert_allclose(
        _scores([doe_tta(target, neutral=neutral, detect=False)[0]]),
        expected, atol=1e-6)


def test_pair_model_with_and_without_a_neutral_face(tmp_path):
    with pytest.warns(UserWarning, match='random initialisation'):
        doe = FERInferencer(DOE_CONFIG)
    assert doe.faces_per_input == 2
    # The config's FERFolder classes without Neutral (the data need not be
    # on disk).
    classes = ('Surprise', 'Fear', 'Disgust', 'Happiness', 'Sadness',
               'Anger')
    assert doe.classes == classes and doe.classes_source == 'config'

    cfg = tiny_pair_config()
    model = build_model(cfg)
    doe = FERInferencer(
        cfg, write_checkpoint(tmp_path / 'doe.pth', model, classes=None))
    assert doe.classes == classes
    neutral, target = synthetic_faces(2, seed=3)
    with_neutral = doe(target, neutral=neutral, detect=False)[0]
    assert with_neutral['reference'] == 'neutral'

    pipeline = _test_pipeline(cfg)

    def manual(first, second):
        pair = torch.stack([pipeline(dict(img=first))['inputs'],
                            pipeline(dict(img=second))['inputs']])
        batch = pseudo_collate([dict(inputs=pair)])
        with torch.no_grad():
            return model.test_step(batch)[0].pred_score.numpy()

    got = list(with_neutral['faces'][0]['scores'].values())
    np.testing.assert_allclose(got, manual(neutral, target), atol=1e-6)
    # The order matters here: (target, neutral) gives other numbers.
    assert np.abs(manual(target, neutral) - got).max() > 1e-3
    with pytest.warns(UserWarning, match='compared with itself'):
        alone = doe(target, detect=False)[0]
    assert alone['reference'] == 'self'
    np.testing.assert_allclose(
        list(alone['faces'][0]['scores'].values()),
        manual(target, target), atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # warned once, not every call
        doe(target, detect=False)


def test_neutral_is_refused_by_single_face_models(inferencer):
    with pytest.raises(ConfigError, match='pair models'):
        inferencer(synthetic_faces(1), neutral=synthetic_faces(1)[0],
                   detect=False)


class FakeONNXModel:
    """The interface of ferpretrain.apis.onnx_backend.ONNXFERModel."""

    def __init__(self, path=None, faces_per_input=1):
        self.info = types.SimpleNamespace(
            classes=['a', 'b', 'c'], input_size=(48, 48),
            faces_per_input=faces_per_input)
        self.calls = []

    def predict(self, faces):
        # Pair models take a (neutral, target) tuple a face.
        self.calls.append(faces)
        return np.tile([0.2, 0.5, 0.3], (len(faces), 1))


def test_onnx_backend_gets_aligned_bgr_faces(monkeypatch, tmp_path):
    module = types.ModuleType('ferpretrain.apis.onnx_backend')
    module.ONNXFERModel = FakeONNXModel
    monkeypatch.setitem(sys.modules, 'ferpretrain.apis.onnx_backend', module)
    path = tmp_path / 'model.onnx'
    path.write_bytes(b'')
    onnx = FERInferencer(str(path), backend='onnxruntime')
    assert onnx.classes == ('a', 'b', 'c') and onnx.align_size == 48
    result = onnx(face_image(gray=True), return_crops=True)[0]
    (face, ) = result['faces']
    assert face['label'] == 'b' and face['score'] == pytest.approx(0.5)
    (sent, ) = onnx.onnx_model.calls[-1]
    assert sent.shape == (48, 48, 3) and sent.dtype == np.uint8
    gray_crop = face['aligned_face']
    assert gray_crop.shape == (48, 48)  # gray stays gray, then 3 channels
    np.testing.assert_array_equal(sent, np.dstack([gray_crop] * 3))
    # Pair graphs get (neutral, target) of each pair, in that order.
    pairs = FakeONNXModel(faces_per_input=2)
    onnx2 = FERInferencer(pairs, backend='onnxruntime')
    neutral, t1, t2 = synthetic_faces(3, size=48)
    onnx2([t1, t2], neutral=neutral, detect=False)
    sent = pairs.calls[-1]
    assert len(sent) == 2
    for (got_neutral, got_target), target in zip(sent, (t1, t2)):
        np.testing.assert_array_equal(got_neutral, neutral)
        np.testing.assert_array_equal(got_target, target)
    with pytest.raises(ConfigError, match='no checkpoint'):
        FERInferencer(str(path), 'x.pth', backend='onnxruntime')


def test_configs_give_class_names_and_input_sizes():
    """Every classifier config of the project names its classes, as many as
    its head has outputs, and a square input size (no data needed)."""
    import glob

    from ferpretrain.apis import config_input_size, test_pipeline_cfg
    checked = 0
    for path in sorted(glob.glob(osp.join(REPO, 'configs', '*', '*.py'))):
        cfg = Config.fromfile(path)
        head = cfg.get('model', {}).get('head') or {}
        if 'test_dataloader' not in cfg or 'num_classes' not in head:
            continue
        classes = config_classes(cfg)
        assert classes and len(classes) == head['num_classes'], path
        assert config_input_size(test_pipeline_cfg(cfg)) in (48, 64, 112,
                                                             224), path
        checked += 1
    assert checked >= 40


@pytest.mark.parametrize('config', [
    'poster/fer2013_cpu.py', 'poster_v2/fer2013_cpu.py',
    'fervt/fer2013_cpu.py', 'vit_se/fer2013_cpu.py',
    'transfer/fer2013_cpu.py', 'disentangled_doe/demo_pairs_stage1_cpu.py',
    'disentangled_doe/demo_pairs_stage2_cpu.py'
])
def test_other_model_families_run(config):
    """One config of each family, untrained: a face in, every class out."""
    with pytest.warns(UserWarning, match='random initialisation'):
        inferencer = FERInferencer(osp.join(REPO, 'configs', config))
    (face, ) = inferencer(face_image())[0]['faces']
    assert list(face['scores']) == list(inferencer.classes)
    assert len(inferencer.classes) == inferencer.model.head.num_classes
    assert abs(sum(face['scores'].values()) - 1) < 1e-6


def test_invalid_options():
    for kwargs, match in ((dict(backend='tensorrt'), 'backend'),
                          (dict(dtype='fp16'), 'dtype'),
                          (dict(batch_size=0), 'batch_size'),
                          (dict(detector='mtcnn'), 'detector'),
                          (dict(full_scan_interval=0), 'full_scan_interval')):
        with pytest.raises(ConfigError, match=match):
            FERInferencer(CONFIG, **kwargs)
    with pytest.raises(ConfigError, match="backend='onnxruntime'"):
        FERInferencer('model.onnx')
    landmarks = osp.join(REPO, 'configs', 'landmarks',
                         'mobilefacenet_fer2013_64.py')
    with pytest.raises(ConfigError, match='expression classifiers'):
        FERInferencer(landmarks, 'none.pth')
