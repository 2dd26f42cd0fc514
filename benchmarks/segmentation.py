"""Segmentation speed: milliseconds per 1080x1920 frame at a given batch size.

    .venv/bin/python benchmarks/segmentation.py [--model NAME] [--device auto] [--batch-size 8] [--batches 10]

Prints the time of the network resize + forward pass alone, and the edge-aware
upsampling to full resolution alone, each as ms/frame and fps. Warm-up batches are excluded.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from seg.models import DEFAULT_MODEL
from seg.refine import MatteRefiner
from seg.segmenter import Segmenter, SegmenterSettings


def timed(fn, repeats: int) -> float:
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--width", type=int, default=1080)
    parser.add_argument("--height", type=int, default=1920)
    args = parser.parse_args()
    segmenter = Segmenter(SegmenterSettings(model=args.model, device=args.device))
    refiner = MatteRefiner()
    frames = np.random.default_rng(0).integers(0, 255, (args.batch_size, args.height, args.width, 3), dtype=np.uint8)
    small = segmenter.resize_for_network(frames)
    probs = segmenter.probabilities(small)
    print(f"device {segmenter.device}, dtype {segmenter.dtype}, threads {torch.get_num_threads()}, "
          f"input {args.width}x{args.height} -> network {small.shape[2]}x{small.shape[1]}, batch {args.batch_size}")
    rows = {
        "resize": lambda: segmenter.resize_for_network(frames),
        "network": lambda: segmenter.probabilities(small),
        "resize + network": lambda: segmenter.probabilities(segmenter.resize_for_network(frames)),
        "edge-aware upsample": lambda: refiner.upsample(probs, frames),
    }
    for name, fn in rows.items():
        per_frame = timed(fn, args.batches) / args.batch_size
        print(f"{name:22s} {per_frame * 1000:7.2f} ms/frame  {1 / per_frame:8.1f} fps")


if __name__ == "__main__":
    main()
