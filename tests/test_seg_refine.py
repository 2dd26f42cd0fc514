"""Matte refinement: edge-aware upsampling follows the picture, the same on any number of threads; the PyTorch
paths (CUDA) as the CPU ones."""

import cv2
import numpy as np
import pytest
import torch

from seg.refine import MatteRefiner, RefineSettings, guided_upsample_torch
from conftest import torch_devices


def step_scene(n: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Frames whose left part is a bright body (x < 70 of 160) and a coarse, blurred matte of it at 1/4 size."""
    luma = np.full((n, 120, 160), 30, np.uint8)
    luma[:, :, :70] = 220
    probs = np.zeros((n, 30, 40), np.float32)
    probs[:, :, :17] = 1.0
    probs[:, :, 17:19] = 0.5  # the network is unsure along the edge
    return probs, luma


def test_edge_aware_upsampling_puts_the_edge_where_the_picture_has_it():
    probs, luma = step_scene()
    alpha = MatteRefiner(threads=1).upsample(probs, list(luma))
    assert alpha.shape == luma.shape and alpha.dtype == np.uint8
    assert (alpha[:, :, :66] > 200).all() and (alpha[:, :, 74:] < 55).all()
    row = alpha[0, 60].astype(int)
    assert row[68] - row[72] > 100  # a sharp step at the picture's edge (x = 70), not a 4x-blurred ramp


def test_upsampling_on_several_threads_gives_the_same_mattes():
    probs, luma = step_scene(n=7)
    probs = probs * np.random.default_rng(0).uniform(0.8, 1.0, probs.shape).astype(np.float32)
    np.testing.assert_array_equal(MatteRefiner(threads=3).upsample(probs, list(luma)), MatteRefiner(threads=1).upsample(probs, list(luma)))


# The PyTorch path (CUDA) against OpenCV's: the same filter and guide in float32, summed in another order and
# with OpenCV's fixed-point bilinear step replaced by a float one, so a value may round the other way: at most
# one grey level apart, on few pixels. On a GPU the sums run in yet another order: two levels.
MAX_LEVELS_APART, MAX_SHARE_APART = 1, 0.05
MAX_LEVELS_APART_ON_GPU = 2


def textured_scene(height: int, width: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Four frames: a bright body on a textured background, and a soft, slightly wrong matte of it at h x w."""
    rng = np.random.default_rng(5)
    y, x = np.mgrid[:height, :width]
    body = ((x - width / 2) / (0.25 * width)) ** 2 + ((y - height / 2) / (0.4 * height)) ** 2 < 1
    texture = rng.normal(0, 12, (4, height, width))
    luma = np.clip(np.where(body, 200, 60 + 40 * np.sin(x / 7.0)) + texture, 0, 255).astype(np.uint8)
    probs = np.stack([cv2.resize(body.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)] * 4)
    probs = np.clip(cv2.GaussianBlur(probs.transpose(1, 2, 0), (5, 5), 1.5).transpose(2, 0, 1)
                    + rng.normal(0, 0.05, probs.shape), 0, 1).astype(np.float32)
    return probs, luma


@pytest.mark.parametrize("size", [(320, 180, 80, 45), (170, 100, 80, 47)], ids=["whole factor", "fractional factor"])
def test_pytorch_upsampling_matches_opencv_within_a_few_levels(size):
    probs, luma = textured_scene(*size)
    settings = RefineSettings()
    opencv = MatteRefiner(threads=1).upsample(probs, list(luma)).astype(int)
    pytorch = guided_upsample_torch(probs, list(luma), settings.guide_radius, settings.guide_eps, torch.device("cpu"))
    apart = np.abs(opencv - pytorch)
    assert apart.max() <= MAX_LEVELS_APART and (apart > 0).mean() <= MAX_SHARE_APART


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_refiner_upsamples_on_the_gpu_as_on_the_cpu():
    probs, luma = textured_scene(1920, 1080, 320, 180)
    on_gpu = MatteRefiner(device=torch.device("cuda")).upsample(probs, list(luma)).astype(int)
    apart = np.abs(on_gpu - MatteRefiner(threads=1).upsample(probs, list(luma)))
    assert apart.max() <= MAX_LEVELS_APART_ON_GPU and (apart > 0).mean() <= MAX_SHARE_APART


# The smoothing on a PyTorch device against NumPy's: the same float32 operations in the same order, equal on the CPU;
# on a GPU a multiply and an add may be fused, one rounding apart.
MAX_SMOOTHING_APART = 1e-6


@pytest.mark.parametrize("device", torch_devices())
def test_pytorch_smoothing_matches_numpy_and_restarts_at_cuts(device):
    probs = np.random.default_rng(3).uniform(0, 1, (8, 30, 40)).astype(np.float32)
    cuts = np.zeros(8, bool)
    cuts[5] = True
    on_numpy, on_torch = MatteRefiner().temporal(), MatteRefiner().temporal()
    batches = (slice(0, 4), slice(4, 8))  # the smoother carries the last frame from one batch to the next
    expected = np.concatenate([on_numpy(probs[b], cuts[b]) for b in batches])
    smoothed = torch.cat([on_torch(torch.from_numpy(probs[b]).to(device), cuts[b]) for b in batches])
    assert smoothed.device.type == device
    np.testing.assert_allclose(smoothed.cpu().numpy(), expected, rtol=0, atol=MAX_SMOOTHING_APART)
    assert (expected[[0, 5]] == probs[[0, 5]]).all() and (expected[4] != probs[4]).any()  # cut frames start afresh


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_refine_matches_the_cpu_path():
    """Smoothing on the GPU, clean-up on the CPU, upsampling on the GPU: as on the CPU, within the upsampling's levels."""
    probs, luma = textured_scene(1920, 1080, 320, 180)
    cuts = np.array([False, False, True, False])

    def refined(refiner: MatteRefiner, network_output: np.ndarray | torch.Tensor) -> np.ndarray:
        return refiner.upsample(refiner.clean(refiner.temporal()(network_output, cuts)), list(luma))

    on_gpu = refined(MatteRefiner(device=torch.device("cuda")), torch.from_numpy(probs).cuda()).astype(int)
    apart = np.abs(on_gpu - refined(MatteRefiner(threads=1), probs))
    assert apart.max() <= MAX_LEVELS_APART_ON_GPU and (apart > 0).mean() <= MAX_SHARE_APART
