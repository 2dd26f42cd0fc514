"""Claims: two runs on the same inbox and output never process a clip twice; stale claims are recovered."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest

from pipelines.claims import ClaimHeldError, ClaimOwner, Claims
from pipelines.discovery import ClipInput
from pipelines.run import Run, RunSettings
from pipelines.video_io import read_alpha
from seg.segmenter import SegmenterSettings
from conftest import TINY_CLIP_FRAMES, make_tiny_clips

DANCEMATTE = Path(sys.executable).with_name("dancematte")


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> Path:
    """Three tiny clips (90x160, 12 frames)."""
    folder = tmp_path_factory.mktemp("inbox")
    return make_tiny_clips(folder, 3)


def write_claim(claims: Claims, clip_id: str, owner: ClaimOwner) -> None:
    claims.folder.mkdir(parents=True, exist_ok=True)
    claims.path(clip_id).write_text(json.dumps(asdict(owner)))


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_two_processes_at_once_process_each_clip_exactly_once(inbox, tmp_path):
    out = tmp_path / "out"
    no_prefect = tmp_path / "no-prefect" / "prefect"  # `dancematte process` must not import Prefect
    no_prefect.mkdir(parents=True)
    (no_prefect / "__init__.py").write_text("raise ImportError('dancematte process imported prefect')\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(no_prefect.parent)}
    command = [str(DANCEMATTE), "process", str(inbox), "--out", str(out), "--device", "cpu", "--quiet"]
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    counts = [tuple(map(int, re.search(r"(\d+) processed, (\d+) skipped, (\d+) failed", o).groups())) for o in outputs]
    assert sum(c[0] for c in counts) == 3 and all(c[2] == 0 for c in counts), outputs  # processed once in total
    assert not list((out / "claims").glob("*.lock"))
    for seed in range(3):
        record = json.loads((out / "state" / f"clip{seed}.json").read_text())["report"]
        assert record["status"] == "ok"
        assert read_alpha(out / "mattes" / f"clip{seed}.mov").shape[0] == TINY_CLIP_FRAMES
    clips = pd.read_parquet(out / "clips.parquet")
    assert sorted(clips["clip"]) == ["clip0", "clip1", "clip2"]  # no lost update of the shared table
    assert len(pd.read_parquet(out / "stats")) == 3 * TINY_CLIP_FRAMES


def test_claim_is_exclusive_and_released(tmp_path):
    claims = Claims(tmp_path)
    with claims.hold("a") as owner:
        assert claims.owner(claims.path("a")) == owner
        with pytest.raises(ClaimHeldError, match=rf"claimed by another run \({socket.gethostname()} pid {os.getpid()} since"):
            claims.acquire("a")
    assert not claims.path("a").exists()


def test_stale_claims_are_recovered(tmp_path):
    claims = Claims(tmp_path, stale_after_s=60)
    write_claim(claims, "dead", ClaimOwner(dead_pid(), socket.gethostname(), time.time(), "t1"))
    write_claim(claims, "old", ClaimOwner(1, "other-host", time.time() - 120, "t2"))
    write_claim(claims, "fresh", ClaimOwner(1, "other-host", time.time(), "t3"))
    assert claims.acquire("dead").pid == os.getpid()
    assert claims.acquire("old").pid == os.getpid()
    with pytest.raises(ClaimHeldError, match=r"other-host pid 1 since"):
        claims.acquire("fresh")


def test_claim_taken_over_is_not_released_by_its_old_owner(tmp_path):
    claims = Claims(tmp_path, stale_after_s=60)
    old = ClaimOwner(1, "other-host", time.time() - 120, "old")
    write_claim(claims, "a", old)
    mine = claims.acquire("a")
    claims.release("a", old)
    assert claims.owner(claims.path("a")) == mine


def test_run_skips_a_clip_claimed_by_a_live_run_and_takes_over_a_dead_one(inbox, tmp_path):
    run = Run(RunSettings(out=tmp_path / "out", segmenter=SegmenterSettings(device="cpu"), show_progress=False))
    clip = ClipInput(inbox / "clip0.mp4", "clip0")
    write_claim(run.claims, "clip0", ClaimOwner(os.getppid(), socket.gethostname(), time.time(), "live"))
    report = run.process_clip(clip)
    assert report.status == "skipped" and report.outputs == []
    assert report.note.startswith(f"claimed by another run ({socket.gethostname()} pid {os.getppid()} since")
    write_claim(run.claims, "clip0", ClaimOwner(dead_pid(), socket.gethostname(), time.time(), "dead"))
    assert run.process_clip(clip).status == "ok"
    assert not run.claims.path("clip0").exists()
