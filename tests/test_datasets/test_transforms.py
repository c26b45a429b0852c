import cv2
import mmcv
import numpy as np
import pytest
from PIL import Image

from ferpretrain.datasets.transforms import FERRandomRotate, LoadFERImage
from ferpretrain.registry import TRANSFORMS


def _image(h=40, w=50, channels=3):
    yy, xx = np.mgrid[0:h, 0:w]
    img = ((xx * 5 + yy * 3) % 256).astype(np.uint8)
    if channels == 1:
        return img
    return np.stack([img, 255 - img, img // 2], axis=2)


# ------------------------------------------------------------ LoadFERImage
def test_load_gray_and_color_files(tmp_path):
    gray_path = str(tmp_path / 'Training_1.jpg')
    cv2.imwrite(gray_path, _image(channels=1))
    color_path = str(tmp_path / 'face.png')
    cv2.imwrite(color_path, _image())

    load = TRANSFORMS.build(dict(type='LoadFERImage'))
    out = load(dict(img_path=gray_path))
    assert out['img'].shape == (40, 50, 3) and out['img'].dtype == np.uint8
    assert out['img_shape'] == out['ori_shape'] == (40, 50)
    # grayscale replicated: all channels equal
    assert (out['img'][..., 0] == out['img'][..., 2]).all()

    out = load(dict(img_path=color_path))
    np.testing.assert_array_equal(out['img'], _image())  # BGR, lossless

    out = LoadFERImage(to_float32=True)(dict(img_path=color_path))
    assert out['img'].dtype == np.float32
    assert 'to_float32=True' in repr(LoadFERImage(to_float32=True))


def test_load_in_memory(tmp_path):
    gray = _image(48, 48, channels=1)
    out = LoadFERImage()(dict(img=gray, img_path=None))
    assert out['img'].shape == (48, 48, 3)
    np.testing.assert_array_equal(out['img'][..., 1], gray)
    # an array wins over a path (never re-read)
    out = LoadFERImage()(
        dict(img=_image(), img_path=str(tmp_path / 'absent.jpg')))
    np.testing.assert_array_equal(out['img'], _image())
    out = LoadFERImage()(dict(img=gray[..., None]))
    assert out['img'].shape == (48, 48, 3)
    with pytest.raises(ValueError, match='uint8'):
        LoadFERImage()(dict(img=gray.astype(np.float32)))
    with pytest.raises(ValueError, match='shape'):
        LoadFERImage()(dict(img=np.zeros((4, 4, 2), np.uint8)))


def test_load_errors_name_the_file(tmp_path):
    bad = str(tmp_path / 'train_00001_aligned.jpg')
    with open(bad, 'wb') as f:
        f.write(b'\xff\xd8\xff garbage')
    with pytest.raises(ValueError, match='train_00001_aligned.jpg'):
        LoadFERImage()(dict(img_path=bad))
    missing = str(tmp_path / 'missing.jpg')
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        LoadFERImage()(dict(img_path=missing))
    with pytest.raises(KeyError, match='img_path'):
        LoadFERImage()(dict())


def _encode(ext, params=()):
    return cv2.imencode(ext, _image(), list(params))[1].tobytes()


# (extension, cv2 parameters, bytes of the end marker: EOI / IEND chunk)
ENCODINGS = {
    'baseline-jpg': ('.jpg', (), 2),
    'progressive-jpg': ('.jpg', (cv2.IMWRITE_JPEG_PROGRESSIVE, 1), 2),
    'restart-markers-jpg': ('.jpg', (cv2.IMWRITE_JPEG_RST_INTERVAL, 1), 2),
    'png': ('.png', (), 12),
}


@pytest.mark.parametrize('cut', ['10%', '50%', 'end marker'])
@pytest.mark.parametrize('kind', ENCODINGS)
def test_cut_short_files_raise_even_if_decoded(tmp_path, monkeypatch, kind,
                                               cut):
    ext, params, marker = ENCODINGS[kind]
    data = _encode(ext, params)
    keep = len(data) - marker if cut == 'end marker' else \
        len(data) * int(cut[:-1]) // 100
    path = tmp_path / f'face{ext}'
    path.write_bytes(data[:keep])
    # Some cv2 builds (4.10) decode a cut baseline JPEG without an error,
    # filling the missing rows with a flat colour: stand in for such a
    # decoder, the bytes must still be refused.
    monkeypatch.setattr(mmcv, 'imfrombytes', lambda *args, **kw: _image())
    with pytest.raises(ValueError,
                       match=rf'truncated image file .*face\{ext}.*'
                       're-download'):
        LoadFERImage()(dict(img_path=str(path)))


@pytest.mark.parametrize('kind', ENCODINGS)
def test_complete_files_with_trailing_bytes_load(tmp_path, kind):
    """Bytes after the end marker (some cameras append data) do not make a
    complete file look cut short."""
    ext, params, _ = ENCODINGS[kind]
    data = _encode(ext, params)
    path = tmp_path / f'face{ext}'
    path.write_bytes(data + b'\x00' * 16)
    img = LoadFERImage()(dict(img_path=str(path)))['img']
    expected = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(img, expected)


def test_jpeg_end_marker_inside_exif(tmp_path, monkeypatch):
    """Header segments are skipped by their length: an end-of-image pair
    inside EXIF (as in an embedded thumbnail) is not the file's end."""
    exif = Image.Exif()
    exif[0x927C] = b'maker \xff\xd9 note'  # MakerNote, raw bytes
    path = tmp_path / 'exif.jpg'
    Image.fromarray(_image()).save(str(path), exif=exif.tobytes())
    data = path.read_bytes()
    assert 0 < data.find(b'\xff\xd9') < data.find(b'\xff\xda')
    assert LoadFERImage()(dict(img_path=str(path)))['img'].shape == \
        (40, 50, 3)
    path.write_bytes(data[:-2])
    monkeypatch.setattr(mmcv, 'imfrombytes', lambda *args, **kw: _image())
    with pytest.raises(ValueError, match='truncated'):
        LoadFERImage()(dict(img_path=str(path)))


def test_empty_file(tmp_path):
    path = tmp_path / 'empty.png'
    path.write_bytes(b'')
    with pytest.raises(ValueError, match=r'empty\.png is empty'):
        LoadFERImage()(dict(img_path=str(path)))


# --------------------------------------------------------- FERRandomRotate
def test_rotate_keeps_shape_and_prob_zero_is_identity():
    img = _image()
    rotate = TRANSFORMS.build(
        dict(type='FERRandomRotate', prob=1., degree=10.))
    out = rotate(dict(img=img.copy()))
    assert out['img'].shape == img.shape and out['img'].dtype == img.dtype
    assert not np.array_equal(out['img'], img)

    gray = _image(channels=1)
    assert rotate(dict(img=gray.copy()))['img'].shape == gray.shape

    for _ in range(20):
        out = FERRandomRotate(prob=0., degree=30.)(dict(img=img.copy()))
        np.testing.assert_array_equal(out['img'], img)
    out = FERRandomRotate(prob=1., degree=0.)(dict(img=img.copy()))
    np.testing.assert_array_equal(out['img'], img)


def test_rotate_angles_within_bounds(monkeypatch):
    angles = []
    real = mmcv.imrotate

    def spy(img, angle, **kwargs):
        angles.append(angle)
        return real(img, angle, **kwargs)

    monkeypatch.setattr(mmcv, 'imrotate', spy)
    np.random.seed(0)
    rotate = FERRandomRotate(prob=1., degree=6.)
    img = _image(8, 8)
    for _ in range(200):
        rotate(dict(img=img))
    assert len(angles) == 200
    assert all(-6. <= a <= 6. for a in angles)
    # uniform over the whole range, both signs
    assert min(angles) < -4. and max(angles) > 4.

    # prob is honoured
    angles.clear()
    rotate = FERRandomRotate(prob=0.5, degree=6.)
    for _ in range(400):
        rotate(dict(img=img))
    assert 150 < len(angles) < 250

    # seeded: reproducible
    def draw():
        angles.clear()
        np.random.seed(3)
        for _ in range(5):
            rotate(dict(img=img))
        return list(angles)

    assert draw() == draw()


def test_rotate_pad_value_fills_every_channel():
    img = np.full((21, 21, 3), 10, np.uint8)
    out = FERRandomRotate(
        prob=1., degree=45., pad_val=200, interpolation='nearest')
    np.random.seed(1)
    # a big rotation uncovers the corners: all three channels are padded
    res = None
    for _ in range(20):
        res = out(dict(img=img.copy()))['img']
        if (res[0, 0] != 10).any():
            break
    assert res[0, 0].tolist() == [200, 200, 200]
    per_channel = FERRandomRotate(prob=1., degree=45., pad_val=(1, 2, 3))
    np.random.seed(1)
    for _ in range(20):
        res = per_channel(dict(img=img.copy()))['img']
        if (res[0, 0] != 10).any():
            break
    assert res[0, 0].tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match='channels'):
        FERRandomRotate(
            prob=1., degree=5., pad_val=(1, 2))(
                dict(img=img.copy()))


@pytest.mark.parametrize('kwargs, match', [
    (dict(prob=1.5), 'prob'),
    (dict(prob=-0.1), 'prob'),
    (dict(degree=-1), 'degree'),
    (dict(degree='6'), 'degree'),
    (dict(pad_val='black'), 'pad_val'),
    (dict(interpolation='linear'), 'interpolation'),
])
def test_rotate_invalid_args(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FERRandomRotate(**kwargs)


def test_rotate_repr():
    text = repr(FERRandomRotate(prob=0.3, degree=6))
    assert text == ("FERRandomRotate(prob=0.3, degree=6.0, pad_val=0, "
                    "interpolation='bilinear')")


def test_add_gaussian_noise_statistics_clipping_and_errors():
    from ferpretrain.datasets.transforms import AddGaussianNoise

    np.random.seed(0)
    img = np.full((64, 64, 3), 128, np.uint8)
    out = AddGaussianNoise()(dict(img=img.copy()))['img']
    assert out.dtype == np.uint8 and out.shape == img.shape
    diff = out.astype(float) - 128
    # POSTER's variance 30 (before rounding down by the uint8 cast).
    assert abs(diff.var() - 30) < 3
    white = AddGaussianNoise(std=50)(dict(img=np.full((8, 8), 250,
                                                      np.uint8)))['img']
    assert white.max() == 255  # clipped, not wrapped around
    assert np.array_equal(
        AddGaussianNoise(prob=0.)(dict(img=img.copy()))['img'], img)
    with pytest.raises(TypeError, match='before normalisation'):
        AddGaussianNoise()(dict(img=img.astype(np.float32)))
    with pytest.raises(ValueError, match='std must be >= 0'):
        AddGaussianNoise(std=-1)
    with pytest.raises(ValueError, match='prob must be in'):
        AddGaussianNoise(prob=2)
