"""From network probabilities to an editor-grade matte.

Three steps, all on whole arrays (no per-pixel Python):
- temporal stabilisation: a motion-adaptive running average of the probabilities, strong
  where the new frame barely differs (flicker) and absent where it differs a lot (motion);
- clean-up: connected regions much smaller than the largest one are removed;
- edge-aware upsampling: a fast guided filter (He & Sun, 2015) solved at network
  resolution with the frame's luma as guide, its linear coefficients upsampled and
  applied to the full-resolution luma, so edges follow the picture; the result stays
  soft (0..1) where the network is unsure. On a CUDA device the whole batch is upsampled
  by the same filter in PyTorch (``guided_upsample_torch``: box filters are average pools),
  so the CPU only hands over the luma planes.

On a CUDA device the smoothing runs there too, on the network's output tensor; the clean-up
stays on the CPU (connected components have no PyTorch op), where the dancer tracking needs
the low-resolution matte anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from seg.cores import usable_cores
from seg.resize import shrink, shrink_torch

Probabilities = TypeVar("Probabilities", np.ndarray, torch.Tensor)


@dataclass(frozen=True)
class RefineSettings:
    temporal_base: float = 0.35  # weight of the new frame where nothing moves
    temporal_tau: float = 0.25  # probability change at which the new frame takes over fully
    min_region_frac: float = 0.05  # regions smaller than this fraction of the largest are removed
    guide_radius: int = 2  # box radius at network resolution
    guide_eps: float = 1e-3
    edge_aware: bool = True


class TemporalSmoother:
    """Motion-adaptive exponential smoothing of per-frame probabilities, one clip at a time.

    Takes arrays, or tensors smoothed on their device (CUDA: the batch stays there from the network on).
    """

    def __init__(self, base: float, tau: float) -> None:
        self.base, self.tau = base, tau
        self.previous: np.ndarray | torch.Tensor | None = None

    def __call__(self, probs: Probabilities, cuts: np.ndarray | None = None) -> Probabilities:
        """Smoothed (N, h, w) ``probs``; a frame marked in ``cuts`` (N,) starts afresh (a new shot)."""
        out = probs.clone() if isinstance(probs, torch.Tensor) else probs.copy()
        for i, p in enumerate(probs):  # sequential by nature: each frame depends on the last
            if self.previous is None or self.previous.shape != p.shape or (cuts is not None and cuts[i]):
                smoothed = p
            else:
                weight = self.base + (1 - self.base) * (abs(p - self.previous) / self.tau).clip(max=1)
                smoothed = weight * p + (1 - weight) * self.previous
            out[i] = self.previous = smoothed
        return out


def remove_small_regions(probs: np.ndarray, min_fraction: float) -> np.ndarray:
    """Zero connected regions (of p > 0.5) smaller than ``min_fraction`` of each frame's largest."""
    out = probs.copy()
    for frame in out:
        labels, count = ndimage.label(frame > 0.5)
        if count < 2:
            continue
        sizes = np.bincount(labels.ravel())[1:]
        small = np.flatnonzero(sizes < min_fraction * sizes.max()) + 1
        if small.size:
            # grow the removed regions by a pixel so their soft fringe goes too
            removed = np.isin(labels, small)
            frame[removed | (ndimage.binary_dilation(removed) & (labels == 0))] = 0
    return out


def guided_upsample(prob: np.ndarray, grey: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Fast guided filter -> uint8 alpha: coefficients at ``prob``'s resolution, applied to the full-resolution luma ``grey``."""
    h, w = prob.shape
    height, width = grey.shape
    guide = shrink(grey, w, h).astype(np.float32) * (1 / 255)
    ksize = (2 * radius + 1, 2 * radius + 1)
    mean_i = cv2.boxFilter(guide, -1, ksize)
    mean_p = cv2.boxFilter(prob, -1, ksize)
    cov_ip = cv2.boxFilter(guide * prob, -1, ksize) - mean_i * mean_p
    var_i = cv2.boxFilter(guide * guide, -1, ksize) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    # alpha = 255 * (a * grey / 255 + b) = a * grey + 255 * b, rounded and saturated to 0..255 by OpenCV
    mean_a = cv2.resize(cv2.boxFilter(a, -1, ksize), (width, height), interpolation=cv2.INTER_LINEAR)
    mean_b = cv2.resize(cv2.boxFilter(b, -1, ksize) * 255, (width, height), interpolation=cv2.INTER_LINEAR)
    return cv2.add(cv2.multiply(grey, mean_a, dtype=cv2.CV_32F), mean_b, dtype=cv2.CV_8U)


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """``cv2.boxFilter`` (normalised, border reflected without repeating the edge) over (N, 1, h, w)."""
    return F.avg_pool2d(F.pad(x, (radius,) * 4, mode="reflect"), 2 * radius + 1, stride=1)


@torch.inference_mode()
def guided_upsample_torch(probs: np.ndarray, grey: Sequence[np.ndarray], radius: int, eps: float,
                          device: torch.device) -> np.ndarray:
    """``guided_upsample`` for a batch on ``device``: (N, h, w) probabilities + N (H, W) luma -> (N, H, W) uint8.

    The guide is shrunk as on the CPU (``shrink_torch``).
    """
    h, w = probs.shape[1:]
    luma = torch.from_numpy(np.stack(grey)).to(device).unsqueeze(1).float()
    prob = torch.from_numpy(probs).to(device).unsqueeze(1)
    height, width = luma.shape[2:]
    guide = shrink_torch(luma, h, w) * (1 / 255)
    mean_i, mean_p = box_mean(guide, radius), box_mean(prob, radius)
    a = (box_mean(guide * prob, radius) - mean_i * mean_p) / (box_mean(guide * guide, radius) - mean_i * mean_i + eps)
    b = mean_p - a * mean_i
    mean_a = F.interpolate(box_mean(a, radius), size=(height, width), mode="bilinear", align_corners=False)
    mean_b = F.interpolate(box_mean(b, radius) * 255, size=(height, width), mode="bilinear", align_corners=False)
    return (luma * mean_a + mean_b).round_().clamp_(0, 255).to(torch.uint8)[:, 0].cpu().numpy()


def bilinear_upsample(prob: np.ndarray, grey: np.ndarray) -> np.ndarray:
    """Plain bilinear upsampling to ``grey``'s size -> uint8 alpha (the baseline of ``guided_upsample``)."""
    up = cv2.resize(prob, (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_LINEAR)
    return cv2.convertScaleAbs(np.clip(up, 0, 1), alpha=255)


def upsample_threads() -> int:
    """Frames upsampled at once: one on small machines, whose cores the other stages need; a quarter of the cores on big ones."""
    return max(1, usable_cores() // 4)


class MatteRefiner:
    """Clean-up and upsampling for one batch; ``temporal()`` makes a per-clip smoother.

    ``threads`` frames are upsampled at once (OpenCV releases the GIL); ``None``: ``upsample_threads()``.
    On a CUDA ``device`` the edge-aware upsampling runs there, a batch at a time (the smoothing runs
    wherever its input tensor is).
    """

    def __init__(self, settings: RefineSettings = RefineSettings(), threads: int | None = None,
                 device: torch.device = torch.device("cpu")) -> None:
        self.settings = settings
        self.device = device
        threads = threads or upsample_threads()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="upsample") if threads > 1 else None

    def temporal(self) -> TemporalSmoother:
        return TemporalSmoother(self.settings.temporal_base, self.settings.temporal_tau)

    def clean(self, probs: np.ndarray | torch.Tensor) -> np.ndarray:
        """On the CPU, a tensor brought there: connected components have no PyTorch op and are cheap at network resolution."""
        if isinstance(probs, torch.Tensor):
            probs = probs.cpu().numpy()
        return remove_small_regions(probs, self.settings.min_region_frac)

    def upsample(self, probs: np.ndarray, grey: Sequence[np.ndarray]) -> np.ndarray:
        """(N, h, w) probabilities + N (H, W) full-resolution luma pictures -> (N, H, W) uint8 alpha."""
        s = self.settings
        h, w = probs.shape[1:]
        if self.device.type == "cuda" and s.edge_aware and min(h, w) > s.guide_radius:  # reflection needs the room
            return guided_upsample_torch(probs, grey, s.guide_radius, s.guide_eps, self.device)

        def one(prob: np.ndarray, luma: np.ndarray) -> np.ndarray:
            return guided_upsample(prob, luma, s.guide_radius, s.guide_eps) if s.edge_aware else bilinear_upsample(prob, luma)

        return np.stack(list(self._pool.map(one, probs, grey)) if self._pool else [one(p, g) for p, g in zip(probs, grey)])
