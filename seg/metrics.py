"""Mask agreement metrics: IoU, Dice and boundary F-score, on boolean masks of any size."""

from __future__ import annotations

import cv2
import numpy as np


def iou(pred: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two boolean masks; 1.0 when both are empty."""
    union = np.logical_or(pred, truth).sum()
    return 1.0 if union == 0 else float(np.logical_and(pred, truth).sum() / union)


def consensus_iou(pred: np.ndarray, teachers: list[np.ndarray]) -> tuple[float, float]:
    """IoU over the pixels where every teacher mask agrees, and the share of pixels left out."""
    agreed = np.logical_and.reduce([t == teachers[0] for t in teachers])
    return iou(pred & agreed, teachers[0] & agreed), 1 - float(agreed.mean())


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice coefficient (2|A∩B| / (|A|+|B|)); 1.0 when both are empty."""
    total = pred.sum() + truth.sum()
    return 1.0 if total == 0 else float(2 * np.logical_and(pred, truth).sum() / total)


def boundary(mask: np.ndarray) -> np.ndarray:
    """One-pixel inner boundary of a boolean mask."""
    m = mask.astype(np.uint8)
    return (m - cv2.erode(m, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)).astype(bool)


def boundary_tolerance(shape: tuple[int, ...], fraction: float = 0.008) -> int:
    """Band half-width in pixels: a fixed fraction of the image diagonal (at least 1 px), as in DAVIS."""
    return max(1, round(fraction * float(np.hypot(*shape[:2]))))


def boundary_f(pred: np.ndarray, truth: np.ndarray, tolerance: int | None = None) -> float:
    """Boundary F-measure: precision/recall of boundary pixels matched within a ``tolerance`` px band."""
    tol = boundary_tolerance(truth.shape) if tolerance is None else tolerance
    pb, tb = boundary(pred), boundary(truth)
    if pb.sum() == 0 and tb.sum() == 0:
        return 1.0
    if pb.sum() == 0 or tb.sum() == 0:
        return 0.0
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tol + 1, 2 * tol + 1))
    tb_band = cv2.dilate(tb.astype(np.uint8), kernel).astype(bool)
    pb_band = cv2.dilate(pb.astype(np.uint8), kernel).astype(bool)
    precision = np.logical_and(pb, tb_band).sum() / pb.sum()
    recall = np.logical_and(tb, pb_band).sum() / tb.sum()
    return 0.0 if precision + recall == 0 else float(2 * precision * recall / (precision + recall))


def person_share(probability: np.ndarray, threshold: float = 0.5) -> float:
    """Share of the pixels a matte calls person (above ``threshold``): all of it wrong on a person-free picture."""
    return float(np.mean(probability > threshold))


def portrait_windows(height: int, width: int, count: int = 4) -> list[tuple[slice, slice]]:
    """Up to ``count`` distinct 9:16 windows (the framing of a phone clip), as large as the picture
    allows, evenly spread along the axis that leaves room (one window if the picture is 9:16)."""
    if width * 16 >= height * 9:
        crop_h, crop_w = height, max(1, height * 9 // 16)
    else:
        crop_h, crop_w = max(1, width * 16 // 9), width
    xs = np.linspace(0, width - crop_w, count).round().astype(int)
    ys = np.linspace(0, height - crop_h, count).round().astype(int)
    corners = dict.fromkeys(zip(ys.tolist(), xs.tolist()))
    return [(slice(y, y + crop_h), slice(x, x + crop_w)) for y, x in corners]


def share_away_from(called: np.ndarray, pixels: np.ndarray, person: np.ndarray, distance: float) -> float:
    """Share of ``pixels`` (bool) at least ``distance`` pixels from ``person`` (bool) that ``called`` (bool) marks
    person: wrong calls beside a person, leaving her edge out; nan when no such pixel is left."""
    far = pixels & (cv2.distanceTransform((~person).astype(np.uint8), cv2.DIST_L2, 3) >= distance)
    return float(called[far].mean()) if far.any() else float("nan")
