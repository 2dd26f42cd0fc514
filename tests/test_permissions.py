"""Unwritable output folders, unreadable clips and clips deleted mid-run: one-line reasons, no traceback.

Permission checks are run in a real process without privileges: as root, inside a fresh user
namespace (``unshare --user``), where root's files are checked by their owner bits like anyone's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import make_tiny_clips

DANCEMATTE = Path(sys.executable).with_name("dancematte")


def unprivileged(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    if shutil.which("unshare") is None or subprocess.run(["unshare", "--user", "true"]).returncode != 0:
        pytest.skip("running as root and cannot drop privileges with unshare --user")
    return ["unshare", "--user", *command]


def process(inputs: list[Path], out: Path) -> list[str]:
    return [str(DANCEMATTE), "process", *map(str, inputs), "--out", str(out), "--device", "cpu", "--quiet"]


def manifest(out: Path) -> dict[str, dict]:
    return {Path(e["input"]).name: e for e in json.loads((out / "manifest.json").read_text())}


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    return make_tiny_clips(tmp_path_factory.mktemp("inbox"), 3)


@pytest.mark.parametrize("out_name", ["out", "out/new"], ids=["existing", "to-create"])
def test_unwritable_output_folder_is_a_one_line_usage_error(clips, tmp_path, out_name):
    locked = tmp_path / "out"
    locked.mkdir()
    locked.chmod(0o555)
    result = subprocess.run(unprivileged(process([clips / "clip0.mp4"], tmp_path / out_name)), capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr == f"dancematte: error: {tmp_path / out_name}: output folder not writable (permission denied)\n"


def test_unreadable_clip_fails_with_one_line_and_the_others_succeed(clips, tmp_path):
    inbox = tmp_path / "inbox"
    shutil.copytree(clips, inbox)
    (inbox / "clip1.mp4").chmod(0o000)
    result = subprocess.run(unprivileged(process([inbox], tmp_path / "out")), capture_output=True, text=True)
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    entries = manifest(tmp_path / "out")
    assert entries["clip1.mp4"]["error"] == "clip1.mp4: permission denied"
    assert entries["clip0.mp4"]["status"] == entries["clip2.mp4"]["status"] == "ok"


def test_clips_deleted_mid_run(clips, tmp_path):
    """The clip being decoded is already open and completes; a clip deleted before its turn fails with one line."""
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    shutil.copytree(clips, inbox)
    run = subprocess.Popen(process([inbox], out), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not any(".clip0.partial-" in p.name for p in out.rglob("*")):
        assert run.poll() is None and time.monotonic() < deadline, "the first clip was never written"
        time.sleep(0.01)
    (inbox / "clip0.mp4").unlink()
    (inbox / "clip1.mp4").unlink()
    output = run.communicate(timeout=120)[0]
    assert run.returncode == 1 and "Traceback" not in output
    entries = manifest(out)
    assert entries["clip0.mp4"]["status"] == "ok"
    assert entries["clip1.mp4"]["error"] == "clip1.mp4: no such file or directory"
    assert entries["clip2.mp4"]["status"] == "ok"
