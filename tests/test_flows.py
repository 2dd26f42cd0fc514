"""Prefect flows: ``process_folder`` in ephemeral mode, and the flows.yaml deployments on a real local
server with process workers. Prefect runs offline on one private PREFECT_HOME for this module: the server
test runs first and leaves a migrated database, which spares the ephemeral server the migrations."""

from __future__ import annotations

import errno
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import TINY_CLIP_FRAMES, make_tiny_clips
from pipelines.processor import ClipProcessor
from pipelines.run import ClipReport, is_transient
from pipelines.video_io import VideoReadError, read_alpha

REPO = Path(__file__).resolve().parents[1]
PREFECT = Path(sys.executable).with_name("prefect")


@pytest.fixture(scope="module")
def prefect_env(tmp_path_factory) -> dict[str, str]:
    """Offline Prefect settings on a private PREFECT_HOME, for this module only."""
    return {"PREFECT_HOME": str(tmp_path_factory.mktemp("prefect-home")), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1", "PREFECT_CLI_PROMPT": "false", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"}


@pytest.fixture(scope="module")
def good_clips(tmp_path_factory) -> Path:
    """Two tiny clips (90x160, 12 frames)."""
    folder = tmp_path_factory.mktemp("good")
    return make_tiny_clips(folder, 2)


@pytest.fixture()
def inbox(good_clips, tmp_path) -> Path:
    """The two good clips and a broken file."""
    folder = tmp_path / "inbox"
    shutil.copytree(good_clips, folder)
    (folder / "broken.mp4").write_text("not a video\n")
    return folder


def by_clip(reports: list[ClipReport]) -> dict[str, ClipReport]:
    return {r.clip: r for r in reports}


def mtimes(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


# --- a real server (first: it migrates the module's database) ---------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], object], timeout_s: float, what: str, logs: list[Path]) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(1)
    tails = "\n".join(f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-30:]) for log in logs)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}\n{tails}")


def api_call(api: str, path: str, body: dict | None = None) -> object:
    request = urllib.request.Request(f"{api}{path}", data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def healthy(api: str) -> bool:
    try:
        return api_call(api, "/health") is True
    except OSError:
        return False


def final_states(api: str, flow_name: str) -> list[str] | None:
    """The state types of the flow's deployment runs once there is at least one and all have ended, else None."""
    runs = api_call(api, "/flow_runs/filter", {"flows": {"name": {"any_": [flow_name]}},
                                               "flow_runs": {"deployment_id": {"is_null_": False}}})
    states = [run["state_type"] for run in runs]
    return states if states and set(states) <= {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"} else None


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the process group, SIGKILL it if it is still there after 30 s."""
    for sig, wait_s in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=wait_s)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.mark.slow
def test_deployments_on_a_local_server_with_process_workers(prefect_env, good_clips, tmp_path):
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, **prefect_env, "PREFECT_API_URL": api,
           "DANCEMATTE_DIR": str(REPO), "PREFECT_WORKER_QUERY_SECONDS": "2", "OMP_NUM_THREADS": "1"}
    logs: list[Path] = []
    started: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> None:
        log = tmp_path / f"{name}.log"
        logs.append(log)
        with log.open("w") as f:
            started.append(subprocess.Popen([str(PREFECT), *args], env=env, cwd=tmp_path, stdout=f,
                                            stderr=subprocess.STDOUT, start_new_session=True))

    def prefect(*args: str, cwd: Path = tmp_path) -> None:
        result = subprocess.run([str(PREFECT), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, f"prefect {' '.join(args)}:\n{result.stdout}\n{result.stderr}"

    deployments = yaml.safe_load((REPO / "flows.yaml").read_text())
    for deployment in deployments["deployments"]:
        for schedule in deployment.get("schedules", []):
            schedule["active"] = False  # only the run triggered below
    prefect_file = tmp_path / "flows.yaml"
    prefect_file.write_text(yaml.safe_dump(deployments))
    out = tmp_path / "out"
    try:
        start("server", "server", "start", "--host", "127.0.0.1", "--port", str(port))
        wait_until(lambda: healthy(api), 180, "the server's health check", logs)
        for pool in ("cpu", "gpu"):
            prefect("work-pool", "create", pool, "--type", "process")
        prefect("gcl", "create", "gpu", "--limit", "1")
        prefect("deploy", "--prefect-file", str(prefect_file), "--all", cwd=REPO)
        for pool in ("cpu", "gpu"):
            start(f"worker-{pool}", "worker", "start", "--pool", pool, "--type", "process")
        prefect("deployment", "run", "process-folder/scan-inbox", "--param", f"inbox={good_clips}", "--param", f"out={out}")
        assert wait_until(lambda: final_states(api, "process-folder"), 300, "the scan-inbox run", logs) == ["COMPLETED"]
        assert final_states(api, "process-clip") == ["COMPLETED", "COMPLETED"]
        for seed in range(2):
            assert read_alpha(out / "mattes" / f"clip{seed}.mov").shape[0] == TINY_CLIP_FRAMES
        manifest = json.loads((out / "manifest.json").read_text())
        assert [(e["clip"], e["status"]) for e in manifest] == [("clip0", "ok"), ("clip1", "ok")]
    finally:
        for process in reversed(started):  # workers first, while the server still answers
            stop(process)


# --- ephemeral mode ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def flows(prefect_env) -> Iterator[ModuleType]:
    """``pipelines.flows`` in ephemeral mode (no PREFECT_API_URL)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in prefect_env.items():
            patch.setenv(name, value)
        patch.delenv("PREFECT_API_URL", raising=False)
        from prefect.context import refresh_global_settings_context
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker
        from prefect.server.api.server import SubprocessASGIServer

        refresh_global_settings_context()
        yield importlib.import_module("pipelines.flows")
        # send queued logs and events, then stop the temporary server while its PREFECT_HOME still exists
        APILogWorker.drain_all(timeout=30)
        EventsWorker.drain_all(timeout=30)
        SubprocessASGIServer().stop()
    refresh_global_settings_context()


def test_process_folder_processes_new_clips_reports_broken_ones_and_skips_finished(flows, inbox, tmp_path, monkeypatch):
    from prefect.artifacts import Artifact

    out = tmp_path / "out"
    (inbox / "shot list.txt").write_text("not a clip")
    first = by_clip(flows.process_folder(inbox, out, device="cpu"))
    assert {c: r.status for c, r in first.items()} == {"": "passed over", "broken": "failed", "clip0": "ok", "clip1": "ok"}
    assert first[""].note == "shot list.txt: not a video file (.txt)"
    assert first["broken"].error == "broken.mp4: not a video file"
    assert first["clip0"].frames == TINY_CLIP_FRAMES and first["clip0"].fps > 0
    assert first["clip0"].outputs == [str(out / "mattes" / "clip0.mov")]
    rows = json.loads(Artifact.get(flows.REPORT_ARTIFACT).data)
    assert [(r["clip"], r["status"], r["error"]) for r in rows] == [
        ("", "passed over", ""), ("broken", "failed", "broken.mp4: not a video file"), ("clip0", "ok", ""), ("clip1", "ok", "")]
    assert [e["status"] for e in json.loads((out / "manifest.json").read_text())][:2] == ["passed over", "failed"]

    # unchanged: nothing is decoded or encoded again; the broken file is reported as failed again
    before = mtimes(out / "mattes") | mtimes(out / "state")
    monkeypatch.setattr(ClipProcessor, "process", lambda *a, **k: pytest.fail("a finished clip was processed"))
    second = by_clip(flows.process_folder(inbox, out, device="cpu"))
    assert {c: r.status for c, r in second.items()} == {"": "passed over", "broken": "failed", "clip0": "skipped", "clip1": "skipped"}
    assert second["broken"].error == first["broken"].error and "not decoded again" in second["broken"].note
    assert mtimes(out / "mattes") | mtimes(out / "state") == before
    monkeypatch.undo()

    # a changed setting processes everything again
    third = by_clip(flows.process_folder(inbox, out, formats=("prores", "luma"), device="cpu"))
    assert {c: r.status for c, r in third.items()} == {"": "passed over", "broken": "failed", "clip0": "ok", "clip1": "ok"}
    assert third["broken"].note is None  # decoded again
    assert read_alpha(out / "mattes" / "clip1.mov").shape[0] == TINY_CLIP_FRAMES
    assert (out / "mattes" / "clip1.luma.mp4").stat().st_size > 0


def test_transient_errors_are_retried_unreadable_clips_are_not(flows, inbox, tmp_path, monkeypatch):
    (inbox / "clip1.mp4").unlink()
    calls: Counter[str] = Counter()
    process = ClipProcessor.process

    def flaky(self: ClipProcessor, path: Path, *args: object, **kwargs: object):
        calls[path.name] += 1
        if path.name == "clip0.mp4" and calls[path.name] == 1:
            raise OSError(errno.EIO, "Input/output error")
        return process(self, path, *args, **kwargs)

    monkeypatch.setattr(ClipProcessor, "process", flaky)
    monkeypatch.setattr(flows, "process_one", flows.process_one.with_options(retry_delay_seconds=0))
    reports = by_clip(flows.process_folder(inbox, tmp_path / "out", device="cpu"))
    assert (reports["clip0"].status, calls["clip0.mp4"]) == ("ok", 2)
    assert (reports["broken"].status, calls["broken.mp4"]) == ("failed", 1)


def read_error_caused_by(cause: BaseException) -> VideoReadError:
    error = VideoReadError("x.mp4: cannot read")
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    "error, transient",
    [
        (OSError(errno.EIO, "I/O error"), True),
        (read_error_caused_by(OSError(errno.EIO, "I/O error")), True),  # e.g. a network mount went away
        (VideoReadError("x.mp4: not a video file"), False),
        (ValueError("a bug"), False),
    ],
)
def test_only_transient_errors_are_retried(error: Exception, transient: bool):
    assert is_transient(error) is transient


def test_process_folder_with_jobs_runs_clips_in_processes_with_the_results_of_one(flows, inbox, tmp_path):
    """``jobs=2``: the process task runner over a good, a broken and a finished clip, against ``jobs=1``."""
    one, two = tmp_path / "one", tmp_path / "two"
    flows.process_clip(inbox / "clip1.mp4", two, device="cpu")  # finished before the parallel run
    reference = by_clip(flows.process_folder(inbox, one, device="cpu"))
    parallel = by_clip(flows.process_folder(inbox, two, device="cpu", jobs=2))
    assert {c: r.status for c, r in parallel.items()} == {"broken": "failed", "clip0": "ok", "clip1": "skipped"}
    assert parallel["broken"].error == reference["broken"].error == "broken.mp4: not a video file"
    for clip in ("clip0", "clip1"):
        assert np.array_equal(read_alpha(two / "mattes" / f"{clip}.mov"), read_alpha(one / "mattes" / f"{clip}.mov"))
        pd.testing.assert_frame_equal(pd.read_parquet(two / "stats" / f"clip={clip}"),
                                      pd.read_parquet(one / "stats" / f"clip={clip}"))
