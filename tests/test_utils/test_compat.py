"""The fixes ferpretrain applies to its pinned OpenMMLab releases."""
import mmcv
import numpy as np
import pytest
from mmpretrain.datasets.transforms import ColorJitter

import ferpretrain  # noqa: F401  (installs the fixes)
from ferpretrain.utils.compat import adjust_hue

RED = (0, 0, 255)  # BGR


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
@pytest.mark.parametrize('factor,expected', [
    (-1 / 3, (255, 0, 0)),  # red - 120 degrees = blue
    (1 / 3, (0, 255, 0)),  # red + 120 degrees = green
    (0., RED),
])
def test_adjust_hue_turns_the_colour_wheel_both_ways(
        backend, factor, expected):
    img = np.full((4, 4, 3), RED, np.uint8)
    out = mmcv.adjust_hue(img, factor, backend=backend)
    assert out.shape == img.shape and out.dtype == np.uint8
    # The hue channel is 8 bits: 1/256 of the wheel is about 6 levels.
    assert np.abs(out[0, 0].astype(int) - expected).max() <= 8, out[0, 0]


def test_mmcv_and_mmpretrain_use_the_fixed_function():
    assert mmcv.adjust_hue is adjust_hue


def test_apvit_color_jitter_never_crashes():
    # APViT's ColorJitter: a negative hue draw crashed mmcv 2.2.0 on numpy 2.
    jitter = ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4,
                         hue=0.1)
    img = np.random.default_rng(0).integers(0, 256, (8, 8, 3), np.uint8)
    np.random.seed(0)
    for _ in range(50):
        out = jitter(dict(img=img.copy()))['img']
        assert out.shape == img.shape


def test_adjust_hue_checks_its_arguments():
    img = np.zeros((2, 2, 3), np.uint8)
    with pytest.raises(ValueError, match='not in'):
        adjust_hue(img, 0.6)
    with pytest.raises(ValueError, match='not supported'):
        adjust_hue(img, 0.1, backend='turbojpeg')
    with pytest.raises(TypeError):
        adjust_hue(np.zeros(3, np.uint8), 0.1)
