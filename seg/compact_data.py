"""A compact copy of training data, small enough to carry to a lent GPU machine.

    python -m seg.compact_data IMAGES MASKS OUT [--long-side 400] [--quality 85]
    python -m seg.compact_data --tree SOURCE OUT [--long-side 960] [--quality 90]

Image/mask pairs: images are shrunk (area filter, never enlarged) to ``--long-side`` and stored
as WebP; masks are shrunk the same way, thresholded at half and stored as 1-bit PNG (non-zero =
person, as ``dancematte train`` reads them). Pairs keep their stems, so the fixed validation
split stays the same. The 1,003 CCP photos (55 MB) become ~19 MB at the defaults.

``--tree``: a folder copied whole with every picture shrunk the same way but kept under its own
name and format (JPEG and WebP re-encoded at ``--quality``, PNG lossless, so an 8-bit probability
label stays soft), anything else copied as it is: for the teacher-labelled frames (``images/``,
``labels/`` and ``meta/`` keep matching, since a frame and its label share a size) and the
person-free photos, which training reads by name. Training shrinks real frames to 1920 and
person-free photos to 960 pixels and cuts them to 320-pixel canvases, so 960 loses nothing it uses.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

from seg.data import find_pairs


def shrunk(picture: np.ndarray, long_side: int) -> np.ndarray:
    """``picture`` shrunk with the area filter so its long side is at most ``long_side`` (never enlarged)."""
    height, width = picture.shape[:2]
    scale = min(1.0, long_side / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return picture if size == (width, height) else cv2.resize(picture, size, interpolation=cv2.INTER_AREA)


def compact_pair(image: Path, mask: Path, out: Path, long_side: int, quality: int) -> None:
    """Write ``out/images/<stem>.webp`` and ``out/masks/<stem>.png`` for one pair."""
    picture = cv2.imread(str(image), cv2.IMREAD_COLOR)
    matte = cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE)
    if picture is None or matte is None or picture.shape[:2] != matte.shape:
        raise ValueError(f"{image.name}: unreadable, or its mask differs in size")
    matte = shrunk(np.where(matte > 0, 255, 0).astype(np.uint8), long_side)
    cv2.imwrite(str(out / "images" / f"{image.stem}.webp"), shrunk(picture, long_side), [cv2.IMWRITE_WEBP_QUALITY, quality])
    Image.fromarray(matte >= 128).save(out / "masks" / f"{image.stem}.png", optimize=True)


ENCODED = {".jpg": cv2.IMWRITE_JPEG_QUALITY, ".jpeg": cv2.IMWRITE_JPEG_QUALITY, ".webp": cv2.IMWRITE_WEBP_QUALITY}
PICTURES = {*ENCODED, ".png"}


def compact_picture(source: Path, target: Path, long_side: int, quality: int) -> None:
    """``source`` shrunk (area filter, never enlarged) to ``long_side``, written to ``target`` in its own format."""
    picture = cv2.imread(str(source), cv2.IMREAD_UNCHANGED)
    if picture is None:
        raise ValueError(f"{source}: not a readable image")
    suffix = source.suffix.lower()
    options = [ENCODED[suffix], quality] if suffix in ENCODED else [cv2.IMWRITE_PNG_COMPRESSION, 9]
    if not cv2.imwrite(str(target), shrunk(picture, long_side), options):
        raise ValueError(f"{target}: could not be written")


def compact_tree(source: Path, out: Path, long_side: int, quality: int) -> list[str]:
    """Copy ``source`` into ``out`` with its pictures compacted (``compact_picture``); the problems, one line each."""
    problems = []
    for path in tqdm(sorted(p for p in source.rglob("*") if p.is_file()), unit="file"):
        target = out / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            if path.suffix.lower() in PICTURES:
                compact_picture(path, target, long_side, quality)
            else:
                shutil.copyfile(path, target)
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def compact_pairs(images: Path, masks: Path, out: Path, long_side: int, quality: int) -> list[str]:
    """``compact_pair`` for every image/mask pair; the pairs left out, one line each."""
    pairs, problems = find_pairs(images, masks)
    for folder in ("images", "masks"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    for pair in tqdm(pairs, unit="pair"):
        try:
            compact_pair(pair.image, pair.mask, out, long_side, quality)
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", type=Path, nargs="+", help="IMAGES MASKS OUT, or with --tree SOURCE OUT")
    parser.add_argument("--tree", action="store_true", help="copy a whole folder, pictures compacted under their own names")
    parser.add_argument("--long-side", type=int, help="default 400 (pairs), 960 (--tree)")
    parser.add_argument("--quality", type=int, help="WebP / JPEG quality; default 85 (pairs), 90 (--tree)")
    args = parser.parse_args(argv)
    if len(args.paths) != (2 if args.tree else 3):
        parser.error("give SOURCE OUT with --tree, else IMAGES MASKS OUT")
    if args.tree:
        problems = compact_tree(*args.paths, args.long_side or 960, args.quality or 90)
    else:
        problems = compact_pairs(*args.paths, args.long_side or 400, args.quality or 85)
    for line in problems:
        print(f"skipped {line}")


if __name__ == "__main__":
    main()
