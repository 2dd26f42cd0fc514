"""Writing and reading the per-frame partitions and the clips table."""

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import analytics.parquet
from analytics import FrameStatistics, load_clips, load_frames, summarise, write_clip_table, write_frame_table
from analytics.schema import SCHEMA_VERSION, SCHEMA_VERSION_KEY
from analytics.stats import FRAME_COLUMNS

CLIPS = ["Pas de deux é", "001", "a/b%c=d+e"]


def frame_table(clip: str, n: int = 5, offset: int = 0) -> pd.DataFrame:
    mattes = np.zeros((n, 36, 64), np.float32)
    for i, matte in enumerate(mattes):
        matte[10:26, offset + 3 * i : offset + 3 * i + 8] = 1.0
    mattes[2] = 0.0
    return FrameStatistics(clip).update(mattes, np.arange(n) / 30.0, np.arange(n))


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    for offset, clip in enumerate(CLIPS):
        write_frame_table(frame_table(clip, offset=offset), tmp_path / "stats", clip)
    return tmp_path


def test_load_frames_round_trips_values_and_dtypes(out_dir):
    frames = load_frames(out_dir)
    assert list(frames.columns) == [c.name for c in FRAME_COLUMNS]
    assert frames["clip"].dtype == pd.Series(["x"], dtype="str").dtype
    for column in FRAME_COLUMNS[1:]:
        assert frames[column.name].dtype == np.dtype(column.dtype), column.name
    for offset, clip in enumerate(CLIPS):
        written = frame_table(clip, offset=offset)
        pd.testing.assert_frame_equal(frames[frames["clip"] == clip].reset_index(drop=True), written)


def test_load_frames_filters_clips_and_keeps_numeric_ids_as_text(out_dir):
    frames = load_frames(out_dir, clips=["001", "no such clip"])
    assert frames["clip"].tolist() == ["001"] * 5
    assert load_frames(out_dir, clips="Pas de deux é")["clip"].unique().tolist() == ["Pas de deux é"]


def test_pandas_reads_the_partitioned_folder_with_one_clip_column(out_dir):
    frames = pd.read_parquet(out_dir / "stats")
    assert list(frames.columns).count("clip") == 1
    assert sorted(frames["clip"].astype(str).unique()) == sorted(CLIPS)
    for clip in CLIPS:
        only = pd.read_parquet(out_dir / "stats", filters=[("clip", "==", clip)])
        assert len(only) == 5 and (only["clip"].astype(str) == clip).all()


def test_duckdb_reads_the_hive_partitions(out_dir):
    rows = duckdb.sql(
        f"""select clip, count(*), count(centroid_speed), max(n_regions)
            from read_parquet('{out_dir}/stats/**/*.parquet', hive_partitioning=true)
            group by clip order by clip"""
    ).fetchall()
    assert rows == sorted((clip, 5, 2, 1) for clip in CLIPS)


def test_files_carry_the_schema_version_and_column_docs(out_dir):
    (path,) = (out_dir / "stats").glob("clip=Pas de deux é/*.parquet")
    schema = pq.read_schema(path)
    assert schema.metadata[SCHEMA_VERSION_KEY.encode()] == SCHEMA_VERSION.encode() == b"5"
    assert b"body heights per second" in schema.field("centroid_speed").metadata[b"doc"]
    assert "clip" not in schema.names


def test_rewrite_replaces_the_partition_and_leaves_no_temp_file(out_dir):
    write_frame_table(frame_table("001", n=3), out_dir / "stats", "001")
    assert len(load_frames(out_dir, ["001"])) == 3
    assert sorted(p.name for p in (out_dir / "stats").rglob("*")) == sorted(
        ["part-0.parquet"] * 3 + [p.name for p in (out_dir / "stats").iterdir()]
    )


def test_failed_write_keeps_the_old_file_and_removes_the_temp(out_dir, monkeypatch):
    def write_half_then_fail(table, file):
        file.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(analytics.parquet.pq, "write_table", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write_frame_table(frame_table("001", n=3), out_dir / "stats", "001")
    monkeypatch.undo()
    assert len(load_frames(out_dir, ["001"])) == 5
    assert not [p for p in out_dir.rglob("*") if ".partial-" in p.name]


def test_frame_table_of_another_clip_is_refused(tmp_path):
    with pytest.raises(ValueError, match="other than"):
        write_frame_table(frame_table("a"), tmp_path, "b")
    with pytest.raises(ValueError, match="empty"):
        write_frame_table(frame_table(""), tmp_path, "")


def clip_row(clip: str, processing_s: float, **extra) -> dict:
    run = {"clip": clip, "source": f"/videos/{clip}.mp4", "frames": 5, "fps": 30.0, "width": 1080,
           "height": 1920, "duration_s": 5 / 30, "processing_s": processing_s, "model": "effnet-lite0"}
    return run | summarise(frame_table(clip)) | extra


def test_clips_table_rerun_replaces_the_row_and_keeps_extra_columns(tmp_path):
    path = tmp_path / "clips.parquet"
    write_clip_table([clip_row("a", 1.0), clip_row("b", 2.0, gpu="H100")], path)
    write_clip_table([clip_row("a", 3.0, note="rerun")], path)
    clips = load_clips(tmp_path).set_index("clip")
    assert sorted(clips.index) == ["a", "b"]
    assert clips.loc["a", "processing_s"] == 3.0 and clips.loc["a", "note"] == "rerun"
    assert clips.loc["b", "gpu"] == "H100" and pd.isna(clips.loc["a", "gpu"])
    assert clips["frames"].dtype == np.int64 and clips["n_regions_max"].dtype == np.int64
    assert clips.loc["b", "presence_ratio"] == pytest.approx(0.8)
    assert pq.read_schema(path).metadata[SCHEMA_VERSION_KEY.encode()] == b"5"
    assert not list(tmp_path.glob(".*"))
