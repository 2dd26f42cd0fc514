"""Per-frame movement statistics from person mattes, their Parquet tables and per-clip summaries."""

from analytics.load import load_clips, load_frames
from analytics.parquet import write_clip_table, write_frame_table
from analytics.stats import FrameStatistics, StatsSettings
from analytics.summary import summarise

__all__ = [
    "FrameStatistics",
    "StatsSettings",
    "load_clips",
    "load_frames",
    "summarise",
    "write_clip_table",
    "write_frame_table",
]
