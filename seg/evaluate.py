"""Evaluation: mean IoU, Dice and boundary F over an image/mask folder pair."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from seg.composite import Person
from seg.data import find_pairs
from seg.metrics import boundary_f, dice, iou
from seg.segmenter import Segmenter


@dataclass(frozen=True)
class ImageScore:
    name: str
    iou: float
    dice: float
    boundary_f: float


@dataclass(frozen=True)
class EvalReport:
    images: int
    iou: float
    dice: float
    boundary_f: float
    worst: list[ImageScore]
    skipped: list[str]

    def as_dict(self) -> dict:
        return {
            "images": self.images, "iou": self.iou, "dice": self.dice, "boundary_f": self.boundary_f,
            "worst": [s.__dict__ for s in self.worst], "skipped": self.skipped,
        }

    def as_text(self) -> str:
        lines = [f"images {self.images}  IoU {self.iou:.4f}  Dice {self.dice:.4f}  boundary F {self.boundary_f:.4f}"]
        if self.worst:
            lines.append("worst by IoU:")
            lines += [f"  {s.name}  IoU {s.iou:.4f}  Dice {s.dice:.4f}  BF {s.boundary_f:.4f}" for s in self.worst]
        lines += [f"skipped {line}" for line in self.skipped]
        return "\n".join(lines)


def score(pred: np.ndarray, truth: np.ndarray, name: str) -> ImageScore:
    return ImageScore(name, iou(pred, truth), dice(pred, truth), boundary_f(pred, truth))


def evaluate(images: Path, masks: Path, segmenter: Segmenter, worst: int = 10, progress: bool = True) -> EvalReport:
    """Segment every paired image at its own size and compare with its mask (threshold 0.5)."""
    pairs, skipped = find_pairs(images, masks)
    scores = []
    for pair in tqdm(pairs, desc="eval", unit="image", disable=not progress):
        try:
            person = Person.load(pair.image, pair.mask)
        except ValueError as exc:
            skipped.append(str(exc))
            continue
        scores.append(score(segmenter(person.rgb[None])[0] > 0.5, person.alpha > 0.5, pair.image.name))
    if not scores:
        return EvalReport(0, float("nan"), float("nan"), float("nan"), [], skipped)
    ranked = sorted(scores, key=lambda s: s.iou)
    return EvalReport(
        len(scores),
        float(np.mean([s.iou for s in scores])),
        float(np.mean([s.dice for s in scores])),
        float(np.mean([s.boundary_f for s in scores])),
        ranked[:worst],
        skipped,
    )
