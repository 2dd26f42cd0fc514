"""On-disk layout and Arrow schemas of the statistics tables, with column docs for the README.

Layout under the output folder::

    stats/clip=<clip id>/part-0.parquet   per-frame table of one clip (hive partition; the file has no clip column)
    clips.parquet                         one row per clip

Both carry ``{SCHEMA_VERSION_KEY: SCHEMA_VERSION}`` in their Parquet key-value metadata.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from analytics.columns import Column
from analytics.stats import FRAME_COLUMNS
from analytics.summary import SUMMARY_COLUMNS

SCHEMA_VERSION = "5"  # 2: per-frame `dancer`, per-clip `dancers_seen`; 3: per-frame `shot`, per-clip `shots`;
# 4: per-clip `transitions`, `tempo_bpm`, `beats`, `beat_alignment`, and `shot` counts dissolves and fades too;
# 5: per-clip `person_confirmed`
SCHEMA_VERSION_KEY = "dancematte_schema_version"
STATS_DIRNAME = "stats"
CLIPS_FILENAME = "clips.parquet"
PARTITION_COLUMN = "clip"

RUN_COLUMNS: tuple[Column, ...] = (
    Column("clip", "str", "Clip id (unique; a re-run replaces the row)."),
    Column("source", "str", "Path or URL of the source video."),
    Column("frames", "int64", "Frames analysed."),
    Column("fps", "float64", "Average frame rate of the source."),
    Column("width", "int64", "Source frame width in pixels."),
    Column("height", "int64", "Source frame height in pixels."),
    Column("duration_s", "float64", "Clip duration in seconds."),
    Column("processing_s", "float64", "Wall-clock seconds spent processing the clip."),
    Column("model", "str", "Matting model that produced the mattes."),
)
CLIP_COLUMNS: tuple[Column, ...] = RUN_COLUMNS + SUMMARY_COLUMNS


def arrow_type(column: Column) -> pa.DataType:
    """The Arrow type of a documented column."""
    return pa.string() if column.dtype == "str" else pa.from_numpy_dtype(np.dtype(column.dtype))


def arrow_schema(columns: tuple[Column, ...]) -> pa.Schema:
    """Arrow schema of ``columns`` with each doc in its field metadata and the schema version attached."""
    fields = [pa.field(c.name, arrow_type(c), metadata={"doc": c.doc}) for c in columns]
    return pa.schema(fields, metadata={SCHEMA_VERSION_KEY: SCHEMA_VERSION})


FRAME_SCHEMA = arrow_schema(FRAME_COLUMNS)
FRAME_FILE_SCHEMA = arrow_schema(tuple(c for c in FRAME_COLUMNS if c.name != PARTITION_COLUMN))


def columns_markdown(columns: tuple[Column, ...]) -> str:
    """A Markdown table (column, type, meaning) for the README."""
    escaped_docs = [c.doc.replace("|", r"\|") for c in columns]
    rows = [f"| `{c.name}` | {c.dtype} | {doc} |" for c, doc in zip(columns, escaped_docs)]
    return "\n".join(["| column | type | meaning |", "|---|---|---|", *rows])
