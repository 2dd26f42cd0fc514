"""Prefect flows: process one clip, or every new clip in an inbox folder.

``process_folder`` scans the inbox, looks each clip up in the ledger (content hash +
settings) and processes the rest, each clip as its own task on this machine, or, with
``use_deployment``, as a run of the ``process-clip/process-clip`` deployment on a GPU
worker. Both go through ``Run.try_clip``, the code path of ``dancematte process``, so
claims, the ledger and atomic outputs behave the same everywhere.

- Retries: a clip's task retries twice, 10 s apart, on transient errors only
  (``pipelines.run.is_transient``: I/O errors, write errors, GPU out of memory); an
  unreadable clip (``VideoReadError``) or a bug fails at once.
- GPU: decode-segment-encode of a clip holds one slot of the global concurrency limit
  ``gpu`` (``prefect gcl create gpu --limit 1``); without that limit, e.g. in ephemeral
  mode, Prefect logs a warning and runs unlimited. Scanning, hashing, statistics tables,
  the manifest and the artifact run outside it.
- The model is loaded once per flow run, on the first clip that needs it; with ``jobs`` > 1
  clips run at once in worker processes of Prefect's ``ProcessPoolTaskRunner`` (as
  ``dancematte process --jobs``, ``pipelines.parallel``), the model loaded once per worker.
- One bad clip never stops the others; the flow run completes and its table artifact
  ``process-folder-report`` lists every clip with status, error, frames, fps and outputs.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from prefect import Task, flow, get_run_logger, task, unmapped
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.concurrency.sync import concurrency
from prefect.deployments import run_deployment
from prefect.states import State
from prefect.task_runners import ProcessPoolTaskRunner

from pipelines.discovery import ClipInput, Discovery, discover, scan
from pipelines.parallel import worker_cores
from pipelines.processor import ProcessSettings
from pipelines.run import ClipReport, Run, RunSettings, is_transient, passed_over_report, status_counts
from seg.choices import DEFAULT_MODEL
from seg.cores import share_cores
from seg.segmenter import SegmenterSettings

PROCESS_CLIP_DEPLOYMENT = "process-clip/process-clip"
GPU_LIMIT = "gpu"
REPORT_ARTIFACT = "process-folder-report"


class ClipFailedError(Exception):
    """A clip failed; the message is its one-line reason."""


def gpu_slot() -> AbstractContextManager[None]:
    """One slot of the global concurrency limit ``gpu`` (a warning and no limit when it does not exist)."""
    return concurrency(GPU_LIMIT, occupy=1)


def open_run(out: Path, formats: tuple[str, ...], model: str, device: str, batch_size: int) -> Run:
    """A Run on ``out`` with the flow's settings, checked writable and cleared of partial files left by killed runs."""
    settings = RunSettings(
        out=Path(out),
        process=ProcessSettings(formats=tuple(formats), batch_size=batch_size),
        segmenter=SegmenterSettings(model=model, device=device),
        show_progress=False,
    )
    run = Run(settings, gpu_slot=gpu_slot)
    run.prepare_output()
    return run


def retry_when_transient(task: Task, task_run: TaskRun, state: State) -> bool:
    """Prefect's retry condition: retry only ``is_transient`` errors."""
    return is_transient(state.result(raise_on_failure=False))


@task(cache_policy=NO_CACHE)
def scan_inbox(inbox: Path) -> Discovery:
    """Every clip under ``inbox``, with unique clip ids, and the other files passed over."""
    found = scan([Path(inbox)])
    for item in found.passed_over:
        get_run_logger().info(f"passed over: {item.path.name}: {item.reason}")
    return found


def finished_report(run: Run, clip: ClipInput) -> ClipReport | None:
    """The ledger's report when the clip needs no processing; None also when it cannot be read (processing reports why)."""
    try:
        return run.finished(clip, run.key_for(clip))
    except OSError:
        return None


@task(cache_policy=NO_CACHE)
def look_up_finished(run: Run, clips: list[ClipInput]) -> dict[str, ClipReport]:
    """Reports of the clips the ledger says need no processing, by clip id."""
    return {clip.clip_id: done for clip in clips if (done := finished_report(run, clip)) is not None}


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=10, retry_condition_fn=retry_when_transient,
      task_run_name="process {clip.clip_id}")
def process_one(run: Run, clip: ClipInput) -> ClipReport:
    """Process one clip here (skipped when finished or claimed by another run)."""
    return run.try_clip(clip)


@task(cache_policy=NO_CACHE, task_run_name="dispatch {clip.clip_id}")
def dispatch_one(run: Run, clip: ClipInput) -> ClipReport:
    """Process one clip in a process-clip deployment run and wait; its outcome is read back from the shared ledger."""
    settings = run.settings
    parameters = {
        "path": str(clip.path), "out": str(settings.out), "clip_id": clip.clip_id,
        "formats": list(settings.process.formats), "model": settings.segmenter.model,
        "device": settings.segmenter.device, "batch_size": settings.process.batch_size,
    }
    child = run_deployment(PROCESS_CLIP_DEPLOYMENT, parameters=parameters, poll_interval=2)
    recorded = run.recorded(clip, run.key_for(clip))
    if recorded is not None:
        return recorded
    if child.state.is_completed():
        return ClipReport(str(clip.path), clip.clip_id, "skipped", None, [], note="claimed by another run")
    message = " ".join((child.state.message or "").split())
    raise ClipFailedError(f"{clip.path.name}: process-clip run {child.name} ended {child.state.name}: {message}")


@task(cache_policy=NO_CACHE)
def write_manifest(run: Run, reports: list[ClipReport]) -> None:
    run.write_manifest(reports)


@task(cache_policy=NO_CACHE)
def publish_report(inbox: Path, reports: list[ClipReport]) -> None:
    """A table artifact: one row per clip."""
    rows = [
        {"clip": r.clip, "status": r.status, "error": r.error or "", "note": r.note or "", "frames": r.frames,
         "fps": round(r.fps, 1), "outputs": ", ".join(r.outputs)}
        for r in reports
    ]
    counts = status_counts(reports)
    summary = (f"{inbox}: {counts['ok']} processed, {counts['skipped']} skipped, {counts['failed']} failed, "
               f"{counts['passed over']} other file(s) passed over")
    create_table_artifact(rows, key=REPORT_ARTIFACT, description=summary)
    get_run_logger().info(summary)


def report_from(run: Run, clip: ClipInput, state: State) -> ClipReport:
    """The task's report, or a one-line failure report when the task failed."""
    if state.is_completed():
        return state.result()
    error = state.result(raise_on_failure=False)
    if isinstance(error, ClipFailedError):
        return ClipReport(str(clip.path), clip.clip_id, "failed", str(error), [])
    return run.failed(clip, error)


@flow(name="process-clip")
def process_clip(
    path: Path, out: Path, formats: tuple[str, ...] = ("prores",), model: str = DEFAULT_MODEL,
    device: str = "auto", batch_size: int = 8, clip_id: str | None = None,
) -> ClipReport:
    """Process one clip as ``dancematte process`` does (claims, ledger, skip); the run fails when the clip fails."""
    run = open_run(out, formats, model, device, batch_size)
    clip = ClipInput(Path(path), clip_id) if clip_id else discover([Path(path)])[0]
    report = report_from(run, clip, process_one(run, clip, return_state=True))
    if report.status == "failed":
        raise ClipFailedError(report.error)
    return report


def states_in_processes(run: Run, clips: list[ClipInput], jobs: int) -> list[State]:
    """The final states of ``process_one`` over ``clips``, ``jobs`` at once in worker processes."""
    with ProcessPoolTaskRunner(jobs, initializer=share_cores, initargs=(worker_cores(jobs),)) as runner:
        futures = [runner.submit(process_one, {"run": run, "clip": clip}) for clip in clips]
        for future in futures:
            future.wait()
        return [future.state for future in futures]


@flow(name="process-folder")
def process_folder(
    inbox: Path, out: Path, formats: tuple[str, ...] = ("prores",), model: str = DEFAULT_MODEL,
    device: str = "auto", batch_size: int = 8, use_deployment: bool = False, jobs: int = 1,
) -> list[ClipReport]:
    """Process every clip in ``inbox`` not yet finished with these settings; one task or deployment run per clip.

    ``jobs`` > 1 runs that many clips at once, each task in a worker process.
    """
    run = open_run(out, formats, model, device, batch_size)
    found = scan_inbox(inbox)
    clips = found.clips
    finished = look_up_finished(run, clips)
    todo = [clip for clip in clips if clip.clip_id not in finished]
    if use_deployment:
        futures = dispatch_one.map(unmapped(run), todo)
        futures.wait()
        states = [future.state for future in futures]
    elif jobs > 1 and len(todo) > 1:
        states = states_in_processes(run, todo, jobs)
    else:
        states = [process_one(run, clip, return_state=True) for clip in todo]
    processed = {clip.clip_id: report_from(run, clip, state) for clip, state in zip(todo, states)}
    reports = [passed_over_report(item) for item in found.passed_over]
    reports += [finished.get(clip.clip_id) or processed[clip.clip_id] for clip in clips]
    write_manifest(run, reports)
    publish_report(inbox, reports)
    return reports
