"""Near-duplicate clips (re-uploads, re-encodes, slight re-crops or rescales) from perceptual frame hashes.

A clip's signature is the 64-bit pHash of ``SIGNATURE_FRAMES`` frames sampled evenly over its duration
(``analytics.sampled_frames``). pHash: the grey frame shrunk to 32x32 (area averaging), its 2-D DCT, and one
bit per coefficient of the lowest 8x8 frequencies: 1 where the coefficient exceeds their median (DC left
out of the median). Low frequencies survive compression, scaling and crops of a few percent.

Distance of two signatures: each sampled frame of either clip is matched to its nearest frame (fewest
differing bits) in the other clip, and the distance is the median of these best-match Hamming distances
(0..64). Matching the nearest frame, not the frame at the same moment, tolerates trims and small offsets;
the median ignores a few unmatched frames (an intro card, a cut). Clips are near-duplicates when the
distance is below ``MAX_DISTANCE_BITS`` = 16. Measured on synthetic 64x112 and 180x320 clips re-encoded
(H.264 CRF 30-35) and rescaled to 50-100 %: crops of 5 % per side gave at most 10 bits, 10 % off one or two
sides at most 14; different synthetic dancers over different backgrounds gave 22-28 (random hashes: 32).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np

from analytics.sampled_frames import sample_frames

SIGNATURE_FRAMES = 16
MAX_DISTANCE_BITS = 16.0
_HASH_SIDE = 32  # the frame is shrunk to HASH_SIDE x HASH_SIDE before the DCT
_FREQUENCIES = 8  # the lowest FREQUENCIES x FREQUENCIES DCT coefficients give the 64 bits
_BIT_WEIGHTS = np.uint64(1) << np.arange(_FREQUENCIES**2, dtype=np.uint64)
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], np.float32)


def _dct_basis(size: int, frequencies: int) -> np.ndarray:
    """Rows of the orthonormal DCT-II matrix for the lowest ``frequencies`` (as ``cv2.dct`` scales them)."""
    k, n = np.arange(frequencies)[:, None], np.arange(size)[None, :]
    scale = np.where(k == 0, np.sqrt(1 / size), np.sqrt(2 / size))
    return (scale * np.cos(np.pi * (2 * n + 1) * k / (2 * size))).astype(np.float32)


_LOW_DCT = _dct_basis(_HASH_SIDE, _FREQUENCIES)


def frame_hashes(rgb: np.ndarray) -> np.ndarray:
    """The 64-bit pHash (uint64) of each RGB frame in ``rgb`` (N, H, W, 3)."""
    grey = rgb.astype(np.float32) @ _LUMA_WEIGHTS
    small = np.stack([cv2.resize(g, (_HASH_SIDE, _HASH_SIDE), interpolation=cv2.INTER_AREA) for g in grey])
    coefficients = (_LOW_DCT @ small @ _LOW_DCT.T).reshape(len(rgb), -1)
    bits = coefficients > np.median(coefficients[:, 1:], axis=1, keepdims=True)
    return (bits.astype(np.uint64) * _BIT_WEIGHTS).sum(axis=1, dtype=np.uint64)


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
