"""Reading the statistics tables back as pandas frames."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from analytics.schema import CLIPS_FILENAME, FRAME_SCHEMA, PARTITION_COLUMN, STATS_DIRNAME


def load_frames(out_dir: Path, clips: str | Iterable[str] | None = None) -> pd.DataFrame:
    """Per-frame table of every clip under ``out_dir/stats`` (or only ``clips``), sorted by clip, frame and dancer.

    Dtypes are those of ``analytics.stats.FRAME_COLUMNS``; ``clip`` is a pandas string column (``str``;
    object under pandas 2), never category, and never parsed as a number even for ids like ``"001"``.
    ``FileNotFoundError`` when there is no stats folder.
    """
    partitioning = ds.partitioning(pa.schema([FRAME_SCHEMA.field(PARTITION_COLUMN)]), flavor="hive")
    dataset = ds.dataset(Path(out_dir) / STATS_DIRNAME, FRAME_SCHEMA, format="parquet", partitioning=partitioning)
    if isinstance(clips, str):
        clips = [clips]
    wanted = None if clips is None else ds.field(PARTITION_COLUMN).isin(list(clips))
    frames = dataset.to_table(filter=wanted).to_pandas()
    return frames.sort_values([PARTITION_COLUMN, "frame", "dancer"], ignore_index=True)


def load_clips(out_dir: Path) -> pd.DataFrame:
    """The clips table ``out_dir/clips.parquet``: one row per clip, documented in ``analytics.schema.CLIP_COLUMNS``."""
    return pd.read_parquet(Path(out_dir) / CLIPS_FILENAME)
