"""Firing on an empty real scene: how much of a person-free real picture the model calls person.

    .venv/bin/python benchmarks/person_free.py [--clip ../shared/data/videos/vtest.avi] [--model NAME] [--baseline NAME]

A static-camera clip with people walking through gives a person-free picture of its scene: the
per-pixel median over the clip (every 4th frame), where nobody stands still. The picture is
scored whole and as 9:16 crops (the framing of a phone clip) across its width; any pixel the
matte puts above 0.5 is a false positive, since there is nobody there. The shared
``vtest.avi`` (a street and a car park seen from above) is such a clip; its people are small, as
a distant dancer would be. No model here was trained on it. With ``--baseline`` another model is
scored on the same pictures in the same run. The model's matte is the bare network's, upsampled
to the picture (``Segmenter``), as in ``process`` before clean-up.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import numpy as np

from seg.metrics import person_share, portrait_windows
from seg.models import DEFAULT_MODEL
from seg.segmenter import Segmenter, SegmenterSettings

CROPS = 4  # 9:16 crops, evenly spread across the picture's width


def median_picture(clip: Path, every: int = 4) -> np.ndarray:
    """(H, W, 3) uint8 per-pixel median of every ``every``-th frame."""
    with av.open(str(clip)) as container:
        frames = [f.to_ndarray(format="rgb24") for i, f in enumerate(container.decode(video=0)) if i % every == 0]
    return np.median(np.stack(frames), axis=0).astype(np.uint8)


def pictures(plate: np.ndarray) -> dict[str, np.ndarray]:
    """The whole picture and its 9:16 crops."""
    height, width = plate.shape[:2]
    out = {f"whole {width}x{height}": plate}
    for rows, columns in portrait_windows(height, width, CROPS):
        out[f"9:16 crop at x={columns.start}"] = plate[rows, columns]
    return out


def false_positive_share(segmenter: Segmenter, picture: np.ndarray) -> float:
    return person_share(segmenter(picture[None])[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=Path("../shared/data/videos/vtest.avi"))
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--baseline", help="another model scored on the same pictures")
    args = parser.parse_args()
    models = {"model": Segmenter(SegmenterSettings(model=args.model, device="cpu"))}
    if args.baseline:
        models["baseline"] = Segmenter(SegmenterSettings(model=args.baseline, device="cpu"))
    scenes = pictures(median_picture(args.clip))
    print(f"person-free median picture of {args.clip.name}; share of the picture called person (0 is right)")
    print(f"{'picture':24s}" + "".join(f"{name:>10s}" for name in models))
    shares = {name: [] for name in models}
    for label, picture in scenes.items():
        row = {name: false_positive_share(s, picture) for name, s in models.items()}
        for name, value in row.items():
            shares[name].append(value)
        print(f"{label:24s}" + "".join(f"{value:10.3f}" for value in row.values()), flush=True)
    print(f"{'mean':24s}" + "".join(f"{np.mean(values):10.3f}" for values in shares.values()))


if __name__ == "__main__":
    main()
