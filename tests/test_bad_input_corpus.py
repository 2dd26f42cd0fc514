"""One run over an inbox of everything a shared inbox receives: each clip either comes out
right or fails with one line naming it, and the others still succeed."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import shutil
from pathlib import Path

import pytest

from broken_files import garble_bytes, truncate_copy, write_audio_only, write_jpeg_as_video, write_text_as_video
from pipelines.cli import main
from pipelines.synthetic import SyntheticClipSpec, make_clip, procedural_person
from pipelines.video_io import probe

BASE = SyntheticClipSpec(width=90, height=160, frames=6, fps=12)
ODD_NAME = "it's a \"dance\" — ünïcode ✨.mp4"

# relative path -> spec of a clip that must come out right
GOOD = {
    "one frame.mp4": dataclasses.replace(BASE, frames=1),
    "2x2.mp4": dataclasses.replace(BASE, width=2, height=2),
    "odd 853x479.mp4": dataclasses.replace(BASE, width=853, height=479, frames=3, pix_fmt="yuv444p"),
    "ten bit 444.mp4": dataclasses.replace(BASE, pix_fmt="yuv444p10le"),
    "hevc 10 bit.mp4": dataclasses.replace(BASE, codec="libx265", pix_fmt="yuv420p10le"),
    "rotated 90.mp4": dataclasses.replace(BASE, rotation=90),
    "rotated 180.mov": dataclasses.replace(BASE, rotation=180),
    "rotated 270.mp4": dataclasses.replace(BASE, rotation=270),
    "vfr.mp4": dataclasses.replace(BASE, vfr=True, frames=10),
    "4k.mp4": dataclasses.replace(BASE, width=2160, height=3840, frames=2),
    ODD_NAME: BASE,
    "team a/clip.mp4": BASE,
    "team b/clip.mp4": dataclasses.replace(BASE, seed=1),
}
# camcorder, broadcast and professional-camera containers, suffixes in any case
CAMERA = {
    "camcorder/CLIP0001.MTS": BASE,
    "broadcast.ts": BASE,
    "camera A001.mxf": dataclasses.replace(BASE, width=96, fps=25, ticks_per_frame=1, codec="mpeg2video",
                                           pix_fmt="yuv422p", audio=False),
}
# files beside the clips that are not clips: passed over, each with its reason
NOT_CLIPS = {"notes.txt": "not a video file (.txt)", "camcorder/THUMB.JPG": "an image (.jpg), not a video"}
NO_PERSON = "empty room.mp4"
DAMAGED = "garbage in the middle.mp4"

# relative path -> (how to make it from a good clip, the one-line reason after "<name>: ")
BAD = {
    "zero.mp4": (lambda good, p: p.touch(), "zero-byte file"),
    "notes.mp4": (lambda good, p: write_text_as_video(p), "not a video file"),
    "photo.mov": (lambda good, p: write_jpeg_as_video(p), "a still image (mjpeg), not a video"),
    "voice memo.mp4": (lambda good, p: write_audio_only(p), "no video stream"),
    "half uploaded.mp4": (lambda good, p: truncate_copy(good, p, 0.5), "not a video file"),
}


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    inbox = tmp_path_factory.mktemp("inbox")
    for relative, spec in (GOOD | CAMERA).items():
        (inbox / relative).parent.mkdir(parents=True, exist_ok=True)
        make_clip(inbox / relative, [procedural_person(seed=spec.seed)], spec)
    for relative in NOT_CLIPS:
        (inbox / relative).write_bytes(b"not a clip")
    make_clip(inbox / NO_PERSON, [], BASE)
    long_clip = tmp_path_factory.mktemp("sources") / "long.mp4"
    make_clip(long_clip, [procedural_person()], dataclasses.replace(BASE, frames=48, width=180, height=320))
    garble_bytes(long_clip, inbox / DAMAGED, start=0.3, stop=0.45)
    for relative, (make, _) in BAD.items():
        make(long_clip, inbox / relative)
    out = tmp_path_factory.mktemp("out")
    console = io.StringIO()
    with contextlib.redirect_stdout(console):
        code = main(["process", str(inbox), "--out", str(out), "--device", "cpu", "--quiet"])
    entries = {str(Path(e["input"]).relative_to(inbox)): e for e in json.loads((out / "manifest.json").read_text())}
    return inbox, out, code, entries, console.getvalue()


def test_run_reports_every_clip_and_exits_1(corpus_run):
    _, _, code, entries, _ = corpus_run
    assert code == 1
    assert set(entries) == set(GOOD) | set(CAMERA) | set(BAD) | set(NOT_CLIPS) | {NO_PERSON, DAMAGED}


@pytest.mark.parametrize("relative", sorted(CAMERA))
def test_camera_and_broadcast_containers_are_clips(corpus_run, relative):
    _, _, _, entries, _ = corpus_run
    entry = entries[relative]
    assert entry["status"] == "ok", entry["error"]
    matte = probe(Path(entry["outputs"][0]))
    assert (matte.width, matte.height, matte.frames) == (CAMERA[relative].width, CAMERA[relative].height, CAMERA[relative].frames)


def test_files_that_are_not_clips_are_passed_over_with_a_reason_on_the_console_and_in_the_manifest(corpus_run):
    _, _, _, entries, console = corpus_run
    for relative, reason in NOT_CLIPS.items():
        name = Path(relative).name
        assert entries[relative]["status"] == "passed over" and entries[relative]["note"] == f"{name}: {reason}"
        assert f"passed over: {name}: {reason}" in console
    assert f"{len(NOT_CLIPS)} other file(s) passed over" in console


@pytest.mark.parametrize("relative", sorted(BAD))
def test_bad_file_fails_with_one_line_naming_it(corpus_run, relative):
    _, out, _, entries, _ = corpus_run
    entry = entries[relative]
    assert entry["status"] == "failed" and entry["outputs"] == []
    assert entry["error"] == f"{Path(relative).name}: {BAD[relative][1]}"
    assert not [p for p in (out / "mattes").iterdir() if p.name.startswith((Path(relative).stem, "."))]


@pytest.mark.parametrize("relative", sorted(GOOD))
def test_unusual_clip_comes_out_whole_and_upright(corpus_run, relative):
    inbox, _, _, entries, _ = corpus_run
    entry = entries[relative]
    assert entry["status"] == "ok", entry["error"]
    source, matte = probe(inbox / relative), probe(Path(entry["outputs"][0]))
    assert (matte.width, matte.height) == (GOOD[relative].width, GOOD[relative].height)
    assert matte.frames == source.frames == GOOD[relative].frames
    assert matte.rotation == 0 and matte.duration_s == pytest.approx(source.duration_s, abs=1e-3)


def test_same_name_in_two_folders_gives_two_outputs(corpus_run):
    _, _, _, entries, _ = corpus_run
    a, b = entries["team a/clip.mp4"], entries["team b/clip.mp4"]
    assert a["clip"] != b["clip"] and a["outputs"][0] != b["outputs"][0]


def test_clip_without_a_person_succeeds_with_an_empty_matte(corpus_run):
    import pandas as pd

    _, out, _, entries, _ = corpus_run
    assert entries[NO_PERSON]["status"] == "ok"
    stats = pd.read_parquet(out / "stats", filters=[("clip", "==", entries[NO_PERSON]["clip"])])
    assert len(stats) == BASE.frames and stats["body_area_frac"].max() < 0.02


def test_garbage_mid_stream_skips_damaged_frames_and_keeps_the_rest(corpus_run):
    _, _, _, entries, _ = corpus_run
    entry = entries[DAMAGED]
    assert entry["status"] == "ok"
    assert 24 <= entry["frames"] < 48  # the damaged packets are dropped, decoding carries on


def test_no_traceback_and_nothing_half_written(corpus_run):
    _, out, _, _, _ = corpus_run
    leftovers = [p.name for p in out.rglob("*") if ".partial" in p.name or p.name.startswith(".tmp")]
    assert leftovers == []
