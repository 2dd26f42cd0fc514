"""Burned-in captions: how much of a caption beside a person, or on an empty scene, the matte calls person.

    .venv/bin/python benchmarks/captions.py [--model NAME_OR_PATH] [--baseline NAME_OR_PATH] [--seed 0]

Phone clips often carry captions over or beside the dancer; their letters are not person. Each picture
gets one caption per style (``seg.captions.STYLES``) and font (Pillow's sans, which ``--captions`` training
draws, and OpenCV's putText faces, which it never draws), drawn with the same seed for every model:

- **Beside a person**: the CCP validation photos (stems divisible by 10). Scored on the caption's pixels at
  least 2 % of the picture's height from the person's mask (what touches the edge is left to the edge), as
  the share the everyone matte calls person with the caption and, at the same pixels, without it; and the IoU
  with and without the caption (an opaque box hides what it covers, so the truth loses those pixels).
- **On an empty scene**: the first 9:16 crop of each check-side photo of ``no-people``, the caption's
  pixels called person with and without the caption.

The matte is the everyone matte as ``eval`` scores it (``seg.evaluate.predicted_mask``: mirrored, with the
closer look and clean-up); the main-dancer matte keeps what touches the dancer, so it inherits what is
called person beside her.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from seg.captions import FONTS, STYLES, draw_caption
from seg.composite import Person
from seg.data import find_pairs, is_validation, read_rgb
from seg.evaluate import predicted_mask
from seg.metrics import iou, portrait_windows, share_away_from
from seg.models import DEFAULT_MODEL
from seg.person_evidence import PersonDetector
from seg.refine import MatteRefiner
from seg.segmenter import Segmenter, SegmenterSettings
from seg.splits import NO_PEOPLE_SPLIT, read_split
from seg.zoom import PersonZoom

MARGIN = 0.02  # caption pixels nearer the person than this share of the height are left out


@dataclass(frozen=True)
class Picture:
    rgb: np.ndarray
    truth: np.ndarray  # bool person mask; all False on a person-free photo


@dataclass(frozen=True)
class CaptionScore:
    style: str
    font: str
    with_caption: float  # share of the caption's scored pixels called person
    without: float  # the same pixels, the picture without the caption
    iou_with: float  # nan on a person-free picture
    iou_without: float


def pictures(ccp: Path, no_people: Path) -> dict[str, list[Picture]]:
    pairs, _ = find_pairs(ccp / "images", ccp / "masks")
    people = [Person.load(p.image, p.mask) for p in pairs if is_validation(p.stem)]
    empty = []
    for entry in read_split(NO_PEOPLE_SPLIT):
        if entry.side == "check":
            rgb = read_rgb(no_people / "photos" / entry.file, 1920)
            crop = np.ascontiguousarray(rgb[portrait_windows(*rgb.shape[:2])[0]])
            empty.append(Picture(crop, np.zeros(crop.shape[:2], bool)))
    return {"beside a person (CCP validation)": [Picture(p.rgb, p.alpha > 0.5) for p in people],
            "on an empty scene (no-people check crops)": empty}


def score_picture(picture: Picture, matte, seed: int) -> list[CaptionScore]:
    bare = matte(picture.rgb)
    height = picture.rgb.shape[0]
    scores = []
    for number, (style, font) in enumerate((s, f) for f in FONTS for s in STYLES):
        caption = draw_caption(picture.rgb, np.random.default_rng([seed, number]), style, font)
        called = matte(caption.image)
        truth = picture.truth & ~caption.hidden
        person = picture.truth.any()
        scores.append(CaptionScore(
            style, font,
            share_away_from(called, caption.covered, picture.truth, MARGIN * height),
            share_away_from(bare, caption.covered, picture.truth, MARGIN * height),
            iou(called, truth) if person else np.nan, iou(bare, truth) if person else np.nan))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--baseline", help="a second model scored on the same captions")
    parser.add_argument("--ccp", type=Path, default=Path("../shared/data/ccp-person"))
    parser.add_argument("--no-people", type=Path, default=Path("../shared/data/no-people"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sets = pictures(args.ccp, args.no_people)
    models = {"model": args.model} | ({"baseline": args.baseline} if args.baseline else {})
    print("share of the caption's pixels (>= 2 % of the height from the person) the everyone matte calls person,"
          "\nwith the caption / without it (0 is right); beside a person also the IoU with / without the caption")
    for name, model in models.items():
        segmenter = Segmenter(SegmenterSettings(model=model))
        refiner, zoom = MatteRefiner(), PersonZoom(segmenter, PersonDetector())

        def matte(rgb: np.ndarray) -> np.ndarray:
            return predicted_mask(rgb, segmenter, refiner, zoom)

        print(f"\n{name}: {model}")
        for label, chosen in sets.items():
            scores = [s for picture in chosen for s in score_picture(picture, matte, args.seed)]
            print(f"-- {label}: {len(chosen)} pictures")
            print(f"{'style':18s}{'font':>8s}{'called':>10s}{'bare':>8s}{'IoU':>8s}{'bare':>8s}")
            for font in FONTS:
                for style in STYLES:
                    rows = [s for s in scores if s.style == style and s.font == font]
                    print(f"{style:18s}{font:>8s}" + "".join(f"{value:{width}.4f}" for value, width in zip(
                        (np.nanmean([r.with_caption for r in rows]), np.nanmean([r.without for r in rows]),
                         np.mean([r.iou_with for r in rows]), np.mean([r.iou_without for r in rows])), (10, 8, 8, 8))), flush=True)
            print(f"{'all':26s}" + "".join(f"{value:{width}.4f}" for value, width in zip(
                (np.nanmean([s.with_caption for s in scores]), np.nanmean([s.without for s in scores]),
                 np.mean([s.iou_with for s in scores]), np.mean([s.iou_without for s in scores])), (10, 8, 8, 8))))


if __name__ == "__main__":
    main()
