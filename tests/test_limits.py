"""Per-clip limits: duration, picture size and processing time fail the clip with one line, not the run."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from pipelines import processor
from pipelines.cli import main
from pipelines.stages import StageTimeoutError, run_pipeline


def manifest(out: Path) -> dict[str, dict]:
    return {Path(e["input"]).name: e for e in json.loads((out / "manifest.json").read_text())}


@pytest.mark.parametrize(
    "flags, reason",
    [
        (["--max-duration", "1"], "2 s is longer than the limit of 1 s (--max-duration)"),
        (["--max-size", "200"], "180x320 is larger than the limit of 200 px (--max-size)"),
    ],
)
def test_clip_over_a_limit_fails_with_one_line(tmp_path, dance_clip, flags, reason, capsys):
    clip, _ = dance_clip
    out = tmp_path / "out"
    assert main(["process", str(clip), "--out", str(out), "--quiet", "--device", "cpu", *flags]) == 1
    entry = manifest(out)[clip.name]
    assert entry["status"] == "failed" and entry["error"] == f"{clip.name}: {reason}"
    assert not any((out / "mattes").glob("*"))  # nothing, not even a hidden partial file


def test_stuck_stage_times_out_instead_of_hanging():
    release = threading.Event()

    def stuck_source():
        yield 1
        release.wait(30)  # a decoder that never returns

    started = time.monotonic()
    with pytest.raises(StageTimeoutError):
        run_pipeline(stuck_source(), [lambda x: x, lambda x: None], timeout_s=0.5)
    release.set()
    assert time.monotonic() - started < 5


def test_timeout_fails_only_that_clip(tmp_path, dance_clip, monkeypatch):
    clip, _ = dance_clip
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(clip, inbox / "slow.mp4")
    real = processor.run_pipeline

    def slow_pipeline(source, stages, depth, timeout_s):
        def crawl(item):
            time.sleep(0.4)
            return item
        return real(source, [crawl, *stages], depth, timeout_s)

    monkeypatch.setattr(processor, "run_pipeline", slow_pipeline)
    out = tmp_path / "out"
    assert main(["process", str(inbox), "--out", str(out), "--quiet", "--device", "cpu", "--timeout", "1"]) == 1
    entry = manifest(out)["slow.mp4"]
    assert entry["error"] == "slow.mp4: not finished within the limit of 1 s (--timeout)"
    assert not any((out / "mattes").glob("*"))
