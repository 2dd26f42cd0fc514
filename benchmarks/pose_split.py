"""What the skeleton look behind the main dancer costs: each clip processed with and without it, in one run.

    .venv/bin/python benchmarks/pose_split.py CLIP [CLIP ...] [--format png]

Prints per clip the seconds of ``process`` (default main-dancer matte) without and with ``seg.pose_split``,
their ratio, how many looks the split made (``PoseFinder`` calls) per frame, the mean milliseconds a look, and the
share of frames whose main matte it cut. The looks run in the refine stage beside the network's segment stage,
so the end-to-end ratio is what a user waits, not the looks' own time.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import seg.pose_split as pose_split
from pipelines.processor import ClipProcessor, ProcessSettings
from seg.models import DEFAULT_MODEL
from seg.poses import PoseFinder
from seg.segmenter import Segmenter, SegmenterSettings


class TimedFinder:
    """``PoseFinder`` that counts its calls and their time."""

    def __init__(self) -> None:
        self.finder, self.calls, self.seconds = PoseFinder(), 0, 0.0

    def __call__(self, rgb: np.ndarray):
        started = time.perf_counter()
        found = self.finder(rgb)
        self.seconds += time.perf_counter() - started
        self.calls += 1
        return found


def processed_seconds(processor: ClipProcessor, clip: Path) -> tuple[float, int]:
    """Seconds to process ``clip`` and its frame count."""
    scratch = Path(tempfile.mkdtemp(prefix="pose-split-"))
    try:
        started = time.perf_counter()
        outcome = processor.process(clip, scratch, "clip", show_progress=False)
        return time.perf_counter() - started, outcome.frames
    finally:
        shutil.rmtree(scratch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", type=Path, nargs="+")
    parser.add_argument("--format", default="png")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    args = parser.parse_args()
    segmenter = Segmenter(SegmenterSettings(model=args.model))
    settings = ProcessSettings(formats=(args.format,), timeout_s=None, max_duration_s=None)
    without = ClipProcessor(segmenter, dataclasses.replace(settings, pose_split=False))
    with_split = ClipProcessor(segmenter, settings)
    timed = TimedFinder()
    with_split.pose_finder = timed
    cut_frames = []
    original = pose_split.PoseSplit.__call__

    def counting(self, dancers, probs, picture, times_s, cuts=None):
        split = original(self, dancers, probs, picture, times_s, cuts)
        cut_frames.extend(((dancers.owner == dancers.main[:, None, None]) != (split.owner == split.main[:, None, None]))
                          .any(axis=(1, 2)) & (dancers.main > 0))
        return split

    pose_split.PoseSplit.__call__ = counting
    print(f"{'clip':44s} {'frames':>6s} {'without s':>9s} {'with s':>7s} {'ratio':>6s} {'looks/frame':>11s} {'ms/look':>8s} {'cut':>6s}")
    for clip in args.clips:
        processed_seconds(without, clip)  # warm-up: caches, the network's engine
        base, frames = processed_seconds(without, clip)
        timed.calls, timed.seconds, cut_frames[:] = 0, 0.0, []
        split, _ = processed_seconds(with_split, clip)
        print(f"{clip.name[:44]:44s} {frames:6d} {base:9.1f} {split:7.1f} {split / base:6.2f} {timed.calls / frames:11.2f} "
              f"{1000 * timed.seconds / max(timed.calls, 1):8.1f} {np.mean(cut_frames):6.1%}")


if __name__ == "__main__":
    main()
