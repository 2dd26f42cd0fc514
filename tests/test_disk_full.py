"""A real full disk: the output folder is a 4 MB tmpfs (mounted in a private mount namespace)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipelines.synthetic import SyntheticClipSpec, make_clip, procedural_person
from pipelines.video_io import probe, read_alpha

DANCEMATTE = Path(sys.executable).with_name("dancematte")
SMALL = SyntheticClipSpec(width=90, height=160, frames=12, fps=12)  # ProRes 4444 ~0.3 MB
LARGE = SyntheticClipSpec(width=360, height=640, frames=48, fps=12)  # ProRes 4444 ~10 MB


def in_private_tmpfs(mount_point: Path, size: str, script: str) -> list[str]:
    """``sh -c script`` with a tmpfs of ``size`` over ``mount_point``, visible to that shell only."""
    mount = f'mount -t tmpfs -o size={size} tmpfs "{mount_point}" || exit 97'
    return ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", f"{mount}; {script}"]


def tmpfs_available(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    (tmp_path / "probe").mkdir()
    return subprocess.run(in_private_tmpfs(tmp_path / "probe", "1m", "true"), capture_output=True).returncode == 0


def test_full_disk_fails_the_clip_removes_the_partial_and_keeps_earlier_outputs(tmp_path):
    if not tmpfs_available(tmp_path):
        pytest.skip("this machine cannot mount a tmpfs in a private namespace (unshare --user --mount)")
    inbox, out, snapshot = tmp_path / "inbox", tmp_path / "out", tmp_path / "snapshot"
    for folder in (inbox, out, snapshot):
        folder.mkdir()
    make_clip(inbox / "a small.mp4", [procedural_person()], SMALL)
    make_clip(inbox / "b large.mp4", [procedural_person(seed=1)], LARGE)
    process = f'"{DANCEMATTE}" process "{inbox}" --out "{out}" --device cpu --quiet'
    script = f'{process} > "{snapshot}/log.txt" 2>&1; echo $? > "{snapshot}/rc"; cp -a "{out}/." "{snapshot}/out/"'
    (snapshot / "out").mkdir()
    result = subprocess.run(in_private_tmpfs(out, "4m", script), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr

    log = (snapshot / "log.txt").read_text()
    assert (snapshot / "rc").read_text().strip() == "1" and "Traceback" not in log
    kept = snapshot / "out"
    entries = {e["clip"]: e for e in json.loads((kept / "manifest.json").read_text())}
    assert entries["b large"]["status"] == "failed"
    assert entries["b large"]["error"] == "b large.mp4: cannot write b large.mov: no space left on device"
    assert [p.name for p in (kept / "mattes").iterdir()] == ["a small.mov"]  # no partial file left behind
    assert entries["a small"]["status"] == "ok"
    assert probe(kept / "mattes" / "a small.mov").frames == SMALL.frames
    assert len(read_alpha(kept / "mattes" / "a small.mov")) == SMALL.frames
    assert len(pd.read_parquet(kept / "stats")) == SMALL.frames
