"""Compositing masked people onto backgrounds: the one piece of image synthesis in the project.

Used by training (background replacement and geometric augmentation), by the
synthetic test clips and by the bundled sample clip, so that every composite has an
exact ground-truth matte.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


@dataclass(frozen=True)
class Person:
    """An RGB photo and its person matte (float32, 0..1), same height and width."""

    rgb: np.ndarray
    alpha: np.ndarray

    @classmethod
    def load(cls, image_path: Path, mask_path: Path) -> "Person":
        rgb = read_rgb(image_path)
        mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
        if mask is None:
            raise ValueError(f"{mask_path.name}: unreadable mask")
        if mask.shape != rgb.shape[:2]:
            raise ValueError(f"{mask_path.name}: mask size {mask.shape[::-1]} differs from image size {rgb.shape[1::-1]}")
        return cls(rgb, (mask > 0).astype(np.float32))

    def cropped(self, margin: float = 0.02) -> "Person":
        """The same person cropped to the matte's bounding box (plus a small margin)."""
        ys, xs = np.nonzero(self.alpha > 0.5)
        if len(ys) == 0:
            return self
        h, w = self.alpha.shape
        pad = int(margin * max(h, w))
        y0, y1 = max(ys.min() - pad, 0), min(ys.max() + pad + 1, h)
        x0, x1 = max(xs.min() - pad, 0), min(xs.max() + pad + 1, w)
        return Person(self.rgb[y0:y1, x0:x1], self.alpha[y0:y1, x0:x1])


def read_rgb(path: Path) -> np.ndarray:
    """Read an image file as RGB uint8; ``ValueError`` naming the file when unreadable."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"{path.name}: unreadable image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@dataclass(frozen=True)
class Placement:
    """Where a person goes on the canvas: centre (pixels), height (pixels), rotation, mirror."""

    center_x: float
    center_y: float
    height: float
    angle_deg: float = 0.0
    mirror: bool = False


def padded_crop(picture: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """``picture[y0:y1, x0:x1]`` with the parts beyond its edges filled by repeating the edge pixels (a crop around
    someone near the frame's edge keeps its size and shape)."""
    height, width = picture.shape[:2]
    inside = picture[max(y0, 0) : min(y1, height), max(x0, 0) : min(x1, width)]
    return cv2.copyMakeBorder(inside, max(0, -y0), max(0, y1 - height), max(0, -x0), max(0, x1 - width),
                              cv2.BORDER_REPLICATE)


def placement_matrix(src_hw: tuple[int, int], where: Placement) -> np.ndarray:
    """2x3 affine matrix taking source pixel coordinates onto the canvas."""
    src_h, src_w = src_hw
    scale = where.height / src_h
    matrix = cv2.getRotationMatrix2D((src_w / 2, src_h / 2), where.angle_deg, scale)
    if where.mirror:
        matrix[:, 0] *= -1
        matrix[:, 2] += matrix[:, 0] * -src_w  # keep the centre fixed after mirroring x
    centre = matrix @ np.array([src_w / 2, src_h / 2, 1.0])
    matrix[:, 2] += np.array([where.center_x, where.center_y]) - centre
    return matrix


def warp(image: np.ndarray, matrix: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """Warp with bilinear filtering; outside the source is zero."""
    return cv2.warpAffine(image, matrix, size_wh, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def paste(background: np.ndarray, person: Person, where: Placement) -> tuple[np.ndarray, np.ndarray]:
    """Alpha-blend ``person`` onto a copy of ``background`` (H, W, 3 uint8).

    Returns the composite (uint8) and the person's matte on the canvas (float32, 0..1).
    """
    h, w = background.shape[:2]
    matrix = placement_matrix(person.alpha.shape, where)
    alpha = warp(person.alpha, matrix, (w, h))
    rgb = warp(person.rgb, matrix, (w, h)).astype(np.float32)
    a = alpha[..., None]
    out = background.astype(np.float32) * (1 - a) + rgb * a
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), alpha


def procedural_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A random, cluttered but person-free background: gradient, blocks, stripes, blobs and noise."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    theta = rng.uniform(0, 2 * np.pi)
    t = (np.cos(theta) * xx / width + np.sin(theta) * yy / height + 1) / 2
    out = c0 * (1 - t[..., None]) + c1 * t[..., None]
    for _ in range(rng.integers(2, 12)):
        colour = rng.uniform(0, 255, 3)
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        x1, y1 = x0 + rng.integers(4, width // 2 + 5), y0 + rng.integers(4, height // 2 + 5)
        if rng.random() < 0.5:
            out[y0:y1, x0:x1] = colour
        else:
            blob = ((xx - x0) / max(x1 - x0, 1)) ** 2 + ((yy - y0) / max(y1 - y0, 1)) ** 2 < 1
            out[blob] = colour
    if rng.random() < 0.4:
        period = rng.uniform(6, 60)
        stripes = (np.sin((xx * np.cos(theta) + yy * np.sin(theta)) * 2 * np.pi / period) > 0)[..., None]
        out = np.where(stripes, out * rng.uniform(0.5, 0.9), out)
    out += rng.normal(0, rng.uniform(0, 12), out.shape)
    if rng.random() < 0.5:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 4))
    return np.clip(out, 0, 255).astype(np.uint8)
