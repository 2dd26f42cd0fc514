"""``dancematte process --jobs``: clips in worker processes, with the results of one process; a fast start."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import make_tiny_clips
from pipelines.cli import main
from pipelines.discovery import ClipInput
from pipelines.parallel import affordable_jobs, reports_from_pools
from pipelines.run import ClipReport
from pipelines.video_io import read_alpha

DANCEMATTE = Path(sys.executable).with_name("dancematte")
HEAVY_MODULES = ("torch", "segmentation_models_pytorch", "onnxruntime", "prefect", "cv2", "pandas")


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> Path:
    """Two tiny clips and a broken file."""
    folder = make_tiny_clips(tmp_path_factory.mktemp("inbox"), 2)
    (folder / "broken.mp4").write_text("not a video\n")
    return folder


def process(inbox: Path, out: Path, *options: str) -> int:
    return main(["process", str(inbox), "--out", str(out), "--device", "cpu", "--quiet", *options])


def manifest(out: Path) -> list[tuple[str, str, str | None]]:
    return [(e["clip"], e["status"], e["error"]) for e in json.loads((out / "manifest.json").read_text())]


def partials(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if ".partial-" in p.name] if out.is_dir() else []


def test_two_jobs_give_one_process_results_broken_fails_alone_done_is_skipped(inbox, tmp_path, capsys):
    one, two = tmp_path / "one", tmp_path / "two"
    assert process(inbox, one, "--jobs", "1") == 1
    assert process(inbox / "clip1.mp4", two, "--jobs", "1") == 0  # clip1 is done before the parallel run
    capsys.readouterr()

    assert process(inbox, two, "--jobs", "2") == 1
    printed = capsys.readouterr()
    assert "Traceback" not in printed.out + printed.err
    failures = [line for line in (printed.out + printed.err).splitlines() if "broken" in line]
    assert failures == ["failed: broken.mp4: not a video file"]
    assert manifest(two) == [("broken", "failed", "broken.mp4: not a video file"), ("clip0", "ok", None),
                             ("clip1", "skipped", None)]
    assert [(clip, status) for clip, status, _ in manifest(one)] == [("broken", "failed"), ("clip0", "ok"), ("clip1", "ok")]

    for clip in ("clip0", "clip1"):
        assert np.array_equal(read_alpha(two / "mattes" / f"{clip}.mov"), read_alpha(one / "mattes" / f"{clip}.mov"))
        pd.testing.assert_frame_equal(pd.read_parquet(two / "stats" / f"clip={clip}"),
                                      pd.read_parquet(one / "stats" / f"clip={clip}"))
    assert not partials(two)


def die_on_clip1(clip: ClipInput) -> ClipReport:
    """A stand-in for ``Run.process_clip`` whose worker process dies on clip1."""
    if clip.clip_id == "clip1":
        os._exit(9)
    return ClipReport(str(clip.path), clip.clip_id, "ok", None, [])


def test_a_worker_that_dies_fails_its_clip_and_the_others_go_on(tmp_path):
    clips = [ClipInput(tmp_path / f"clip{i}.mp4", f"clip{i}") for i in range(4)]
    failed = lambda clip, exc: ClipReport(str(clip.path), clip.clip_id, "failed", str(exc), [])  # noqa: E731
    reports = dict(reports_from_pools(die_on_clip1, failed, clips, jobs=1))
    assert [(reports[i].clip, reports[i].status) for i in range(4)] == [
        ("clip0", "ok"), ("clip1", "failed"), ("clip2", "ok"), ("clip3", "ok")]
    assert reports[1].error == "clip1.mp4: a worker process ended unexpectedly (killed or out of memory)"


def test_jobs_must_be_positive(inbox, tmp_path, capsys):
    assert process(inbox, tmp_path / "out", "--jobs", "0") == 2
    assert capsys.readouterr().err.strip() == "dancematte: error: --jobs 0: give at least 1"


def test_default_jobs_is_at_least_one_and_at_most_one_per_core():
    assert 1 <= affordable_jobs() <= max(1, len(os.sched_getaffinity(0)))


def test_ctrl_c_leaves_no_partial_files_and_a_rerun_finishes(tmp_path):
    """SIGINT to the whole process group (a terminal's Ctrl-C) while two workers write their clips."""
    (tmp_path / "inbox").mkdir()
    inbox = make_tiny_clips(tmp_path / "inbox", 3)
    out = tmp_path / "out"
    command = [str(DANCEMATTE), "process", str(inbox), "--out", str(out), "--format", "png", "--device", "cpu",
               "--quiet", "--jobs", "2"]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.monotonic() + 240
    while not partials(out):
        assert run.poll() is None, "the run ended before it wrote anything"
        assert time.monotonic() < deadline, "no partial file ever appeared"
        time.sleep(0.02)
    os.killpg(run.pid, signal.SIGINT)
    printed, _ = run.communicate(timeout=120)
    assert run.returncode == 130, printed
    assert "Traceback" not in printed
    assert not partials(out)
    assert not list((out / "claims").glob("*.lock"))

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    statuses = {clip: status for clip, status, _ in manifest(out)}
    assert set(statuses) == {"clip0", "clip1", "clip2"} and set(statuses.values()) <= {"ok", "skipped"}


def test_cli_module_imports_nothing_heavy():
    """``dancematte --help`` and usage errors answer at once: the parser needs no torch, OpenCV or pandas."""
    code = ("import sys, pipelines.cli; pipelines.cli.build_parser(); "
            f"print(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_usage_error_imports_nothing_heavy(tmp_path):
    code = ("import sys\nfrom pipelines.cli import main\n"
            "try:\n    main(['process', '--out', 'o'])\nexcept SystemExit as e:\n    print(e.code)\n"
            f"print(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.stdout.split("\n")[:2] == ["2", "[]"], result.stdout + result.stderr
    assert "the following arguments are required: INPUT" in result.stderr
