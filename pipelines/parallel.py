"""Several clips at once, each in a worker process of a ``ProcessPoolExecutor`` (``--jobs``).

One clip's stages already overlap on threads, but their many short NumPy, OpenCV and SciPy
calls serialise on the GIL, so a machine with many cores is filled by clips in separate
processes. Each worker streams its clip as ``dancematte process`` does in one process and
loads its own model once, on its first clip (``Run`` travels to a worker as its settings);
with a GPU the workers share it. Each worker sizes its thread pools for its share of the
cores (``seg.cores``).

Interrupts: Ctrl-C reaches every worker; one with a clip in hand aborts it (its partial
outputs removed, its claim released, as in one process), an idle one waits for the pool to
shut down. A worker whose parent is gone (``kill -9``) aborts its clip the same way and exits,
so no orphan keeps a claim or runs on.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import TYPE_CHECKING

from seg.cores import share_cores

if TYPE_CHECKING:
    from pipelines.discovery import ClipInput
    from pipelines.run import ClipReport, Run

CORES_PER_JOB = 2  # one clip's overlapping stages keep about two cores busy
MEMORY_PER_JOB = 2 << 30  # peak resident memory of one clip, 4K included (benchmarks/memory.py)
PARENT_CHECK_S = 0.5
ABORT_GRACE_S = 60  # an orphaned worker's time to abort its clip before it exits anyway
_idle = threading.Event()  # set while this worker has no clip in hand


def available_memory() -> int:
    """Bytes of memory available to new processes (``MemAvailable``; physical memory where it is missing)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def affordable_jobs() -> int:
    """Clips the machine can process at once: one per ``CORES_PER_JOB`` cores and ``MEMORY_PER_JOB`` of memory, at least one."""
    cores = len(os.sched_getaffinity(0))
    return max(1, min(cores // CORES_PER_JOB, available_memory() // MEMORY_PER_JOB))


def start_worker(parent_pid: int, cores: int) -> None:
    """A worker's set-up: its share of the cores, Ctrl-C ignored while idle, a watch that ends it with its parent."""
    share_cores(cores)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _idle.set()
    threading.Thread(target=exit_with_parent, args=(parent_pid,), name="parent-watch", daemon=True).start()


def exit_with_parent(parent_pid: int) -> None:
    """Once ``parent_pid`` is no longer this process's parent: abort the clip in hand, then exit."""
    while os.getppid() == parent_pid:
        time.sleep(PARENT_CHECK_S)
    if not _idle.is_set():
        os.kill(os.getpid(), signal.SIGINT)
        _idle.wait(ABORT_GRACE_S)
    os._exit(1)


def process_in_worker(process_clip: Callable[[ClipInput], ClipReport], clip: ClipInput) -> ClipReport:
    """``process_clip(clip)`` in a worker, a Ctrl-C aborting it as it would in one process."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _idle.clear()
    try:
        return process_clip(clip)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _idle.set()


def worker_cores(jobs: int) -> int:
    """Each of ``jobs`` workers' share of this machine's cores."""
    return max(1, len(os.sched_getaffinity(0)) // jobs)


def process_pool(jobs: int) -> ProcessPoolExecutor:
    """``jobs`` spawned worker processes (no fork: the parent's threads and OpenCV pool do not survive one)."""
    return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=start_worker, initargs=(os.getpid(), worker_cores(jobs)))


def reports_from_workers(run: Run, clips: Sequence[ClipInput], jobs: int) -> Iterator[tuple[int, ClipReport]]:
    """(index, report) of every clip as workers finish them, at most ``jobs`` at once.

    A clip is handed out only when a worker is free, so an interrupt stops the run without
    starting queued clips. A worker that dies (killed, out of memory) breaks the pool: the
    clips the workers had in hand fail, each with one line, and the rest go on in a fresh pool.
    """
    from pipelines.run import Run

    quiet = replace(run.settings, show_progress=False)  # one progress bar per clip would garble the terminal
    return reports_from_pools(Run(quiet, run.gpu_slot).process_clip, run.failed, clips, jobs)


def reports_from_pools(process_clip: Callable[[ClipInput], ClipReport],
                       failed: Callable[[ClipInput, BaseException], ClipReport],
                       clips: Sequence[ClipInput], jobs: int) -> Iterator[tuple[int, ClipReport]]:
    """``process_clip`` (picklable) over ``clips`` in worker processes, a fresh pool after one breaks."""
    waiting = list(enumerate(clips))[::-1]
    while waiting:
        with process_pool(jobs) as pool:
            yield from drain(pool, process_clip, waiting, jobs, failed)


def drain(pool: ProcessPoolExecutor, process_clip: Callable[[ClipInput], ClipReport],
          waiting: list[tuple[int, ClipInput]], jobs: int,
          failed: Callable[[ClipInput, BaseException], ClipReport]) -> Iterator[tuple[int, ClipReport]]:
    """Hand ``waiting`` (popped from its end) to ``pool``, ``jobs`` at a time, until it is empty or the pool breaks."""
    running: dict[Future[ClipReport], tuple[int, ClipInput]] = {}
    broken = False
    try:
        while running or (waiting and not broken):
            while waiting and not broken and len(running) < jobs:
                index, clip = waiting.pop()
                running[pool.submit(process_in_worker, process_clip, clip)] = (index, clip)
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                index, clip = running.pop(future)
                try:
                    report = future.result()
                except BrokenProcessPool:
                    broken = True
                    report = failed(clip, WorkerDiedError(f"{clip.path.name}: a worker process ended unexpectedly "
                                                          "(killed or out of memory)"))
                yield index, report
    finally:
        for future in running:
            future.cancel()


class WorkerDiedError(Exception):
    """A worker process ended in the middle of a clip (killed, out of memory); names the file."""
