"""A compact copy of an image/mask training set, small enough to carry to a lent GPU machine.

    python -m seg.compact_data IMAGES MASKS OUT [--long-side 400] [--quality 85]

Images are shrunk (area filter, never enlarged) to ``--long-side`` and stored as WebP;
masks are shrunk the same way, thresholded at half and stored as 1-bit PNG (non-zero =
person, as ``dancematte train`` reads them). Pairs keep their stems, so the fixed validation
split stays the same. The 1,003 CCP photos (55 MB) become ~19 MB at the defaults.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

from seg.data import find_pairs


def compact_pair(image: Path, mask: Path, out: Path, long_side: int, quality: int) -> None:
    """Write ``out/images/<stem>.webp`` and ``out/masks/<stem>.png`` for one pair."""
    picture = cv2.imread(str(image), cv2.IMREAD_COLOR)
    matte = cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE)
    if picture is None or matte is None or picture.shape[:2] != matte.shape:
        raise ValueError(f"{image.name}: unreadable, or its mask differs in size")
    height, width = matte.shape
    scale = min(1.0, long_side / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if size != (width, height):
        picture = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
        matte = cv2.resize(np.where(matte > 0, 255, 0).astype(np.uint8), size, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(out / "images" / f"{image.stem}.webp"), picture, [cv2.IMWRITE_WEBP_QUALITY, quality])
    Image.fromarray(matte >= 128).save(out / "masks" / f"{image.stem}.png", optimize=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", type=Path)
    parser.add_argument("masks", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--long-side", type=int, default=400)
    parser.add_argument("--quality", type=int, default=85, help="WebP quality")
    args = parser.parse_args(argv)
    pairs, problems = find_pairs(args.images, args.masks)
    for folder in ("images", "masks"):
        (args.out / folder).mkdir(parents=True, exist_ok=True)
    for pair in tqdm(pairs, unit="pair"):
        try:
            compact_pair(pair.image, pair.mask, args.out, args.long_side, args.quality)
        except ValueError as exc:
            problems.append(str(exc))
    for line in problems:
        print(f"skipped {line}")


if __name__ == "__main__":
    main()
