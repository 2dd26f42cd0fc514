"""Where the model breaks: IoU on held-out people under dance-footage conditions, one at a time.

    .venv/bin/python benchmarks/robustness.py --images DIR --masks DIR [--model NAME] [--baseline NAME] [--limit N]

Each validation person of the fixed split (never trained on) is pasted onto a 720x1280
(9:16) background, the kind a phone records, and scored against its known matte at that
resolution under one condition at a time: clean, leaning 35 degrees, lying on the floor
(90 degrees), upside down, far away (35% of the frame height), a close-up of the upper
body, strong motion blur (a 41-pixel streak at 720p), a dim noisy room, heavy JPEG
compression. Backgrounds are person-free strips of the photos or procedural clutter, and
every condition uses the same people, backgrounds and seed, so rows compare. With
``--baseline`` another model is scored on the same canvases in the same run.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from seg.composite import Person, Placement, paste
from seg.data import BackgroundBank, find_pairs, is_validation, line_kernel, load_people
from seg.metrics import iou
from seg.models import DEFAULT_MODEL
from seg.segmenter import Segmenter, SegmenterSettings

WIDTH, HEIGHT = 720, 1280
Canvas = tuple[np.ndarray, np.ndarray]  # RGB uint8, matte float32


def dim_and_noisy(canvas: Canvas, rng: np.random.Generator) -> Canvas:
    image, matte = canvas
    dark = (image.astype(np.float32) / 255) ** 2.2 * 255 * 0.6
    return np.clip(dark + rng.normal(0, 10, image.shape), 0, 255).astype(np.uint8), matte


def motion_blurred(canvas: Canvas, rng: np.random.Generator) -> Canvas:
    kernel = line_kernel(41, rng.uniform(0, 180))
    return cv2.filter2D(canvas[0], -1, kernel), cv2.filter2D(canvas[1], -1, kernel)


def jpeg_q15(canvas: Canvas, rng: np.random.Generator) -> Canvas:
    _, data = cv2.imencode(".jpg", canvas[0], [cv2.IMWRITE_JPEG_QUALITY, 15])
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED), canvas[1]


CENTRE = Placement(WIDTH / 2, HEIGHT / 2, HEIGHT * 0.85)
# condition -> (placement, effect applied to the composite)
CONDITIONS: dict[str, tuple[Placement, Callable[[Canvas, np.random.Generator], Canvas] | None]] = {
    "clean": (CENTRE, None),
    "leaning 35 deg": (replace(CENTRE, angle_deg=35, height=HEIGHT * 0.75), None),
    "lying (90 deg)": (replace(CENTRE, angle_deg=90, height=WIDTH * 0.9), None),
    "upside down": (replace(CENTRE, angle_deg=180), None),
    "far (35% high)": (replace(CENTRE, height=HEIGHT * 0.35, center_y=HEIGHT * 0.7), None),
    "close-up": (replace(CENTRE, height=HEIGHT * 2.6, center_y=HEIGHT * 1.35), None),
    "motion blur 41 px": (CENTRE, motion_blurred),
    "dim, noisy room": (CENTRE, dim_and_noisy),
    "JPEG quality 15": (CENTRE, jpeg_q15),
}


def canvases(people: list[Person], backgrounds: BackgroundBank, condition: str) -> list[Canvas]:
    where, effect = CONDITIONS[condition]
    rng = np.random.default_rng(0)  # the same backgrounds and effects for every condition and model
    out = []
    for person in people:
        image, matte = paste(backgrounds.sample(rng, HEIGHT, WIDTH), person, where)
        out.append(effect((image, matte), rng) if effect else (image, matte))
    return out


def mean_iou(segmenter: Segmenter, batch: list[Canvas]) -> float:
    scores = []
    for start in range(0, len(batch), 8):
        chunk = batch[start : start + 8]
        mattes = segmenter(np.stack([image for image, _ in chunk]))
        scores += [iou(m > 0.5, truth > 0.5) for m, (_, truth) in zip(mattes, chunk)]
    return float(np.mean(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--masks", type=Path, required=True)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--baseline", help="another model scored on the same canvases")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    pairs = [p for p in find_pairs(args.images, args.masks)[0] if is_validation(p.stem)][: args.limit]
    people = [person.cropped() for person in load_people(pairs)[0]]
    backgrounds = BackgroundBank(people)
    models = {"model": Segmenter(SegmenterSettings(model=args.model, device="cpu"))}
    if args.baseline:
        models["baseline"] = Segmenter(SegmenterSettings(model=args.baseline, device="cpu"))
    print(f"{len(people)} held-out people on {WIDTH}x{HEIGHT} canvases; mean IoU at that size")
    print(f"{'condition':20s}" + "".join(f"{name:>10s}" for name in models))
    for condition in CONDITIONS:
        batch = canvases(people, backgrounds, condition)
        print(f"{condition:20s}" + "".join(f"{mean_iou(s, batch):10.4f}" for s in models.values()), flush=True)


if __name__ == "__main__":
    main()
