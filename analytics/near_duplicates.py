"""Near-duplicate clips (re-uploads, re-encodes, slight re-crops or rescales) from perceptual frame hashes.

A clip's signature is the 64-bit pHash of ``SIGNATURE_FRAMES`` frames sampled evenly over its duration
(``analytics.sampled_frames``), computed by the ``imagehash`` library: the grey frame shrunk to 32x32, its
2-D DCT, and one bit per coefficient of the lowest 8x8 frequencies, 1 where it exceeds their median. Low
frequencies survive compression, scaling and crops of a few percent. imagehash's dHash and wHash were
measured too and separate copies from other clips less well (benchmarks/near_duplicates.py).

Distance of two signatures: each sampled frame of either clip is matched to its nearest frame (fewest
differing bits) in the other clip, and the distance is the median of these best-match Hamming distances
(0..64). Matching the nearest frame, not the frame at the same moment, tolerates trims and small offsets;
the median ignores a few unmatched frames (an intro card, a cut). Clips are near-duplicates when the
distance is below ``MAX_DISTANCE_BITS`` = 16, set between the distances of re-encoded, rescaled and cropped
copies and those of different clips (figures in benchmarks/README; the hard cases are different clips of
the same kind of scene, such as two talking heads on plain backgrounds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from analytics.sampled_frames import sample_frames

if TYPE_CHECKING:
    from imagehash import ImageHash

SIGNATURE_FRAMES = 16
MAX_DISTANCE_BITS = 16.0
_HASH_SIDE = 32  # imagehash's pHash takes the DCT of a 32x32 picture
_BIT_WEIGHTS = np.uint64(1) << np.arange(64, dtype=np.uint64)


def hashes_to_uint64(hashes: Sequence[ImageHash]) -> np.ndarray:
    """64-bit imagehash hashes as uint64, so that Hamming distances are one XOR and a bit count."""
    bits = np.stack([h.hash.reshape(-1) for h in hashes]) if hashes else np.zeros((0, 64), bool)
    return (bits.astype(np.uint64) * _BIT_WEIGHTS).sum(axis=1, dtype=np.uint64)


def frame_hashes(rgb: np.ndarray) -> np.ndarray:
    """The 64-bit pHash (uint64) of each RGB frame in ``rgb`` (N, H, W, 3): imagehash's, of the grey frame
    first shrunk to 32x32 by area averaging (PIL's resize inside imagehash aliases more across frame sizes)."""
    import imagehash  # noqa: PLC0415 - only the report needs it
    from PIL import Image  # noqa: PLC0415

    side = _HASH_SIDE
    small = [cv2.resize(cv2.cvtColor(p, cv2.COLOR_RGB2GRAY), (side, side), interpolation=cv2.INTER_AREA) for p in rgb]
    return hashes_to_uint64([imagehash.phash(Image.fromarray(picture)) for picture in small])


def clip_signature(path: Path, frames: int = SIGNATURE_FRAMES) -> np.ndarray:
    """The pHashes (uint64) of ``frames`` frames sampled evenly over the clip at ``path``."""
    return frame_hashes(sample_frames(path, frames))


def signature_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Median over the frames of both signatures of the Hamming distance to the nearest frame of the other."""
    bits = np.bitwise_count(first[:, None] ^ second[None, :])
    return float(np.median(np.concatenate([bits.min(axis=1), bits.min(axis=0)])))


def near_duplicate_pairs(
    signatures: Mapping[str, np.ndarray], max_distance: float = MAX_DISTANCE_BITS
) -> list[tuple[str, str, float]]:
    """``(clip, other clip, distance)`` for every pair less than ``max_distance`` apart, closest first."""
    clips = list(signatures)
    pairs = [
        (first, second, distance)
        for i, first in enumerate(clips)
        for second in clips[i + 1 :]
        if (distance := signature_distance(signatures[first], signatures[second])) < max_distance
    ]
    return sorted(pairs, key=lambda pair: pair[2])


def find_near_duplicates(
    clips: Mapping[str, Path], max_distance: float = MAX_DISTANCE_BITS
) -> list[tuple[str, str, float]]:
    """Near-duplicate pairs among ``clips`` (clip id -> source video), closest first."""
    return near_duplicate_pairs({clip: clip_signature(path) for clip, path in clips.items()}, max_distance)
