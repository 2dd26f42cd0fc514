"""Temporal stability: matte flicker on a still dancer, and lag on a moving one, with and without smoothing.

    .venv/bin/python benchmarks/flicker.py [--model NAME] [--frames 48] [--no-mirror] [--long-side N]

Still clip: one validation person pasted once over a fixed background; each frame gets
fresh sensor noise and JPEG compression (what a phone does to a still scene). Flicker =
mean |alpha_t - alpha_t-1| over the pixels near the person's edge (where flicker shows: a band
of 15 px at the clip's 360x640, the probabilities upsampled bilinearly to it, so models with
different input sizes compare), in alpha units 0..1.
Moving clip: the synthetic dance (pipelines/synthetic.py); mean IoU against the exact
matte shows whether smoothing makes the matte lag behind fast motion.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np

from pipelines.synthetic import SyntheticClipSpec, make_clip
from pipelines.video_io import ClipReader
from seg.composite import Person, Placement, paste, procedural_background
from seg.metrics import iou
from seg.models import DEFAULT_MODEL
from seg.refine import MatteRefiner
from seg.segmenter import Segmenter, SegmenterSettings

PEOPLE = Path(__file__).resolve().parent.parent / "tests" / "data" / "people"


def still_frames(person: Person, frames: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    background = procedural_background(rng, 640, 360)
    picture, truth = paste(background, person, Placement(180, 340, 520))
    noisy = []
    for _ in range(frames):
        frame = np.clip(picture + rng.normal(0, 6, picture.shape), 0, 255).astype(np.uint8)
        ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 60])
        noisy.append(cv2.imdecode(jpeg, cv2.IMREAD_UNCHANGED))
    return np.stack(noisy), truth


def edge_band(truth: np.ndarray, width: int = 15) -> np.ndarray:
    mask = (truth > 0.5).astype(np.uint8)
    kernel = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    return (cv2.dilate(mask, kernel) - cv2.erode(mask, kernel)).astype(bool)


def flicker(probs: np.ndarray, band: np.ndarray) -> float:
    """Mean frame-to-frame change inside ``band`` of the probabilities upsampled to the band's size."""
    height, width = band.shape
    full = np.stack([cv2.resize(p, (width, height), interpolation=cv2.INTER_LINEAR) for p in probs])
    return float(np.abs(np.diff(full, axis=0))[:, band].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=True,
                        help="each frame also seen mirrored, as process does by default")
    parser.add_argument("--long-side", type=int, help="whole frames at this long side (default: the model's own)")
    args = parser.parse_args()
    segmenter = Segmenter(SegmenterSettings(model=args.model, device="cpu", mirror=args.mirror, long_side=args.long_side))
    refiner = MatteRefiner()
    person = Person.load(PEOPLE / "images" / "0010.jpg", PEOPLE / "masks" / "0010.png").cropped()
    rng = np.random.default_rng(0)

    frames, truth = still_frames(person, args.frames, rng)
    small = segmenter.resize_for_network(frames)
    raw = segmenter.probabilities(small)
    smoothed = refiner.temporal()(raw)
    band = edge_band(truth)
    print(f"still dancer, flicker near the edge: raw {flicker(raw, band):.4f}  smoothed {flicker(smoothed, band):.4f}  "
          f"(x{flicker(raw, band) / max(flicker(smoothed, band), 1e-9):.1f} steadier)")

    with tempfile.TemporaryDirectory() as work:
        clip = Path(work) / "moving.mp4"
        mattes = make_clip(clip, [person], SyntheticClipSpec(width=360, height=640, frames=args.frames, fps=30, audio=False))
        with ClipReader(clip) as reader:
            rgb = np.concatenate([b.rgb for b in reader])
    raw = segmenter.probabilities(segmenter.resize_for_network(rgb))
    smoothed = refiner.temporal()(raw)
    size = raw.shape[2:0:-1]
    truth_small = np.stack([cv2.resize(m, size, interpolation=cv2.INTER_AREA) for m in mattes]) > 0.5
    scores = {name: np.mean([iou(p > 0.5, t) for p, t in zip(probs, truth_small)]) for name, probs in (("raw", raw), ("smoothed", smoothed))}
    print(f"moving dancer, mean IoU: raw {scores['raw']:.4f}  smoothed {scores['smoothed']:.4f}")


if __name__ == "__main__":
    main()
