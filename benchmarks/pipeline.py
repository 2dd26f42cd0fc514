"""Pipeline speed: every stage alone, then end to end, on one 1080x1920 clip, in one run.

    .venv/bin/python benchmarks/pipeline.py [--clip FILE] [--frames 96] [--formats prores,webm,luma,png,composite]
                                            [--device auto] [--batch-size 8] [--model NAME]

Without ``--clip`` a synthetic 1080x1920 clip with audio is made first. Prints fps for
decode alone, segmentation alone (resize + network + shot changes, as the processor's segment stage;
the shot-change detection also alone), refinement alone (smoothing,
clean-up, edge-aware upsampling), dancer tracking alone (``seg.dancers``), statistics alone,
each format's encoder alone, and each format end to end, then end-to-end / slowest stage per
format (1.0 = perfect overlap), end-to-end / serial (the fps if the stages ran one after the
other: above 1.0 the overlap gains something), the cores kept busy end to end (process CPU time / wall
time: at the machine's core count the overlap is complete and only less work per frame goes faster)
and the share of end-to-end time the tracking and the statistics would each cost if they did not overlap
(statistics: the per-frame columns, the shot changes and the clip's beats; the synthetic clip's audio
clicks every half second, so the beat tracker runs).
Timings come from this run only; compare ratios, not absolute numbers across machines.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from analytics import FrameStatistics
from pipelines.processor import ClipProcessor, ProcessSettings
from analytics.beats import clip_beats
from pipelines.shots import ShotChangeDetector
from pipelines.synthetic import SyntheticClipSpec, make_clip, procedural_person
from pipelines.video_io import ClipReader, FrameBatch
from pipelines.writers import FORMATS, WriterSettings, open_writer
from seg.dancers import DancerTracker
from seg.models import DEFAULT_MODEL
from seg.refine import MatteRefiner
from seg.segmenter import Segmenter, SegmenterSettings


def fps(frames: int, fn) -> float:
    return fps_and_cores(frames, fn)[0]


def fps_and_cores(frames: int, fn) -> tuple[float, float]:
    """Frames per second of ``fn`` and the cores it kept busy on average."""
    before, start = cpu_seconds(), time.perf_counter()
    fn()
    wall = time.perf_counter() - start
    return frames / wall, (cpu_seconds() - before) / wall


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path)
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--model", default=DEFAULT_MODEL, help="shipped model name or saved model folder")
    args = parser.parse_args()
    formats = [f for f in args.formats.split(",") if f]
    work = Path(tempfile.mkdtemp(prefix="dancematte-bench-"))
    clip = args.clip
    if clip is None:
        clip = work / "bench.mp4"
        spec = SyntheticClipSpec(width=1080, height=1920, frames=args.frames, fps=30, audio=True, click_every_s=0.5)
        make_clip(clip, [procedural_person(1400, 700)], spec)

    with ClipReader(clip, args.batch_size) as reader:
        info = reader.info
        batches: list[FrameBatch] = list(reader)
    frames = sum(len(b.index) for b in batches)
    segmenter = Segmenter(SegmenterSettings(model=args.model, device=args.device))
    refiner = MatteRefiner()
    print(f"clip {info.width}x{info.height}, {frames} frames; device {segmenter.device}, engine {segmenter.engine}; "
          f"network input {segmenter.long_side} long side; "
          f"batch {args.batch_size}; {os.cpu_count()} cores")

    def decode() -> None:
        with ClipReader(clip, args.batch_size) as r:
            for _ in r:
                pass

    small_h, small_w = segmenter.input_size(info.height, info.width)
    probs = [segmenter.probabilities(b.scaled_rgb(small_w, small_h)) for b in batches]
    alphas = [refiner.upsample(p, b.grey()) for p, b in zip(probs, batches)]
    smoother = refiner.temporal()

    def segment() -> None:
        shots = ShotChangeDetector(info.fps)
        for b in batches:
            small = b.scaled_rgb(small_w, small_h)
            segmenter.probabilities(small)
            shots.update(small, b.index)

    smalls = [b.scaled_rgb(small_w, small_h) for b in batches]

    def shot_changes() -> None:
        shots = ShotChangeDetector(info.fps)
        for small, b in zip(smalls, batches):
            shots.update(small, b.index)

    cuts_fps = fps(frames, shot_changes)
    stage_fps = {
        "decode": fps(frames, decode),
        "segment": fps(frames, segment),
        "refine": fps(frames, lambda: [refiner.upsample(refiner.clean(smoother(p)), b.grey()) for p, b in zip(probs, batches)]),
    }
    tracker = DancerTracker()
    tracking_fps = fps(frames, lambda: [tracker.update(p, b.times_s) for p, b in zip(probs, batches)])
    stats = FrameStatistics("bench")
    frame_table = stats.update(probs[0][:0], batches[0].times_s[:0], batches[0].index[:0])
    clip_beats(clip, frame_table)  # librosa imported and its tracker compiled once per process, not per clip
    per_frame_fps = fps(frames, lambda: [stats.update(p, b.times_s, b.index) for p, b in zip(probs, batches)])
    beats_fps = fps(frames, lambda: clip_beats(clip, frame_table))
    stats_fps = 1 / (1 / per_frame_fps + 1 / beats_fps + 1 / cuts_fps)

    def encode(fmt: str) -> None:
        writer = open_writer(fmt, info, work / f"enc-{fmt}", "bench", WriterSettings())
        for batch, alpha in zip(batches, alphas):
            writer.write(batch, alpha)
        writer.abort()

    def end_to_end(fmt: str) -> None:
        processor = ClipProcessor(segmenter, ProcessSettings(formats=(fmt,), batch_size=args.batch_size))
        processor.process(clip, work / f"e2e-{fmt}", "bench", show_progress=False)

    for name, value in stage_fps.items():
        print(f"{name + ' only':24s} {value:8.1f} fps")
    print(f"{'shot changes only':24s} {cuts_fps:8.1f} fps")
    print(f"{'beats only':24s} {beats_fps:8.1f} fps")
    print(f"{'per-frame stats only':24s} {per_frame_fps:8.1f} fps")
    print(f"{'dancer tracking only':24s} {tracking_fps:8.1f} fps")
    print(f"{'statistics only':24s} {stats_fps:8.1f} fps (per-frame, shot changes and beats)")
    print(f"{'format':10s} {'encode fps':>10s} {'e2e fps':>9s} {'slowest stage':>16s} {'e2e/slowest':>12s} "
          f"{'e2e/serial':>11s} {'cores busy':>11s} {'track share':>12s} {'stats share':>12s}")
    for fmt in formats:
        encode_fps = fps(frames, lambda: encode(fmt))
        e2e, busy = fps_and_cores(frames, lambda: end_to_end(fmt))
        stages = {**stage_fps, "encode": encode_fps}
        slowest_name, slowest = min(stages.items(), key=lambda kv: kv[1])
        serial = 1 / sum(1 / v for v in (*stages.values(), tracking_fps, stats_fps))
        print(f"{fmt:10s} {encode_fps:10.1f} {e2e:9.1f} {slowest_name:>10s} {slowest:5.1f} {e2e / slowest:12.2f} "
              f"{e2e / serial:11.2f} {busy:11.2f} {e2e / tracking_fps:11.1%} {e2e / stats_fps:11.1%}")


if __name__ == "__main__":
    main()
