"""Segmentation speed: milliseconds per 1080x1920 frame at a given batch size.

    .venv/bin/python benchmarks/segmentation.py [--model NAME] [--baseline NAME] [--device auto] [--batch-size 8] [--batches 10]
        [--long-side N] [--baseline-long-side N]

Prints the time of the network resize + forward pass alone, and the edge-aware
upsampling to full resolution alone, each as ms/frame and fps: the median over ``--batches``
rounds in which the rows take turns (the machine's load drifts), and the best round (the
least disturbed by other work on a shared machine). Warm-up batches are excluded. The resize
is timed two ways: from RGB frames (``Segmenter.resize_for_network``, as ``eval`` does for
photos) and from decoded YUV 4:2:0 pictures (``FrameBatch.scaled_rgb``: the scaling happens in
the colour conversion, as ``dancematte process`` does for every clip).
The network rows run as ``process`` does (each frame also seen mirrored unless ``--no-mirror``); ``network, one pass``
is the network without the mirrored pass, and the ratio is printed.
The network also runs in PyTorch eager (``network (torch)``) when the segmenter's engine is
another (ONNX Runtime on the CPU), and the ratio is printed. With ``--baseline`` the baseline
model is timed in the same run at its own input size (resize + network) and the ratio printed; ``--long-side`` and
``--baseline-long-side`` give either whole frames at another long side than the model's (``--baseline`` may name the
same model, to time two input sizes against each other).
"""

from __future__ import annotations

import argparse
import time

import av
import numpy as np
import torch

from pipelines.video_io import FrameBatch
from seg.models import DEFAULT_MODEL
from seg.refine import MatteRefiner
from seg.segmenter import Segmenter, SegmenterSettings


def timed_rows(rows: dict, rounds: int) -> dict[str, tuple[float, float]]:
    """(median, best) seconds per call of each row; rows take turns each round, so load changes hit all alike."""
    for fn in rows.values():  # warm-up
        fn()
    samples: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(rounds):
        for name, fn in rows.items():
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            samples[name].append(time.perf_counter() - start)
    return {name: (float(np.median(values)), min(values)) for name, values in samples.items()}


def decoded_batch(frames: np.ndarray) -> FrameBatch:
    """``frames`` as a decoder hands them over: YUV 4:2:0 pictures."""
    pictures = tuple(av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p") for f in frames)
    index = np.arange(len(frames))
    return FrameBatch(pictures, 0, index, index / 30, index, np.ones_like(index))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--baseline", help="another model whose network time to compare in this run")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--width", type=int, default=1080)
    parser.add_argument("--height", type=int, default=1920)
    parser.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=True,
                        help="each frame also seen mirrored, as process does by default")
    parser.add_argument("--long-side", type=int, help="whole frames at this long side (default: the model's own)")
    parser.add_argument("--baseline-long-side", type=int)
    args = parser.parse_args()
    segmenter = Segmenter(SegmenterSettings(model=args.model, device=args.device, mirror=args.mirror, long_side=args.long_side))
    refiner = MatteRefiner()
    frames = np.random.default_rng(0).integers(0, 255, (args.batch_size, args.height, args.width, 3), dtype=np.uint8)
    grey = frames[..., 1].copy()
    decoded = decoded_batch(frames)
    small = segmenter.resize_for_network(frames)
    probs = segmenter.probabilities(small)
    print(f"device {segmenter.device}, engine {segmenter.engine}, threads {torch.get_num_threads()}, "
          f"input {args.width}x{args.height} -> network {small.shape[2]}x{small.shape[1]}, batch {args.batch_size}")
    rows = {
        "resize": lambda: segmenter.resize_for_network(frames),
        "network": lambda: segmenter.probabilities(small),
        "network, one pass": lambda: segmenter.probabilities(small, mirror=False),
        "resize + network": lambda: segmenter.probabilities(segmenter.resize_for_network(frames)),
        "decoded -> network": lambda: segmenter.probabilities(decoded.scaled_rgb(small.shape[2], small.shape[1])),
        "edge-aware upsample": lambda: refiner.upsample(probs, grey),
    }
    if segmenter.engine != "torch":
        eager = Segmenter(SegmenterSettings(model=args.model, device=args.device, engine="torch", mirror=args.mirror,
                                            long_side=args.long_side))
        rows["network (torch)"] = lambda: eager.probabilities(small)
    if args.baseline:
        baseline = Segmenter(SegmenterSettings(model=args.baseline, device=args.device, mirror=args.mirror,
                                               long_side=args.baseline_long_side))
        rows["baseline resize + network"] = lambda: baseline.probabilities(baseline.resize_for_network(frames))
    timed = timed_rows(rows, args.batches)
    times = {name: median / args.batch_size for name, (median, _) in timed.items()}
    print(f"{'':26s} {'median':>7s}                          {'best':>7s}")
    for name, (median, best) in timed.items():
        per_frame, best = median / args.batch_size, best / args.batch_size
        print(f"{name:26s} {per_frame * 1000:7.2f} ms/frame  {1 / per_frame:8.1f} fps  {best * 1000:7.2f} ms/frame")
    print(f"network / network, one pass (mirror {'on' if args.mirror else 'off'}): {times['network'] / times['network, one pass']:.2f}")
    if "network (torch)" in times:
        print(f"network / network (torch): {times['network'] / times['network (torch)']:.2f}")
    if args.baseline:
        print(f"resize + network / baseline resize + network (input {baseline.long_side} long side): "
              f"{times['resize + network'] / times['baseline resize + network']:.2f}")


if __name__ == "__main__":
    main()
