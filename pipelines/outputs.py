"""Where one clip's mattes and statistics go: one layer (``--dancers main|all``) or one per dancer (``each``).

Every layer has a writer per requested format and its own ``FrameStatistics``. The clip's
single matte is written as ``<clip>.mov`` (or the format's suffix); dancer ``n``'s as
``<clip>.dancer<n>.mov``.

The pipeline is one pass and keeps no past frames, so a layer opens when it first appears:
a dancer first seen mid-clip gets writers that start with the frames it missed, fully
transparent over black, and statistics rows where it is absent. Every dancer file thus has the
source's frame count and timestamps, and the table one row per dancer per frame. After a
dancer's track ends its file goes on with transparent frames over the source pictures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analytics import FrameStatistics
from pipelines.video_io import ClipInfo, FrameBatch, black_pictures
from pipelines.writers import MatteWriter, WriterSettings, open_writer
from seg.dancers import DancerLayer


@dataclass(frozen=True)
class _Timing:
    """A written batch without its pictures: what a late layer needs to catch up."""

    pts: np.ndarray
    times_s: np.ndarray
    index: np.ndarray
    durations: np.ndarray
    cuts: np.ndarray | None


@dataclass(frozen=True)
class _Layer:
    writers: list[MatteWriter]
    stats: FrameStatistics
    tables: list[pd.DataFrame]


class ClipOutputs:
    """The writers and statistics of one clip's layers, opened as the layers appear."""

    def __init__(
        self, info: ClipInfo, out_dir: Path, clip_id: str, formats: tuple[str, ...], writer: WriterSettings
    ) -> None:
        self.info, self.out_dir, self.clip_id, self.formats, self.writer = info, out_dir, clip_id, formats, writer
        self.frames = 0
        self._layers: dict[int, _Layer] = {}
        self._written: list[_Timing] = []

    def write(
        self, batch: FrameBatch, layers: list[DancerLayer], alphas: list[np.ndarray], grey: np.ndarray | None = None,
        cuts: np.ndarray | None = None,
    ) -> None:
        """Append one batch of every layer; ``alphas`` are the layers' (N, H, W) uint8 mattes; ``grey``
        (N, h, w) uint8 frames at network resolution enable the optical-flow statistic; ``cuts`` (N,) bool
        marks the frames that start a new shot."""
        for layer, alpha in zip(layers, alphas):
            out = self._layers.get(layer.key) or self._open(layer.key, layer.matte.shape[1:])
            for writer in out.writers:
                writer.write(batch, alpha)
            out.tables.append(out.stats.update(layer.matte, batch.times_s, batch.index, grey, layer.dancer, cuts))
        self._written.append(_Timing(batch.pts, batch.times_s, batch.index, batch.durations, cuts))
        self.frames += len(batch.index)

    def _open(self, key: int, low_res_hw: tuple[int, int]) -> _Layer:
        """A layer's writers and statistics, caught up with the frames already written (transparent, absent)."""
        stem = self.clip_id if key == 0 else f"{self.clip_id}.dancer{key}"
        writers: list[MatteWriter] = []
        layer = _Layer(writers, FrameStatistics(self.clip_id), [])
        self._layers[key] = layer  # so that abort() reaches writers opened before a failure
        for fmt in self.formats:
            writers.append(open_writer(fmt, self.info, self.out_dir, stem, self.writer))
        for timing in self._written:
            n = len(timing.index)
            black = FrameBatch(black_pictures(n, self.info.width, self.info.height, self.info.rotation),
                               self.info.rotation, timing.pts, timing.times_s, timing.index, timing.durations)
            for writer in writers:
                writer.write(black, np.zeros(black.shape, np.uint8))
            empty = np.zeros((n, *low_res_hw), np.float32)
            layer.tables.append(layer.stats.update(empty, timing.times_s, timing.index, dancer=key, cuts=timing.cuts))
        return layer

    def close(self) -> list[Path]:
        """Finish every file; their final paths, layer by layer."""
        for layer in self._layers.values():
            for writer in layer.writers:
                writer.close()
        return [path for key in sorted(self._layers) for writer in self._layers[key].writers for path in writer.outputs]

    def abort(self) -> None:
        """Remove every partial output; never raise while cleaning up."""
        for layer in self._layers.values():
            for writer in layer.writers:
                try:
                    writer.abort()
                except OSError:
                    pass

    def frame_table(self) -> pd.DataFrame:
        """Every layer's per-frame rows, by frame then dancer (no rows when no layer ever appeared)."""
        tables = [table for layer in self._layers.values() for table in layer.tables]
        if not tables:
            return FrameStatistics(self.clip_id).update(np.zeros((0, 1, 1), np.float32), np.zeros(0), np.zeros(0))
        return pd.concat(tables, ignore_index=True).sort_values(["frame", "dancer"], ignore_index=True, kind="stable")
