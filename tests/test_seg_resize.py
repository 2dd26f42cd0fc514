"""``shrink``: the cheap area-filtered downscale the network input goes through, with OpenCV and with PyTorch."""

import cv2
import numpy as np
import pytest
import torch

from seg.resize import shrink, shrink_pictures_torch
from conftest import load_person, torch_devices


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


# PyTorch's resize (on CUDA) against OpenCV's: the same filters in float, where OpenCV's 8-bit bilinear step works
# in fixed point with truncating shifts, so a value may round the other way: at most one level, on few values.
MAX_LEVELS_APART, MAX_SHARE_APART = 1, 0.1


@pytest.mark.parametrize("device", torch_devices())
@pytest.mark.parametrize("size", [(144, 256), (256, 144), (37, 61), (400, 700)])
def test_pytorch_shrink_matches_opencv_within_a_level(size, device):
    big = cv2.resize(load_person("0010").rgb, (1080, 1920), interpolation=cv2.INTER_CUBIC)
    frames = np.stack([big, big[::-1]])
    width, height = size
    pytorch = shrink_pictures_torch(torch.from_numpy(frames).to(device), height, width).cpu().numpy()
    apart = np.abs(pytorch.astype(int) - np.stack([shrink(f, width, height) for f in frames]))
    assert pytorch.shape == (2, height, width, 3) and pytorch.dtype == np.uint8
    assert apart.max() <= MAX_LEVELS_APART and (apart > 0).mean() <= MAX_SHARE_APART
