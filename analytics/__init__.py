"""Per-frame movement statistics from person mattes, their Parquet tables and per-clip summaries."""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analytics.load import load_clips, load_frames
    from analytics.parquet import write_clip_table, write_frame_table
    from analytics.stats import FrameStatistics, StatsSettings
    from analytics.summary import summarise

_HOMES = {
    "load_clips": "analytics.load", "load_frames": "analytics.load",
    "write_clip_table": "analytics.parquet", "write_frame_table": "analytics.parquet",
    "FrameStatistics": "analytics.stats", "StatsSettings": "analytics.stats", "summarise": "analytics.summary",
}


def __getattr__(name: str) -> Any:
    """Import on first use, so ``analytics.atomic`` (claims, the command line's start-up) needs no pandas."""
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'analytics' has no attribute {name!r}")

__all__ = [
    "FrameStatistics",
    "StatsSettings",
    "load_clips",
    "load_frames",
    "summarise",
    "write_clip_table",
    "write_frame_table",
]
