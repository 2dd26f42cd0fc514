"""A folder of clips through ``dancematte process``: aggregate fps at ``--jobs 1`` and at the default, in one run.

    .venv/bin/python benchmarks/folder.py [--clips 4] [--seconds 2] [--size 540x960] [--formats luma,prores]
                                          [--jobs N] [--device auto]

Makes ``--clips`` synthetic clips (``--seconds`` long at 25 fps, ``--size`` WxH, each with its own
dancer and audio), then for each format runs the command line twice over the folder, each
time into a fresh output folder: ``--jobs 1`` and ``--jobs`` as given (default: what the
machine affords, ``pipelines.parallel.affordable_jobs``). Prints, per format and jobs setting,
the aggregate frames per second over the folder (start-up and finishing included), the CPU
time per frame of the command and its workers (core-ms a frame), and with ``nvidia-smi`` the
mean GPU utilisation. The issue's GPU-machine setting: ``--clips 16 --seconds 10 --size 1080x1920``.
Compare the two rows of one run only: other load on the machine moves both.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pipelines.parallel import affordable_jobs
from pipelines.synthetic import SyntheticClipSpec, make_clip, procedural_person

DANCEMATTE = Path(sys.executable).with_name("dancematte")
FPS = 25


@dataclass(frozen=True)
class FolderTiming:
    wall_s: float
    cpu_s: float
    gpu_busy: float | None  # mean utilisation 0..1 while the command ran; None without nvidia-smi


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class GpuSampler:
    """Mean GPU utilisation from ``nvidia-smi`` sampled every 200 ms while in the ``with`` block."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> GpuSampler:
        if shutil.which("nvidia-smi"):
            self._process = subprocess.Popen(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-lms", "200"],
                stdout=subprocess.PIPE, text=True)
            threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        for line in self._process.stdout:
            if line.strip().isdigit():
                self.samples.append(int(line) / 100)

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait()

    def mean(self) -> float | None:
        return sum(self.samples) / len(self.samples) if self.samples else None


def process_folder(folder: Path, out: Path, fmt: str, jobs: int, device: str) -> FolderTiming:
    """One ``dancematte process`` run over ``folder``; raises when it fails."""
    command = [str(DANCEMATTE), "process", str(folder), "--out", str(out), "--format", fmt, "--jobs", str(jobs),
               "--device", device, "--quiet"]
    cpu_before, started = children_cpu_s(), time.perf_counter()
    with GpuSampler() as gpu:
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return FolderTiming(time.perf_counter() - started, children_cpu_s() - cpu_before, gpu.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--size", default="540x960", metavar="WxH")
    parser.add_argument("--formats", default="luma,prores")
    parser.add_argument("--jobs", type=int, default=affordable_jobs(), help="the setting compared with --jobs 1")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    frames_per_clip = round(args.seconds * FPS)
    work = Path(tempfile.mkdtemp(prefix="dancematte-folder-"))
    folder = work / "clips"
    folder.mkdir()
    for seed in range(args.clips):
        spec = SyntheticClipSpec(width=width, height=height, frames=frames_per_clip, fps=FPS, seed=seed)
        make_clip(folder / f"clip{seed:02d}.mp4", [procedural_person(seed=seed)], spec)
    frames = args.clips * frames_per_clip
    print(f"{args.clips} clips of {width}x{height}, {frames_per_clip} frames each ({frames} in all); "
          f"--jobs 1 vs --jobs {args.jobs}; device {args.device}")
    print(f"{'format':8s} {'jobs':>4s} {'fps':>8s} {'core-ms/frame':>14s} {'GPU busy':>9s} {'fps vs jobs 1':>14s}")
    try:
        for fmt in args.formats.split(","):
            baseline = None
            for jobs in dict.fromkeys((1, args.jobs)):
                timing = process_folder(folder, work / f"out-{fmt}-{jobs}", fmt, jobs, args.device)
                fps = frames / timing.wall_s
                baseline = baseline or fps
                gpu = "-" if timing.gpu_busy is None else f"{timing.gpu_busy:.0%}"
                print(f"{fmt:8s} {jobs:4d} {fps:8.1f} {1000 * timing.cpu_s / frames:14.1f} {gpu:>9s} {fps / baseline:13.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
