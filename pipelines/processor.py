"""The streaming clip processor: decode -> segment -> encode + statistics.

Like Robust Video Matting's ``inference.py``: a reader, a model and writers, nothing
else in the loop. Each stage is a small callable; ``run_pipeline`` joins them with
bounded queues so a 10-minute 4K clip uses the same memory as a 10-second one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from analytics import FrameStatistics
from pipelines.stages import run_pipeline
from pipelines.video_io import ClipInfo, ClipReader, FrameBatch
from pipelines.writers import MatteWriter, WriterSettings, open_writer
from seg.refine import MatteRefiner
from seg.segmenter import Segmenter


@dataclass(frozen=True)
class ProcessSettings:
    """What to make of each clip."""

    formats: tuple[str, ...] = ("prores",)
    batch_size: int = 8
    queue_depth: int = 3
    writer: WriterSettings = field(default_factory=WriterSettings)


@dataclass(frozen=True)
class SegmentedBatch:
    frames: FrameBatch
    low_res: np.ndarray  # (N, h, w) float32 person probability at network resolution
    alpha: np.ndarray  # (N, H, W) uint8 matte at display resolution


@dataclass(frozen=True)
class ClipOutcome:
    info: ClipInfo
    frames: int
    seconds: float
    outputs: list[Path]
    stats: pd.DataFrame


class ClipProcessor:
    """Processes one clip at a time with a shared, already-loaded segmenter."""

    def __init__(self, segmenter: Segmenter, settings: ProcessSettings = ProcessSettings()) -> None:
        self.segmenter = segmenter
        self.settings = settings
        self.refiner = MatteRefiner()

    def process(self, path: Path, out_dir: Path, clip_id: str, show_progress: bool = True) -> ClipOutcome:
        """Write every requested output for ``path`` and return its per-frame statistics."""
        started = time.monotonic()
        with ClipReader(path, batch_size=self.settings.batch_size) as reader:
            info = reader.info
            writers: list[MatteWriter] = []
            stats = FrameStatistics(clip_id)
            tables: list[pd.DataFrame] = []
            bar = tqdm(total=info.frames, desc=clip_id[:30], unit="frame", leave=False, disable=not show_progress)
            smoother = self.refiner.temporal()

            def segment(batch: FrameBatch) -> tuple[FrameBatch, np.ndarray]:
                return batch, self.segmenter.probabilities(self.segmenter.resize_for_network(batch.rgb))

            def refine(item: tuple[FrameBatch, np.ndarray]) -> SegmentedBatch:
                batch, probs = item
                low_res = self.refiner.clean(smoother(probs))
                return SegmentedBatch(batch, low_res, self.refiner.upsample(low_res, batch.rgb))

            def write(item: SegmentedBatch) -> None:
                for writer in writers:
                    writer.write(item.frames, item.alpha)
                tables.append(stats.update(item.low_res, item.frames.times_s, item.frames.index))
                bar.update(len(item.frames.index))

            try:
                for fmt in self.settings.formats:
                    writers.append(open_writer(fmt, info, out_dir, clip_id, self.settings.writer))
                run_pipeline(reader, [segment, refine, write], depth=self.settings.queue_depth)
                for writer in writers:
                    writer.close()
            except BaseException:
                abort_all(writers)
                raise
            finally:
                bar.close()
        frame_table = pd.concat(tables, ignore_index=True)
        outputs = [p for w in writers for p in w.outputs]
        return ClipOutcome(info, len(frame_table), time.monotonic() - started, outputs, frame_table)


def abort_all(writers: list[MatteWriter]) -> None:
    """Remove every partial output; never raise while cleaning up."""
    for writer in writers:
        try:
            writer.abort()
        except OSError:
            pass
