"""Evaluation: mean IoU, Dice and boundary F over an image/mask folder pair.

By default the prediction is the product's matte: the network's probabilities cleaned up
and upsampled edge-aware to the image's own size with its luma as guide, exactly as
``process`` does for a frame (less the temporal smoothing, which needs a clip), then
thresholded at half opacity. ``refiner=None`` scores the bare network instead
(probabilities upsampled bilinearly, threshold 0.5), as training's validation does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from seg.composite import Person
from seg.data import find_pairs
from seg.metrics import boundary_f, dice, iou
from seg.refine import MatteRefiner
from seg.segmenter import Segmenter
from seg.zoom import PersonZoom


@dataclass(frozen=True)
class ImageScore:
    name: str
    iou: float
    dice: float
    boundary_f: float


@dataclass(frozen=True)
class EvalReport:
    matte: str  # "product" (closer look at small people, cleaned, edge-aware), "product without the closer look" or "network" (bilinear)
    mirror: bool  # each image also seen mirrored, the two passes averaged (``SegmenterSettings.mirror``)
    images: int
    iou: float
    dice: float
    boundary_f: float
    worst: list[ImageScore]
    skipped: list[str]

    def as_dict(self) -> dict:
        return {
            "matte": self.matte, "mirror": self.mirror, "images": self.images, "iou": self.iou, "dice": self.dice, "boundary_f": self.boundary_f,
            "worst": [s.__dict__ for s in self.worst], "skipped": self.skipped,
        }

    def as_text(self) -> str:
        mirror = ", mirrored pass" if self.mirror else ""
        lines = [f"{self.matte} matte{mirror}: images {self.images}  IoU {self.iou:.4f}  Dice {self.dice:.4f}  boundary F {self.boundary_f:.4f}"]
        if self.worst:
            lines.append("worst by IoU:")
            lines += [f"  {s.name}  IoU {s.iou:.4f}  Dice {s.dice:.4f}  BF {s.boundary_f:.4f}" for s in self.worst]
        lines += [f"skipped {line}" for line in self.skipped]
        return "\n".join(lines)


def score(pred: np.ndarray, truth: np.ndarray, name: str) -> ImageScore:
    return ImageScore(name, iou(pred, truth), dice(pred, truth), boundary_f(pred, truth))


def predicted_mask(rgb: np.ndarray, segmenter: Segmenter, refiner: MatteRefiner | None, zoom: PersonZoom | None = None) -> np.ndarray:
    """Boolean person mask of one RGB image at its own size (see the module docstring); ``zoom`` takes the
    closer look at small people that ``process`` takes (the product matte only)."""
    if refiner is None:
        return segmenter(rgb[None])[0] > 0.5
    small = segmenter.resize_for_network(rgb[None])
    probs = segmenter.probabilities(small)
    if zoom is not None:
        probs = zoom(rgb[None], zoom.windows(np.asarray(small)), probs)
    probs = refiner.clean(probs)
    return refiner.upsample(probs, [cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)])[0] >= 128


def evaluate(
    images: Path, masks: Path, segmenter: Segmenter, refiner: MatteRefiner | None = MatteRefiner(),
    worst: int = 10, progress: bool = True, only: Callable[[str], bool] | None = None, zoom: PersonZoom | None = None,
) -> EvalReport:
    """Segment every paired image (whose stem ``only`` accepts, if given) at its own size and compare with its mask
    (``zoom``: with the closer look at small people, see ``predicted_mask``)."""
    pairs, skipped = find_pairs(images, masks)
    pairs = [pair for pair in pairs if only is None or only(pair.stem)]
    scores = []
    for pair in tqdm(pairs, desc="eval", unit="image", disable=not progress):
        try:
            person = Person.load(pair.image, pair.mask)
        except ValueError as exc:
            skipped.append(str(exc))
            continue
        scores.append(score(predicted_mask(person.rgb, segmenter, refiner, zoom), person.alpha > 0.5, pair.image.name))
    matte = "network" if refiner is None else "product" if zoom is not None else "product without the closer look"
    if not scores:
        return EvalReport(matte, segmenter.mirror, 0, float("nan"), float("nan"), float("nan"), [], skipped)
    ranked = sorted(scores, key=lambda s: s.iou)
    return EvalReport(
        matte,
        segmenter.mirror,
        len(scores),
        float(np.mean([s.iou for s in scores])),
        float(np.mean([s.dice for s in scores])),
        float(np.mean([s.boundary_f for s in scores])),
        ranked[:worst],
        skipped,
    )
