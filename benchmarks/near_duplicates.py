"""Near-duplicate distances of perceptual hashes on synthetic copies: where to put the threshold.

    .venv/bin/python benchmarks/near_duplicates.py [--sizes 64x112,180x320] [--seeds 0,1,2] [--real CLIP ...]

For each size and seed a synthetic dance clip (``pipelines.synthetic``) gets copies re-encoded
(H.264 CRF 30 or 35), rescaled (50-100 %) and cropped (5 % per side; 10 % off one or two sides), and
another clip with other dancers over another background stands for a different clip. Prints, per
hash (the product's pHash, imagehash's dHash and wHash; 64 bits each), the clip distance
(``analytics.near_duplicates.signature_distance``) of every copy and of the different clips: a hash
separates well when the largest copy distance is far below the smallest different-clip distance.
``--real`` adds real clips: each gets one copy (5 % off every side, 75 %, CRF 32) and is compared with
every other real clip (clips of the same kind of scene, such as one dancer in a room, are the hard cases).
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

import av
import cv2
import numpy as np

from analytics.near_duplicates import MAX_DISTANCE_BITS, frame_hashes, hashes_to_uint64, signature_distance
from analytics.sampled_frames import sample_frames
from pipelines.synthetic import SyntheticClipSpec, make_clip, procedural_person

# (name, crop fractions left, top, right, bottom, scale, CRF)
COPIES = (
    ("re-encode crf35", (0, 0, 0, 0), 1.0, 35),
    ("rescale 50% crf30", (0, 0, 0, 0), 0.5, 30),
    ("crop 5% per side 75%", (0.05, 0.05, 0.05, 0.05), 0.75, 32),
    ("crop 10% left", (0.10, 0, 0, 0), 1.0, 32),
    ("crop 10% left+top 75%", (0.10, 0.10, 0, 0), 0.75, 32),
)
FRAMES = 16


def copy_clip(source: Path, copy: Path, crop: tuple[float, ...], scale: float, crf: int, fps: int) -> None:
    """Re-encode ``source`` with its edges cropped by the fractions ``crop`` (left, top, right, bottom), rescaled."""
    with av.open(str(source)) as container:
        pictures = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    height, width = pictures[0].shape[:2]
    left, top, right, bottom = crop
    cropped = [p[round(top * height) : height - round(bottom * height), round(left * width) : width - round(right * width)]
               for p in pictures]
    size = [max(round(side * scale) // 2 * 2, 16) for side in cropped[0].shape[1::-1]]
    with av.open(str(copy), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        stream.options = {"crf": str(crf)}
        for picture in cropped:
            resized = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(resized, format="rgb24")))
        container.mux(stream.encode())


def signatures(path: Path) -> dict[str, np.ndarray]:
    """The clip's 64-bit hashes of ``FRAMES`` sampled frames: the product's pHash and imagehash's dHash and wHash."""
    import imagehash  # noqa: PLC0415
    from PIL import Image  # noqa: PLC0415

    frames = sample_frames(path, FRAMES)
    pictures = [Image.fromarray(p) for p in frames]
    others = {"dhash": imagehash.dhash, "whash": imagehash.whash}
    library = {name: hashes_to_uint64([function(p) for p in pictures]) for name, function in others.items()}
    return {"phash": frame_hashes(frames)} | library


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64x112,180x320")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--real", nargs="*", type=Path, default=[])
    args = parser.parse_args()
    copies: dict[str, list[float]] = {}
    others: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        real = {path.name: signatures(path) for path in args.real}
        for i, path in enumerate(args.real):
            copy = Path(tmp) / "real-copy.mp4"
            copy_clip(path, copy, (0.05, 0.05, 0.05, 0.05), 0.75, 32, 25)
            for name, hashes in signatures(copy).items():
                copies.setdefault(name, []).append(signature_distance(real[path.name][name], hashes))
                print(f"{path.name} copy {name} {copies[name][-1]:g}")
            for other in args.real[i + 1 :]:
                for name in real[path.name]:
                    others.setdefault(name, []).append(signature_distance(real[path.name][name], real[other.name][name]))
                    print(f"{path.name} vs {other.name} {name} {others[name][-1]:g}")
        for size in args.sizes.split(","):
            width, height = map(int, size.split("x"))
            for seed in map(int, args.seeds.split(",")):
                spec = SyntheticClipSpec(width=width, height=height, frames=24, fps=12, seed=seed, audio=False)
                person_h, person_w = round(height * 0.85), round(width * 0.75)
                original, other = Path(tmp) / f"o{size}-{seed}.mp4", Path(tmp) / f"x{size}-{seed}.mp4"
                make_clip(original, [procedural_person(person_h, person_w, seed=seed)], spec)
                make_clip(other, [procedural_person(person_h, person_w, seed=seed + 50),
                                  procedural_person(person_h, person_w, seed=seed + 60)], replace(spec, seed=seed + 100))
                reference, different = signatures(original), signatures(other)
                for name, hashes in different.items():
                    others.setdefault(name, []).append(signature_distance(reference[name], hashes))
                for label, crop, scale, crf in COPIES:
                    copy = Path(tmp) / "copy.mp4"
                    copy_clip(original, copy, crop, scale, crf, spec.fps)
                    for name, hashes in signatures(copy).items():
                        distance = signature_distance(reference[name], hashes)
                        copies.setdefault(name, []).append(distance)
                        print(f"{size} seed {seed} {label:24s} {name} {distance:g}")
    print(f"threshold now {MAX_DISTANCE_BITS:g} bits (random hashes: 32)")
    for name in copies:
        print(f"{name}: copies {min(copies[name]):g}-{max(copies[name]):g} bits (median {np.median(copies[name]):g}), "
              f"different clips {min(others[name]):g}-{max(others[name]):g} (median {np.median(others[name]):g})")


if __name__ == "__main__":
    main()
