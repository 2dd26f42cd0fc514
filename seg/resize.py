"""Downscaling big frames: INTER_AREA quality at a fraction of its cost, with OpenCV or, on a CUDA device, PyTorch."""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

PRESHRINK = 3  # bilinear steps down to this multiple of the target first


def shrink(picture: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area-filtered downscale to ``width`` x ``height``.

    OpenCV's area filter is slow on large factors (about 9 ms for 1080x1920 RGB -> 144x256 on
    one core); a bilinear step to 3x the target first costs about 2 ms and differs from the
    direct area filter by about 0.6 grey levels on average.
    """
    if picture.shape[1] > PRESHRINK * width and picture.shape[0] > PRESHRINK * height:
        picture = cv2.resize(picture, (PRESHRINK * width, PRESHRINK * height), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)


def area_weights(source: int, target: int, device: torch.device) -> torch.Tensor:
    """(target, source) weights of an area-filtered resize along one axis: each output pixel's share of each input pixel."""
    scale = source / target
    edges = torch.arange(target + 1, dtype=torch.float64, device=device) * scale
    pixels = torch.arange(source, dtype=torch.float64, device=device)
    overlap = torch.minimum(edges[1:, None], pixels + 1) - torch.maximum(edges[:-1, None], pixels)
    return (overlap.clamp(min=0) / scale).float()


def shrink_torch(planes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``shrink`` of (N, C, H, W) 8-bit values held as floats: a bilinear step to three times the target
    where the factor is larger, then an area filter, each rounded to 8 bits as OpenCV does."""
    if planes.shape[3] > PRESHRINK * width and planes.shape[2] > PRESHRINK * height:
        size = (PRESHRINK * height, PRESHRINK * width)
        planes = F.interpolate(planes, size=size, mode="bilinear", align_corners=False).round_()
    rows, cols = (area_weights(n, target, planes.device) for n, target in zip(planes.shape[2:], (height, width)))
    return (rows @ planes @ cols.T).round_()


def shrink_pictures_torch(pictures: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``shrink`` of (N, H, W, C) uint8 pictures on their device -> (N, height, width, C) uint8, left there."""
    return shrink_torch(pictures.permute(0, 3, 1, 2).float(), height, width).to(torch.uint8).permute(0, 2, 3, 1)
