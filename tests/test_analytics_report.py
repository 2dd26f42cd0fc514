"""The HTML curation report and the engagement CSV it joins."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest

from analytics import FrameStatistics, load_clips, summarise, write_clip_table, write_frame_table
from analytics.beats import ClipBeats
from analytics.engagement import load_engagement, rank_correlations
from analytics.report import ReportError, report_main, write_report
from pipelines.shots import Transition
from pipelines.synthetic import SyntheticClipSpec, make_clip, procedural_person

SPEC = SyntheticClipSpec(width=64, height=112, frames=12, fps=12)


def write_matte_mov(path: Path, source: Path, mattes: np.ndarray) -> None:
    """A ProRes 4444 .mov like the pipeline's: the source pictures as colour, the matte as alpha."""
    with av.open(str(source)) as container:
        pictures = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("prores_aw", rate=SPEC.fps)
        stream.width, stream.height, stream.pix_fmt = SPEC.width, SPEC.height, "yuva444p10le"
        for rgb, matte in zip(pictures, mattes):
            rgba = np.dstack([rgb, (matte * 255).astype(np.uint8)])
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgba, format="rgba")))
        container.mux(stream.encode())


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory) -> Path:
    """An output folder of four clips (delta is a byte copy of alpha); only alpha has a matte .mov."""
    root = tmp_path_factory.mktemp("report")
    sources, rows = root / "sources", []
    sources.mkdir()
    (root / "mattes").mkdir()
    people = {"alpha": [0], "bravo": [1], "charlie": [2, 3]}
    for seed, (clip, person_seeds) in enumerate(people.items()):
        path = sources / f"{clip}.mp4"
        spec = replace(SPEC, seed=seed)
        mattes = make_clip(path, [procedural_person(96, 48, s) for s in person_seeds], spec)
        if clip == "alpha":
            write_matte_mov(root / "mattes" / "alpha.mov", path, mattes)
            shutil.copy(path, sources / "delta.mp4")
        for copy in ("alpha", "delta") if clip == "alpha" else (clip,):
            frames = FrameStatistics(copy).update(mattes, np.arange(SPEC.frames) / SPEC.fps, np.arange(SPEC.frames))
            write_frame_table(frames, root / "stats", copy)
            rows.append({
                "clip": copy, "source": str(sources / f"{copy}.mp4"), "frames": SPEC.frames, "fps": float(SPEC.fps),
                "width": SPEC.width, "height": SPEC.height, "duration_s": SPEC.frames / SPEC.fps,
                "processing_s": 0.1, "model": "ground-truth", **summarise(frames),
            })
    write_clip_table(rows, root / "clips.parquet")
    return root


@pytest.fixture(scope="module")
def plain_report(out_dir) -> str:
    return write_report(out_dir).read_text(encoding="utf-8")


def test_report_is_self_contained_and_ranks_every_clip(out_dir, plain_report):
    assert (out_dir / "report.html").is_file() and not list(out_dir.glob(".*.partial-*"))
    assert "4 clips" in plain_report
    assert not re.search(r"https?://", plain_report)
    assert plain_report.count("data:image/jpeg;base64,") == 4  # a thumbnail strip per clip
    assert plain_report.count("data:image/png;base64,") == 4  # a time-series plot per clip
    ranked = load_clips(out_dir).sort_values("movement_intensity", ascending=False)["clip"].tolist()
    links = re.findall(r"<a href='#clip-\d+'>(\w+)</a>", plain_report)
    assert links == ranked
    assert plain_report.count("no matte .mov") == 3  # alpha's thumbnails come from its matte


def test_report_flags_the_byte_copy_as_a_near_duplicate(plain_report):
    assert "Near-duplicate pairs: 1" in plain_report
    assert re.search(r"(alpha|delta) \(0 bits\)", plain_report)


def test_report_with_engagement_states_n_warns_and_lists_unmatched_rows(out_dir, tmp_path):
    csv = tmp_path / "engagement.csv"
    csv.write_text(
        "Filename,views,likes,handle\n"
        "/phone/ALPHA.mp4,\"1,200\",30,@a\n"
        "bravo.mp4,800,25,@b\n"
        "charlie,1500,,@c\n"
        "missing.mp4,10,1,@d\n"
        "bravo,900,20,@b\n",
        encoding="utf-8",
    )
    report = write_report(out_dir, csv, tmp_path / "out" / "r.html").read_text(encoding="utf-8")
    assert "n = 3</strong> of 4 clips" in report
    assert "Warning: only 3 clips" in report
    assert "Spearman" in report and "views" in report and "likes" in report and "@a" not in report
    assert "line 5: &#x27;missing.mp4&#x27;" in report and "already given on line 3" in report
    assert report.count("data:image/png;base64,") == 4 + 2  # time series + one scatter grid per metric
    assert not re.search(r"https?://", report)


def test_engagement_join_and_correlations(out_dir, tmp_path):
    csv = tmp_path / "engagement.csv"
    csv.write_text("clip,views\nalpha,3\nbravo,2\ncharlie,1\ndelta,4\n", encoding="utf-8")
    clips = load_clips(out_dir)
    engagement = load_engagement(csv, clips)
    assert engagement.metrics["views"].to_dict() == {"alpha": 3, "bravo": 2, "charlie": 1, "delta": 4}
    features = pd.DataFrame({"movement_intensity": [1.0, 2.0, 3.0, 4.0]}, index=["charlie", "bravo", "alpha", "delta"])
    (correlation,) = rank_correlations(features, engagement.metrics)
    assert (correlation.feature, correlation.metric, correlation.n) == ("movement_intensity", "views", 4)
    assert correlation.rho == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("name,views\nalpha,3\n", "no clip, file or filename column"),
        ("clip,handle\nalpha,@a\n", "no numeric column"),
    ],
)
def test_bad_engagement_csv_is_a_one_line_report_error(out_dir, tmp_path, content, message):
    csv = tmp_path / "engagement.csv"
    if content is not None:
        csv.write_text(content, encoding="utf-8")
    with pytest.raises(ReportError, match=message) as error:
        write_report(out_dir, csv, tmp_path / "r.html")
    assert "\n" not in str(error.value) and not (tmp_path / "r.html").exists()


def test_report_main_prints_the_path_or_a_one_line_error(tmp_path, capsys):
    assert report_main(tmp_path, None, None) == 2
    assert capsys.readouterr().err.startswith("dancematte: error: ")
    no_frames = FrameStatistics("gone").update(np.zeros((0, 8, 8), np.float32), np.zeros(0), np.zeros(0, np.int64))
    row = {"clip": "gone", "source": str(tmp_path / "gone.mp4"), "frames": 0, "fps": 30.0, "width": 1080,
           "height": 1920, "duration_s": 0.0, "processing_s": 0.0, "model": "m", **summarise(no_frames)}
    write_clip_table([row], tmp_path / "clips.parquet")  # a clip whose source and statistics are missing
    assert report_main(tmp_path, None, None) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "report.html")
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "1 clips" in report and "gone.mp4 not found" in report and "no per-frame statistics" in report


def test_report_shows_tempo_beats_and_shot_changes_from_the_clips_table(tmp_path):
    frames = FrameStatistics("edited").update(np.zeros((0, 8, 8), np.float32), np.zeros(0), np.zeros(0, np.int64))
    row = {"clip": "edited", "source": "", "frames": 0, "fps": 24.0, "width": 1080, "height": 1920,
           "duration_s": 0.0, "processing_s": 0.0, "model": "m",
           **summarise(frames, 0, (Transition(21, "cut"), Transition(197, "dissolve")), ClipBeats(120.2, 20, 0.75))}
    write_clip_table([row], tmp_path / "clips.parquet")
    assert load_clips(tmp_path).loc[0, ["transitions", "tempo_bpm", "beats", "beat_alignment"]].tolist() == [
        "21:cut,197:dissolve", 120.2, 20, 0.75]
    report = write_report(tmp_path).read_text(encoding="utf-8")
    assert "120.2 BPM, 20 beats, beat alignment 0.75" in report
    assert "frame 21 (cut), frame 197 (dissolve)" in report


def test_report_measures_the_beats_of_a_clips_table_from_before_schema_4(out_dir, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(out_dir, old)
    clips = pd.read_parquet(old / "clips.parquet").drop(columns=["transitions", "tempo_bpm", "beats", "beat_alignment"])
    clips.to_parquet(old / "clips.parquet")
    report = write_report(old).read_text(encoding="utf-8")
    assert "shot changes: not recorded" in report
    assert "no beats (no audio, or no clear pulse)" in report  # the synthetic clips' sine tone has no pulse


def test_report_flags_a_clip_whose_main_dancer_the_detector_rarely_confirmed(tmp_path):
    frames = FrameStatistics("x").update(np.zeros((0, 8, 8), np.float32), np.zeros(0), np.zeros(0, np.int64))
    base = {"source": "", "frames": 0, "fps": 24.0, "width": 1080, "height": 1920, "duration_s": 0.0,
            "processing_s": 0.0, "model": "m"}
    rows = [{"clip": clip, **base, **summarise(frames, person_confirmed=share)}
            for clip, share in (("statue", 0.2), ("dancer", 0.9), ("everyone", np.nan))]
    rows.append({**rows[1], "clip": "empty", "presence_ratio": 0.0})  # nobody in any frame
    write_clip_table(rows, tmp_path / "clips.parquet")
    assert load_clips(tmp_path).set_index("clip")["person_confirmed"].tolist()[:2] == [0.2, 0.9]
    report = write_report(tmp_path).read_text(encoding="utf-8")
    assert report.count("Check the matte") == 2 and "a person was found on the main dancer in 20% of the frames" in report
    assert "nobody was found in any frame: the matte is empty" in report
    assert report.count("check the matte</span>") == 2  # marked in the ranking too
    clips = pd.read_parquet(tmp_path / "clips.parquet").drop(columns=["person_confirmed"])  # a table from before schema 5
    clips.to_parquet(tmp_path / "clips.parquet")
    assert write_report(tmp_path).read_text(encoding="utf-8").count("Check the matte") == 1  # only the empty one
