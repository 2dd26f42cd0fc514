"""Real-footage check: the model's matte scored where two teacher models agree.

    .venv/bin/python benchmarks/consensus.py --images build/teacher/images \\
        --teachers build/teacher/masks build/rvm/masks [--model NAME] [--mattes OUT/mattes]

No labelled dance video ships with the project, so real frames are labelled by teachers
(``teacher_masks.py``: MediaPipe's pose segmentation; ``rvm_masks.py``: Robust Video Matting),
each with its own errors: agreement with one teacher mixes the model's errors with the teacher's.
A pixel where every teacher agrees is very likely right; the score is the IoU over those pixels
only (the share left out is printed), beside the plain agreement with each teacher. Both teachers
keep one main person and leave out a second one: the model's matte (everyone, as ``eval`` scores
it) loses there. ``--mattes`` also scores what ``dancematte process --format png`` wrote (by
default the main dancer's matte, tracked over the whole clip): ``MATTES/<video>_png/<frame>.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from seg.evaluate import predicted_mask
from seg.metrics import consensus_iou, iou
from seg.models import DEFAULT_MODEL
from seg.refine import MatteRefiner
from seg.segmenter import Segmenter, SegmenterSettings


def teacher_mask(folder: Path, stem: str, shape: tuple[int, int]) -> np.ndarray:
    mask = cv2.imread(str(folder / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise SystemExit(f"{folder}: no mask {stem}.png")
    return cv2.resize(mask, shape[::-1], interpolation=cv2.INTER_NEAREST) > 127


def process_matte(mattes: Path, stem: str, shape: tuple[int, int]) -> np.ndarray:
    """The alpha ``process --format png`` wrote for frame ``<video>_<index>``, thresholded at half opacity."""
    video, _, index = stem.rpartition("_")
    rgba = cv2.imread(str(mattes / f"{video}_png" / f"{int(index):06d}.png"), cv2.IMREAD_UNCHANGED)
    if rgba is None:
        raise SystemExit(f"{mattes}: no matte for {stem} (run dancematte process --format png on {video} first)")
    return cv2.resize(rgba[..., 3], shape[::-1], interpolation=cv2.INTER_AREA) >= 128


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--teachers", type=Path, nargs="+", required=True, help="mask folders, one per teacher")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--mattes", type=Path, help="a process --format png output's mattes folder, also scored")
    args = parser.parse_args()
    segmenter, refiner = Segmenter(SegmenterSettings(model=args.model)), MatteRefiner()
    rows = {"model's matte (everyone)": [], **({"process mattes": []} if args.mattes else {})}
    names = sorted(p for p in args.images.iterdir() if p.suffix.lower() in {".jpg", ".png"})
    for image in names:
        rgb = cv2.cvtColor(cv2.imread(str(image)), cv2.COLOR_BGR2RGB)
        teachers = [teacher_mask(folder, image.stem, rgb.shape[:2]) for folder in args.teachers]
        preds = [predicted_mask(rgb, segmenter, refiner)]
        if args.mattes:
            preds.append(process_matte(args.mattes, image.stem, rgb.shape[:2]))
        for scores, pred in zip(rows.values(), preds):
            scores.append((*consensus_iou(pred, teachers), *(iou(pred, t) for t in teachers), image.stem))
    print(f"{len(names)} frames, teachers: {', '.join(str(t) for t in args.teachers)}")
    header = f"{'':26s} {'consensus IoU':>14s} {'left out':>9s} " + " ".join(f"{'vs ' + t.parent.name:>14s}" for t in args.teachers)
    print(header)
    for label, scores in rows.items():
        columns = np.array([s[:-1] for s in scores], float).mean(axis=0)
        print(f"{label:26s} {columns[0]:14.3f} {columns[1]:9.1%} " + " ".join(f"{c:14.3f}" for c in columns[2:]))
        worst = sorted(scores)[:5]
        print(f"{'':26s} worst: " + ", ".join(f"{s[-1]} {s[0]:.3f}" for s in worst))


if __name__ == "__main__":
    main()
