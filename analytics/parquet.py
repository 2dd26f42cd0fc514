"""Writing the statistics tables atomically: one hive partition per clip, and the merged clips table."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analytics.atomic import write_with
from analytics.schema import CLIP_COLUMNS, FRAME_FILE_SCHEMA, PARTITION_COLUMN, arrow_schema

_ESCAPED_IN_PARTITION = set('%/\\=:*?"<>|')


def partition_dir(stats_dir: Path, clip: str) -> Path:
    """``stats_dir/clip=<clip>``; ``%``, path separators, ``=`` and characters unsafe on common filesystems
    are %-escaped, which pyarrow and duckdb decode (spaces and non-ASCII letters stay as they are)."""
    if not clip:
        raise ValueError("clip id must not be empty")
    value = "".join(quote(c, safe="") if c in _ESCAPED_IN_PARTITION or not c.isprintable() else c for c in clip)
    return Path(stats_dir) / f"{PARTITION_COLUMN}={value}"


def write_frame_table(df: pd.DataFrame, stats_dir: Path, clip: str) -> Path:
    """Write one clip's per-frame table to ``partition_dir(stats_dir, clip)/part-0.parquet``, replacing it."""
    if PARTITION_COLUMN in df and not (df[PARTITION_COLUMN] == clip).all():
        raise ValueError(f"frame table holds rows of clips other than {clip!r}")
    table = pa.Table.from_pandas(df[FRAME_FILE_SCHEMA.names], schema=FRAME_FILE_SCHEMA, preserve_index=False)
    path = partition_dir(stats_dir, clip) / "part-0.parquet"
    write_with(path, partial(pq.write_table, table.replace_schema_metadata(FRAME_FILE_SCHEMA.metadata)))
    return path


def write_clip_table(rows: list[dict], path: Path) -> Path:
    """Add ``rows`` (one dict per clip, extra keys kept as columns) to the clips table at ``path``,
    replacing rows with the same ``clip``; documented columns get their documented types."""
    new = pd.DataFrame(rows)
    if PARTITION_COLUMN not in new or new[PARTITION_COLUMN].isna().any():
        raise ValueError("every clip row needs a 'clip' id")
    merged = new.drop_duplicates(PARTITION_COLUMN, keep="last")
    path = Path(path)
    if path.exists():
        earlier = pd.read_parquet(path)
        kept = earlier[~earlier[PARTITION_COLUMN].isin(merged[PARTITION_COLUMN])]
        if len(kept):
            merged = pd.concat([kept, merged], ignore_index=True)
    documented = [c for c in CLIP_COLUMNS if c.name in merged]
    extra = [name for name in merged.columns if name not in {c.name for c in documented}]
    table = pa.Table.from_pandas(merged[[c.name for c in documented] + extra], preserve_index=False)
    schema = arrow_schema(tuple(documented))
    for field in schema:
        table = table.set_column(table.schema.get_field_index(field.name), field, table[field.name].cast(field.type))
    write_with(path, partial(pq.write_table, table.replace_schema_metadata(schema.metadata)))
    return path
