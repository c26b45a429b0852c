"""Every image mode FER copies come in loads as a 3-channel uint8 BGR image.

Files are written with PIL in the mode named (PIL mode ``'L'``, ``'P'``,
``'RGBA'``, ...), read back through :class:`LoadFERImage` and through a
dataset's pipeline, and compared with the values they must give, computed
here from the pixels that were written (not from another decoder).
"""
import os

import numpy as np
import pytest
from PIL import Image

from ferpretrain.datasets import FERFolder
from ferpretrain.datasets.transforms import LoadFERImage

H, W = 6, 8
YY, XX = np.mgrid[0:H, 0:W]
GRAY = (XX * 30 + YY * 7).astype(np.uint8)
RGB = np.stack([GRAY, 255 - GRAY, GRAY // 2 + 60], axis=2)
# alpha: a transparent left column, half-transparent middle, opaque right
ALPHA = np.select([XX == 0, XX < 4], [0, 128], 255).astype(np.uint8)
# what a fully transparent pixel hides: a colour that must not leak out
HIDDEN = (200, 50, 10)


def composite(rgb, alpha, background):
    """The expected BGR of ``rgb`` with ``alpha`` over ``background``
    (``(B, G, R)``), rounded."""
    a = alpha[..., None].astype(np.float64) / 255
    bgr = rgb[..., ::-1].astype(np.float64)
    out = bgr * a + np.asarray(background, np.float64) * (1 - a)
    return np.round(out).astype(np.uint8)


def gray3(gray):
    return np.repeat(gray[..., None], 3, axis=2)


def palette_image():
    """A palette ('P') image of RGB, quantized to 16 colours."""
    return Image.fromarray(RGB).quantize(colors=16)


def rgba_image():
    rgb = RGB.copy()
    rgb[ALPHA == 0] = HIDDEN
    return Image.fromarray(np.dstack([rgb, ALPHA]), 'RGBA'), rgb


def palette_with_transparency():
    """A 'P' image whose colour 0 is transparent (a tRNS chunk)."""
    img = palette_image()
    index = np.array(img)
    index[:, 0] = 0  # the left column uses the transparent entry
    img = Image.fromarray(index, 'P')
    img.putpalette(palette_image().getpalette())
    img.info['transparency'] = 0
    return img


def _cases():
    """``(id, file name, PIL image, expected BGR over black)``."""
    rgba, rgba_rgb = rgba_image()
    pal = palette_image()
    pal_t = palette_with_transparency()
    pal_t_rgb = np.array(pal_t.convert('RGB'))
    values16 = (GRAY.astype(np.uint16) * 257)  # an 8-bit image at 16 bits
    values16[0, :4] = (0, 128, 129, 65535)  # rounding and the extremes
    gray16 = GRAY.copy()
    gray16[0, :4] = (0, 0, 1, 255)
    return [
        ('gray-png', 'gray.png', Image.fromarray(GRAY, 'L'), gray3(GRAY)),
        # JAFFE ships 8-bit grayscale TIFF
        ('gray-tiff', 'KA.AN1.39.tiff', Image.fromarray(GRAY, 'L'),
         gray3(GRAY)),
        ('bilevel-png', 'bw.png', Image.fromarray(GRAY > 100),
         gray3(np.where(GRAY > 100, 255, 0).astype(np.uint8))),
        ('palette-png', 'palette.png', pal,
         np.array(pal.convert('RGB'))[..., ::-1]),
        ('palette-transparent-png', 'palette_t.png', pal_t,
         composite(pal_t_rgb, np.where(np.array(pal_t) == 0, 0, 255),
                   (0, 0, 0))),
        ('rgba-png', 'rgba.png', rgba, composite(rgba_rgb, ALPHA,
                                                 (0, 0, 0))),
        ('gray-alpha-png', 'la.png',
         Image.fromarray(np.dstack([GRAY, ALPHA]), 'LA'),
         composite(gray3(GRAY), ALPHA, (0, 0, 0))),
        ('gray16-png', 'gray16.png', Image.fromarray(values16),
         gray3(gray16)),
        ('gray16-tiff', 'gray16.tiff', Image.fromarray(values16),
         gray3(gray16)),
    ]


CASES = _cases()


@pytest.mark.parametrize('name,image,expected',
                         [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_modes_load_as_bgr3(tmp_path, name, image, expected):
    path = str(tmp_path / name)
    image.save(path)
    out = LoadFERImage()(dict(img_path=path))
    img = out['img']
    assert img.shape == (H, W, 3) and img.dtype == np.uint8
    assert out['img_shape'] == out['ori_shape'] == (H, W)
    np.testing.assert_array_equal(img, expected)


def test_alpha_background(tmp_path):
    rgba, rgb = rgba_image()
    path = str(tmp_path / 'rgba.png')
    rgba.save(path)
    for background, bgr in ((255, (255, 255, 255)), ((10, 20, 30),
                                                     (10, 20, 30))):
        img = LoadFERImage(alpha_background=background)(
            dict(img_path=path))['img']
        np.testing.assert_array_equal(img, composite(rgb, ALPHA, bgr))
        # transparent pixels show the background, not the hidden colour
        assert (img[:, 0] == bgr).all()
        # opaque ones keep their colour exactly
        np.testing.assert_array_equal(img[:, 4:], RGB[:, 4:, ::-1])
    assert 'alpha_background=(10, 20, 30)' in repr(
        LoadFERImage(alpha_background=(10, 20, 30)))


@pytest.mark.parametrize('background', [-1, 256, (1, 2), 0.5, 'white'])
def test_alpha_background_invalid(background):
    with pytest.raises(ValueError, match='alpha_background'):
        LoadFERImage(alpha_background=background)


def test_opaque_rgba_and_in_memory_alpha():
    # an opaque 4th channel is dropped: the colours stay exact
    bgra = np.dstack([RGB[..., ::-1], np.full((H, W), 255, np.uint8)])
    out = LoadFERImage()(dict(img=bgra))['img']
    np.testing.assert_array_equal(out, RGB[..., ::-1])
    # an in-memory alpha channel is composited like a file's
    bgra[..., 3] = ALPHA
    out = LoadFERImage(alpha_background=255)(dict(img=bgra))['img']
    np.testing.assert_array_equal(out, composite(RGB, ALPHA, (255, ) * 3))


def test_unsupported_sample_type(tmp_path):
    path = str(tmp_path / 'float.tiff')
    Image.fromarray(GRAY.astype(np.float32) / 255).save(path)
    with pytest.raises(ValueError, match='float.tiff'):
        LoadFERImage()(dict(img_path=path))


def test_modes_through_a_dataset_pipeline(tmp_path):
    """A class folder mixing every mode gives 3-channel inputs of the
    expected values after ``PackInputs``."""
    folder = tmp_path / 'fer' / 'train' / 'happy'
    os.makedirs(folder)
    expected = {}
    for _, name, image, pixels in CASES:
        image.save(str(folder / name))
        expected[name] = pixels
    dataset = FERFolder(
        str(tmp_path / 'fer'),
        classes=('happy', ),
        serialize_data=False,  # its gc.collect() is slow, and not tested
        pipeline=[dict(type='LoadFERImage'),
                  dict(type='PackInputs')])
    assert len(dataset) == len(CASES)
    for i in range(len(dataset)):
        name = os.path.basename(dataset.get_data_info(i)['img_path'])
        inputs = dataset[i]['inputs']
        assert tuple(inputs.shape) == (3, H, W)
        np.testing.assert_array_equal(inputs.permute(1, 2, 0).numpy(),
                                      expected[name])
