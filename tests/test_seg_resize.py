"""``shrink``: the cheap area-filtered downscale the network input goes through."""

import cv2
import numpy as np
import pytest

from seg.resize import shrink
from conftest import load_person


@pytest.mark.parametrize("size", [(144, 256), (256, 144), (37, 61)])
def test_shrink_is_close_to_a_direct_area_filter(size):
    photo = load_person("0010").rgb
    big = cv2.resize(photo, (1080, 1920), interpolation=cv2.INTER_CUBIC)
    small = shrink(big, *size)
    direct = cv2.resize(big, size, interpolation=cv2.INTER_AREA)
    assert small.shape == direct.shape == (size[1], size[0], 3)
    assert np.abs(small.astype(int) - direct).mean() < 1.5


def test_small_pictures_take_the_direct_area_filter():
    picture = np.random.default_rng(0).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    np.testing.assert_array_equal(shrink(picture, 20, 30), cv2.resize(picture, (20, 30), interpolation=cv2.INTER_AREA))
