"""`kill -9` at any point of a real run: no partial file under a final name, and a rerun finishes the job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from pipelines.synthetic import SyntheticClipSpec, make_clip, procedural_person
from pipelines.video_io import probe, read_alpha

DANCEMATTE = Path(sys.executable).with_name("dancematte")
SPEC = SyntheticClipSpec(width=180, height=320, frames=36, fps=12)
CLIPS = ("clip0", "clip1", "clip2")


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("inbox")
    for seed, name in enumerate(CLIPS):
        make_clip(folder / f"{name}.mp4", [procedural_person(seed=seed)], SPEC)
    return folder


def partials(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if ".partial-" in p.name]


def mid_first_clip(out: Path) -> bool:
    return bool(partials(out / "mattes")) if (out / "mattes").is_dir() else False


def mid_second_clip(out: Path) -> bool:
    return (out / "state" / "clip0.json").is_file() and any(p.name.startswith(".clip1.") for p in partials(out / "mattes"))


def command(inbox: Path, out: Path) -> list[str]:
    return [str(DANCEMATTE), "process", str(inbox), "--out", str(out), "--format", "prores,png", "--device", "cpu", "--quiet"]


def final_names(out: Path, pattern: str) -> list[Path]:
    return sorted(p for p in (out / "mattes").glob(pattern) if not p.name.startswith("."))


def assert_final_names_hold_complete_outputs(out: Path) -> None:
    for mov in final_names(out, "*.mov"):
        assert probe(mov).frames == SPEC.frames and len(read_alpha(mov)) == SPEC.frames
    for folder in final_names(out, "*_png"):
        assert len(list(folder.glob("*.png"))) == SPEC.frames


@pytest.mark.parametrize("kill_when", [mid_first_clip, mid_second_clip], ids=lambda f: f.__name__)
def test_kill_9_then_rerun_finishes_the_job(inbox, tmp_path, kill_when: Callable[[Path], bool]):
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.Popen(command(inbox, out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not kill_when(out):
        assert run.poll() is None, "the run ended before the kill point"
        assert time.monotonic() < deadline, "kill point never reached"
        time.sleep(0.02)
    run.send_signal(signal.SIGKILL)
    run.wait()

    assert partials(out), "killed outside a write: the test proves nothing"
    assert_final_names_hold_complete_outputs(out)
    finished_before = {p.stem for p in (out / "state").glob("*.json")} if (out / "state").is_dir() else set()

    rerun = subprocess.run(command(inbox, out), env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    statuses = {Path(e["input"]).stem: e["status"] for e in json.loads((out / "manifest.json").read_text())}
    assert statuses == {name: "skipped" if name in finished_before else "ok" for name in CLIPS}
    assert partials(out) == [] and not list((out / "claims").glob("*.lock"))
    assert_final_names_hold_complete_outputs(out)
    assert [p.stem for p in final_names(out, "*.mov")] == list(CLIPS)
    stats = pd.read_parquet(out / "stats")
    assert stats.groupby("clip").size().to_dict() == {name: SPEC.frames for name in CLIPS}
