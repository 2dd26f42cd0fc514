"""Per-frame movement statistics of one clip, computed batch by batch from low-resolution mattes.

Conventions used by the column definitions in ``FRAME_COLUMNS`` (the single place each column is
documented; ``analytics.schema`` builds the Parquet schema and the README table from it):

- ``p`` is the matte (0..1) at network resolution ``h x w``; its aspect ratio equals the source
  frame's, so pixels are square and pixel distances are isotropic.
- The silhouette ``S_t`` is the binarised matte ``p > 0.5``. When the person is absent (see
  ``person_present``) the silhouette is treated as empty.
- A "body height" is the height of the current frame's silhouette bounding box in pixels.
- "The previous frame" is the previous frame given to ``update`` (across batches), whatever its
  time; time steps come from the timestamps, so variable frame rates are handled.
- Each row describes one ``dancer`` (``seg.dancers``). When the dancer id changes from one frame to
  the next (the main dancer switches), the statistics start afresh as on a clip's first frame, so
  motion never compares two different people; so they do on the first frame of each shot of an
  edited clip (``cuts``, from ``pipelines.shots``), so motion never compares two shots.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd
from scipy import ndimage

from analytics.columns import Column

SILHOUETTE_THRESHOLD = 0.5

_NAN_ABSENT = "NaN when the person is absent."
_NAN_MOTION = "NaN on the first frame of the clip and of each shot, and when this or the previous frame has no person."
_NAN_SPEED = "NaN as for motion_energy, and when the time step is not positive."

FRAME_COLUMNS: tuple[Column, ...] = (
    Column("clip", "str", "Clip id. Stored as the hive partition key `clip=<id>`, not inside the Parquet file."),
    Column("frame", "int64", "Frame index in the source clip."),
    Column(
        "dancer",
        "int16",
        "Tracked dancer the row describes, stable within a clip (`seg.dancers`): `--dancers each` gives one "
        "row per dancer per frame; `main` gives the main dancer's id (0 while nobody is tracked); `all` gives "
        "0, meaning everyone.",
    ),
    Column("time_s", "float64", "Frame timestamp in seconds (variable frame rate allowed)."),
    Column(
        "shot",
        "int16",
        "Shot of an edited clip the frame belongs to: 0 from the first frame, one more at each shot change (cut, "
        "dissolve or fade; `pipelines.shots`); all 0 in a clip without any. The motion columns restart at each shot's "
        "first frame.",
    ),
    Column(
        "person_present",
        "bool",
        "The silhouette (p > 0.5) covers at least `StatsSettings.presence_frac` of the frame (default 0.2%).",
    ),
    Column(
        "matte_confidence",
        "float32",
        "Mean of |2p - 1| over the frame: 1 when every pixel is 0 or 1, 0 when every pixel is 0.5.",
    ),
    Column(
        "n_regions",
        "int16",
        "8-connected regions of the silhouette with at least `StatsSettings.min_region_frac` of the frame's "
        "pixels (default 0.1%); 0 when the person is absent.",
    ),
    Column("body_area_frac", "float32", "Soft body area: sum(p) / (h * w)."),
    Column("bbox_x0", "float32", f"Left edge of the silhouette bounding box / frame width. {_NAN_ABSENT}"),
    Column("bbox_y0", "float32", f"Top edge of the silhouette bounding box / frame height. {_NAN_ABSENT}"),
    Column(
        "bbox_x1",
        "float32",
        f"Right edge (exclusive pixel edge, so x1 - x0 is the box width) / frame width. {_NAN_ABSENT}",
    ),
    Column("bbox_y1", "float32", f"Bottom edge (exclusive pixel edge) / frame height. {_NAN_ABSENT}"),
    Column(
        "bbox_fill",
        "float32",
        f"Contraction index: silhouette pixels / bounding-box pixels, in (0, 1]. {_NAN_ABSENT}",
    ),
    Column(
        "centroid_x",
        "float32",
        f"Matte-weighted centroid sum(p * x) / sum(p), x at pixel centres, / frame width. {_NAN_ABSENT}",
    ),
    Column("centroid_y", "float32", f"Matte-weighted centroid sum(p * y) / sum(p) / frame height. {_NAN_ABSENT}"),
    Column(
        "centroid_speed",
        "float32",
        "Centroid displacement since the previous frame in pixels / body height in pixels / time step in "
        f"seconds: body heights per second. {_NAN_SPEED}",
    ),
    Column(
        "motion_energy",
        "float32",
        "|S_t XOR S_t-1| / |S_t|: silhouette pixels that appeared or vanished since the previous frame, per "
        "current silhouette pixel. 0 when identical; can exceed 1. Per frame, not per second, so it grows with "
        f"the frame interval. {_NAN_MOTION}",
    ),
    Column(
        "quantity_of_motion",
        "float32",
        "EyesWeb quantity of motion (Camurri et al. 2003): |(S_t-K u ... u S_t-1) - S_t| / |S_t|, the area "
        "of the silhouette motion image (body pixels of the last K frames that the body has left) per current "
        "silhouette pixel; K = `StatsSettings.qom_frames` (default 4). Fewer than K previous frames at the start "
        f"of a clip; absent frames contribute nothing. {_NAN_MOTION}",
    ),
    Column(
        "flow_magnitude",
        "float32",
        "Mean Farneback optical-flow magnitude from the previous to the current grey frame over the current "
        "silhouette, in pixels / body height / time step: body heights per second. NaN when `update` got no "
        f"grey frames for this or the previous frame, when `StatsSettings.flow` is False, and {_NAN_SPEED}",
    ),
)


@dataclass(frozen=True)
class StatsSettings:
    """Thresholds and window sizes of the per-frame statistics."""

    presence_frac: float = 0.002  # least silhouette area, as a fraction of the frame, for person_present
    min_region_frac: float = 0.001  # least region area, as a fraction of the frame, counted in n_regions
    qom_frames: int = 4  # K: previous frames in the quantity-of-motion silhouette motion image
    flow: bool = True  # compute flow_magnitude when grey frames are given
    flow_window_px: int = 15  # Farneback averaging window at matte resolution

    def __post_init__(self) -> None:
        if not 0 < self.presence_frac < 1 or not 0 <= self.min_region_frac < 1:
            raise ValueError("presence_frac must be in (0, 1) and min_region_frac in [0, 1)")
        if self.qom_frames < 1 or self.flow_window_px < 3:
            raise ValueError("qom_frames must be >= 1 and flow_window_px >= 3")


@dataclass(frozen=True)
class _LastFrames:
    """What the next batch needs from the frames before it."""

    silhouettes: np.ndarray  # (K, h, w) bool, oldest first; empty frames before the clip starts
    present: bool
    centroid_px: np.ndarray  # (2,) x, y
    time_s: float
    grey: np.ndarray | None

    @classmethod
    def before_clip(cls, height: int, width: int, settings: StatsSettings) -> _LastFrames:
        return cls(np.zeros((settings.qom_frames, height, width), bool), False, np.full(2, np.nan), np.nan, None)


class FrameStatistics:
    """Per-frame statistics of one clip; feed consecutive batches to ``update`` in order."""

    def __init__(self, clip: str, settings: StatsSettings = StatsSettings()) -> None:
        self.clip = clip
        self.settings = settings
        self._last: _LastFrames | None = None
        self._dancer = 0  # of the previous frame
        self._shot = 0  # of the previous frame

    def update(
        self,
        mattes: np.ndarray,
        times_s: np.ndarray,
        frame_index: np.ndarray,
        grey: np.ndarray | None = None,
        dancer: int | np.ndarray = 0,
        cuts: np.ndarray | None = None,
    ) -> pd.DataFrame:
        """One row per frame with the columns of ``FRAME_COLUMNS``; ``grey`` (N, h, w) uint8 enables flow;
        ``dancer`` is the id of the person the mattes show, one for all frames or one per frame; ``cuts``
        (N,) bool marks the frames that start a new shot."""
        mattes = np.asarray(mattes, np.float32)
        times_s = np.asarray(times_s, np.float64)
        frame_index = np.asarray(frame_index, np.int64)
        _check_batch(mattes, times_s, frame_index, grey)
        dancers = np.broadcast_to(np.asarray(dancer, np.int16), frame_index.shape)
        cuts = np.zeros(len(dancers), bool) if cuts is None else np.asarray(cuts, bool)
        shots = self._shot + np.cumsum(cuts, dtype=np.int64)
        self._shot = int(shots[-1]) if len(shots) else self._shot
        starts = np.flatnonzero((np.diff(dancers, prepend=np.int16(-1)) != 0) | cuts)  # runs of one dancer in one shot
        runs = zip(starts, [*starts[1:], len(dancers)]) if len(dancers) else [(0, 0)]
        parts = []
        for a, b in runs:
            if a < b and (dancers[a] != self._dancer or cuts[a]):
                self._last, self._dancer = None, dancers[a]
            part_grey = None if grey is None else grey[a:b]
            parts.append(self._update_run(mattes[a:b], times_s[a:b], frame_index[a:b], part_grey, self._dancer, shots[a:b]))
        return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)

    def _update_run(
        self, mattes: np.ndarray, times_s: np.ndarray, frame_index: np.ndarray, grey: np.ndarray | None, dancer: int,
        shot: np.ndarray,
    ) -> pd.DataFrame:
        """The rows of consecutive frames of one dancer in one shot."""
        n, height, width = mattes.shape
        last = self._last or _LastFrames.before_clip(height, width, self.settings)
        if last.silhouettes.shape[1:] != (height, width):
            raise ValueError(f"matte size {width}x{height} differs from the clip's earlier batches")
        frame_px = height * width

        raw_silhouettes = mattes > SILHOUETTE_THRESHOLD
        present = raw_silhouettes.sum(axis=(1, 2)) >= self.settings.presence_frac * frame_px
        silhouettes = raw_silhouettes & present[:, None, None]
        body_px = silhouettes.sum(axis=(1, 2))
        boxes = _bounding_boxes(silhouettes, present)
        box_height = boxes[:, 3] - boxes[:, 1]
        centroids = _centroids(mattes, present)

        previous_present = np.concatenate([[last.present], present])[:n]
        compared = present & previous_present
        step_s = np.diff(np.concatenate([[last.time_s], times_s]))
        timed = compared & (step_s > 0)
        per_height_per_s = _ratio(np.ones(n), box_height * step_s, timed)  # pixels per step -> body heights/s

        history = np.concatenate([last.silhouettes, silhouettes])
        k = self.settings.qom_frames
        changed_px = (silhouettes ^ history[k - 1 : k - 1 + n]).sum(axis=(1, 2))
        left_px = (_union_of_previous(history, n, k) & ~silhouettes).sum(axis=(1, 2))
        previous_centroids = np.concatenate([last.centroid_px[None], centroids])[:n]
        displacement_px = np.hypot(*(centroids - previous_centroids).T)

        flow_px = np.full(n, np.nan)
        if grey is not None and self.settings.flow:
            first_previous = grey[:1] if last.grey is None else last.grey[None]  # placeholder when unused
            has_previous_grey = (np.arange(n) > 0) | (last.grey is not None)
            greys = np.concatenate([first_previous, grey])
            flow_px = _body_flow(greys, silhouettes, timed & has_previous_grey, self.settings.flow_window_px)

        if n:
            last_grey = None if grey is None else grey[-1].copy()
            last_time_s = float(times_s[-1])
            self._last = _LastFrames(history[-k:].copy(), bool(present[-1]), centroids[-1], last_time_s, last_grey)
        values = {
            "clip": np.full(n, self.clip, dtype=object),
            "frame": frame_index,
            "dancer": np.full(n, dancer, np.int16),
            "time_s": times_s,
            "shot": shot,
            "person_present": present,
            "matte_confidence": np.abs(2 * mattes - 1).mean(axis=(1, 2), dtype=np.float64),
            "n_regions": _count_regions(silhouettes, self.settings.min_region_frac * frame_px),
            "body_area_frac": mattes.sum(axis=(1, 2), dtype=np.float64) / frame_px,
            "bbox_x0": boxes[:, 0] / width,
            "bbox_y0": boxes[:, 1] / height,
            "bbox_x1": boxes[:, 2] / width,
            "bbox_y1": boxes[:, 3] / height,
            "bbox_fill": _ratio(body_px, (boxes[:, 2] - boxes[:, 0]) * box_height, present),
            "centroid_x": centroids[:, 0] / width,
            "centroid_y": centroids[:, 1] / height,
            "centroid_speed": displacement_px * per_height_per_s,
            "motion_energy": _ratio(changed_px, body_px, compared),
            "quantity_of_motion": _ratio(left_px, body_px, compared),
            "flow_magnitude": flow_px * per_height_per_s,
        }
        return pd.DataFrame({c.name: pd.Series(values[c.name], dtype=c.dtype) for c in FRAME_COLUMNS})


def _check_batch(mattes: np.ndarray, times_s: np.ndarray, frame_index: np.ndarray, grey: np.ndarray | None) -> None:
    """``ValueError`` unless the arrays follow the input contract of ``FrameStatistics.update``."""
    if mattes.ndim != 3:
        raise ValueError(f"mattes must be (N, h, w), got shape {mattes.shape}")
    if times_s.shape != mattes.shape[:1] or frame_index.shape != mattes.shape[:1]:
        raise ValueError("times_s and frame_index must have one entry per matte")
    if grey is not None and (grey.shape != mattes.shape or grey.dtype != np.uint8):
        raise ValueError(f"grey must be uint8 of shape {mattes.shape}, got {grey.dtype} {grey.shape}")


def _ratio(numerator: np.ndarray, denominator: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """numerator / denominator where ``valid``, NaN elsewhere."""
    out = np.full(valid.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=valid)
    return out


def _bounding_boxes(silhouettes: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(N, 4) pixel edges x0, y0, x1, y1 (x1, y1 exclusive) of each silhouette; NaN rows where absent."""
    _, height, width = silhouettes.shape
    rows = silhouettes.any(axis=2)
    cols = silhouettes.any(axis=1)
    boxes = np.stack(
        [
            cols.argmax(axis=1),
            rows.argmax(axis=1),
            width - cols[:, ::-1].argmax(axis=1),
            height - rows[:, ::-1].argmax(axis=1),
        ],
        axis=1,
    )
    return np.where(present[:, None], boxes, np.nan)


def _centroids(mattes: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(N, 2) matte-weighted x, y in pixels (pixel centres at +0.5); NaN rows where absent."""
    _, height, width = mattes.shape
    x = mattes.sum(axis=1, dtype=np.float64) @ (np.arange(width) + 0.5)
    y = mattes.sum(axis=2, dtype=np.float64) @ (np.arange(height) + 0.5)
    mass = mattes.sum(axis=(1, 2), dtype=np.float64)
    return _ratio(np.stack([x, y], axis=1), mass[:, None], np.repeat(present[:, None], 2, axis=1))


def _union_of_previous(history: np.ndarray, n: int, k: int) -> np.ndarray:
    """(n, h, w): for each of the last n frames of ``history``, the union of the k silhouettes before it."""
    union = np.zeros((n, *history.shape[1:]), bool)
    for back in range(1, k + 1):
        union |= history[k - back : k - back + n]
    return union


def _count_regions(silhouettes: np.ndarray, min_px: float) -> np.ndarray:
    """Per frame, the 8-connected silhouette regions of at least ``min_px`` pixels."""
    within_frame = np.zeros((3, 3, 3), bool)
    within_frame[1] = True  # 8-connected in the image plane, never across frames
    labels, count = ndimage.label(silhouettes, within_frame)
    region_px = np.bincount(labels.ravel(), minlength=count + 1)
    region_frame = np.zeros(count + 1, np.int64)
    region_frame[labels] = np.arange(len(labels))[:, None, None]
    return np.bincount(region_frame[1:][region_px[1:] >= min_px], minlength=len(labels))


def _body_flow(greys: np.ndarray, silhouettes: np.ndarray, wanted: np.ndarray, window_px: int) -> np.ndarray:
    """Mean Farneback flow magnitude (pixels per step) from greys[i] to greys[i + 1] inside silhouettes[i]."""
    flow_px = np.full(len(silhouettes), np.nan)
    for i in np.flatnonzero(wanted):
        flow = cv2.calcOpticalFlowFarneback(greys[i], greys[i + 1], None, 0.5, 3, window_px, 3, 5, 1.2, 0)
        flow_px[i] = np.hypot(flow[..., 0], flow[..., 1])[silhouettes[i]].mean()
    return flow_px
