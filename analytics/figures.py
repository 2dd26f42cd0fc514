"""The report's pictures as ``data:`` URIs: thumbnail strips, per-clip time series, engagement scatter plots.

Plots are drawn by matplotlib's Agg renderer on ``Figure`` objects (no pyplot, no global state), with fixed
margins: a layout engine would draw every figure twice.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analytics.engagement import Correlation


@dataclass(frozen=True)
class FigureStyle:
    """Sizes and colours of the report's pictures."""

    thumbnail_height: int = 160  # pixels
    thumbnail_gap: int = 4  # pixels between thumbnails
    jpeg_quality: int = 80
    tint_rgb: tuple[int, int, int] = (255, 0, 170)  # matte overlay colour
    tint_opacity: float = 0.45  # overlay opacity where the matte is 1
    dpi: int = 80


STYLE = FigureStyle()


def thumbnail_strip(frames: np.ndarray, style: FigureStyle = STYLE) -> str:
    """JPEG data URI of ``frames`` (N, H, W, 3 or 4) side by side; an alpha channel is drawn as a tint."""
    count, height, width = frames.shape[:3]
    size = (max(round(width * style.thumbnail_height / height), 1), style.thumbnail_height)
    small = np.stack([cv2.resize(frame, size, interpolation=cv2.INTER_AREA) for frame in frames])
    pictures = small[..., :3].astype(np.float32)
    if small.shape[-1] == 4:
        weight = style.tint_opacity * small[..., 3:].astype(np.float32) / 255
        pictures = pictures * (1 - weight) + np.array(style.tint_rgb, np.float32) * weight
    gap = style.thumbnail_gap
    padded = np.pad(pictures, ((0, 0), (0, 0), (0, gap), (0, 0)), constant_values=255)
    strip = padded.transpose(1, 0, 2, 3).reshape(size[1], count * (size[0] + gap), 3)[:, : -gap or None]
    bgr = cv2.cvtColor(np.clip(strip + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    _, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, style.jpeg_quality])
    return _data_uri("image/jpeg", jpeg.tobytes())


def time_series_plot(frame_df: pd.DataFrame, style: FigureStyle = STYLE) -> str:
    """PNG data URI: body_area_frac above, motion_energy and centroid_speed (right axis) below, over time_s;
    the cuts of an edited clip as dashed lines."""
    figure = Figure(figsize=(7.5, 3.6), dpi=style.dpi)
    figure.subplots_adjust(left=0.12, right=0.86, bottom=0.14, top=0.97, hspace=0.08)
    area, motion = figure.subplots(2, 1, sharex=True)
    time_s = frame_df["time_s"]
    for cut_s in time_s[frame_df["shot"].diff() > 0]:
        for axes in (area, motion):
            axes.axvline(cut_s, color="grey", linestyle="--", linewidth=0.8)
    area.plot(time_s, frame_df["body_area_frac"], color="tab:purple")
    area.set_ylabel("body area\n(frame fraction)")
    motion.plot(time_s, frame_df["motion_energy"], color="tab:orange")
    motion.set_ylabel("motion energy", color="tab:orange")
    speed = motion.twinx()
    speed.plot(time_s, frame_df["centroid_speed"], color="tab:blue")
    speed.set_ylabel("centroid speed\n(body heights/s)", color="tab:blue")
    motion.set_xlabel("time (s)")
    return _png(figure)


def scatter_plots(
    features: pd.DataFrame, metric: pd.Series, correlations: list[Correlation], style: FigureStyle = STYLE
) -> str:
    """PNG data URI: for each of ``correlations`` (at least one) of this ``metric`` (values per clip, same
    index as ``features``), a scatter of the feature (x) against the metric (y), titled with rho and n."""
    columns = min(len(correlations), 3)
    rows = -(-len(correlations) // columns)
    width, height = 3.2 * columns, 2.8 * rows  # inches
    figure = Figure(figsize=(width, height), dpi=style.dpi)
    figure.subplots_adjust(left=0.7 / width, right=0.98, bottom=0.6 / height, top=0.93, wspace=0.45, hspace=0.6)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, correlation in zip(axes, correlations):
        ax.scatter(features[correlation.feature], metric, s=18, color="tab:blue")
        ax.set_xlabel(correlation.feature)
        ax.set_ylabel(str(metric.name))
        rho = f"{correlation.rho:.2f}" if np.isfinite(correlation.rho) else "undefined"
        ax.set_title(f"ρ = {rho}, n = {correlation.n}", fontsize=10)
    for ax in axes[len(correlations) :]:
        ax.set_visible(False)
    return _png(figure)


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return _data_uri("image/png", buffer.getvalue())


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
