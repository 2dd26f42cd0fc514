"""Matte edges at full resolution: plain bilinear upsampling vs the edge-aware guided upsampling.

    .venv/bin/python benchmarks/edge_quality.py --images DIR --masks DIR [--model NAME] [--limit N]

On the validation split of an image/mask set (e.g. ../shared/data/ccp-person), segments
each image once at network resolution, upsamples the probabilities both ways to the
image's own size, and prints mean IoU and boundary F-score (threshold 0.5) for each, with
the default band (0.8% of the diagonal) and a strict 2 px band.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from seg.composite import Person
from seg.data import find_pairs, is_validation
from seg.metrics import boundary_f, iou
from seg.models import DEFAULT_MODEL
from seg.refine import RefineSettings, bilinear_upsample, guided_upsample
from seg.segmenter import Segmenter, SegmenterSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--masks", type=Path, required=True)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    segmenter = Segmenter(SegmenterSettings(model=args.model, device="cpu"))
    settings = RefineSettings()
    pairs = [p for p in find_pairs(args.images, args.masks)[0] if is_validation(p.stem)][: args.limit]
    scores: dict[str, list[tuple[float, float, float]]] = {"bilinear": [], "edge-aware": []}
    for pair in tqdm(pairs, unit="image"):
        person = Person.load(pair.image, pair.mask)
        prob = segmenter.probabilities(segmenter.resize_for_network(person.rgb[None]))[0]
        truth = person.alpha > 0.5
        grey = cv2.cvtColor(person.rgb, cv2.COLOR_RGB2GRAY)
        for name, matte in (
            ("bilinear", bilinear_upsample(prob, grey)),
            ("edge-aware", guided_upsample(prob, grey, settings.guide_radius, settings.guide_eps)),
        ):
            pred = matte >= 128  # uint8 alpha
            scores[name].append((iou(pred, truth), boundary_f(pred, truth), boundary_f(pred, truth, tolerance=2)))
    for name, values in scores.items():
        v = np.array(values)
        print(f"{name:10s} images {len(v)}  IoU {v[:, 0].mean():.4f}  boundary F {v[:, 1].mean():.4f}  "
              f"boundary F at 2 px {v[:, 2].mean():.4f}")


if __name__ == "__main__":
    main()
