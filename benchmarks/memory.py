"""Peak memory of `dancematte process` on a short and a long clip of the same size.

    .venv/bin/python benchmarks/memory.py [--width 1080 --height 1920] [--short 10 --long 60] [--fps 30] [--format luma]

Makes a synthetic clip of ``--short`` seconds and a long one that is the short one played
over and over (stream copy, so a 10-minute 4K clip takes seconds to make), processes each in
a fresh process and prints each child's peak resident memory (ru_maxrss). With bounded
queues the difference should stay small whatever the length.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import av

from pipelines.synthetic import SyntheticClipSpec, make_clip, procedural_person


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1080)
    parser.add_argument("--height", type=int, default=1920)
    parser.add_argument("--short", type=float, default=10)
    parser.add_argument("--long", type=float, default=60)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--format", default="luma")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dancematte-mem-"))
    person = procedural_person(round(args.height * 0.7), round(args.height * 0.35))
    results = {}
    # each clip is processed under its own wrapper interpreter, whose RUSAGE_CHILDREN peak is
    # that one run's alone
    short = work / "short.mp4"
    make_clip(short, [person], SyntheticClipSpec(width=args.width, height=args.height, frames=round(args.short * args.fps),
                                                 fps=args.fps), keep_mattes=False)
    repeat_clip(short, work / "long.mp4", max(1, round(args.long / args.short)))
    for name, seconds in (("long", args.long), ("short", args.short)):
        clip = work / f"{name}.mp4"
        argv = [sys.executable, "-c", "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
                "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)",
                sys.executable, "-m", "pipelines.cli", "process", str(clip), "--out", str(work / f"out-{name}"),
                "--format", args.format, "--quiet"]
        results[name] = int(subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip()) / 1024
        print(f"{name:5s} {seconds:6.0f} s at {args.width}x{args.height}: peak RSS {results[name]:8.1f} MiB")
    print(f"long - short: {results['long'] - results['short']:+.1f} MiB")


def repeat_clip(source: Path, target: Path, times: int) -> None:
    """``source`` played ``times`` times in a row, by stream copy (each copy starts on its first keyframe)."""
    with av.open(str(source)) as src:
        spans = {}
        for packet in src.demux():
            if packet.pts is not None:
                start, end = spans.get(packet.stream.index, (packet.pts, packet.pts))
                spans[packet.stream.index] = (min(start, packet.pts), max(end, packet.pts + packet.duration))
        with av.open(str(target), "w") as dst:
            outputs = {index: dst.add_stream_from_template(src.streams[index]) for index in spans}
            for copy in range(times):
                src.seek(0)
                for packet in src.demux():
                    if packet.dts is None:
                        continue
                    start, end = spans[packet.stream.index]
                    packet.pts += copy * (end - start)
                    packet.dts += copy * (end - start)
                    packet.stream = outputs[packet.stream.index]
                    dst.mux(packet)


if __name__ == "__main__":
    main()
