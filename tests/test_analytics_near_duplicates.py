"""Near-duplicate clips from perceptual hashes of sampled frames."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from analytics.near_duplicates import MAX_DISTANCE_BITS, find_near_duplicates, frame_hashes, signature_distance
from pipelines.synthetic import SyntheticClipSpec, make_clip, procedural_person

SPEC = SyntheticClipSpec(width=64, height=112, frames=12, fps=12)


def recropped_copy(source: Path, copy: Path, crop_left: float, crop_top: float, scale: float) -> None:
    """Re-encode ``source`` (H.264, CRF 32, no audio) after cropping its left and top edges and rescaling."""
    with av.open(str(source)) as container:
        pictures = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    height, width = pictures[0].shape[:2]
    cropped = [p[round(crop_top * height) :, round(crop_left * width) :] for p in pictures]
    size = [round(side * scale) // 2 * 2 for side in cropped[0].shape[1::-1]]
    with av.open(str(copy), "w") as container:
        stream = container.add_stream("libx264", rate=SPEC.fps)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        stream.options = {"crf": "32"}
        for picture in cropped:
            resized = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(resized, format="rgb24")))
        container.mux(stream.encode())


@pytest.mark.parametrize(("crop_left", "crop_top", "scale"), [(0.08, 0.05, 0.75), (0.0, 0.0, 0.5), (0.1, 0.1, 1.0)])
def test_recropped_rescaled_reencode_is_flagged_and_other_dancers_are_not(tmp_path, crop_left, crop_top, scale):
    clips = {name: tmp_path / f"{name}.mp4" for name in ("original", "other", "copy")}
    make_clip(clips["original"], [procedural_person(96, 48, seed=0)], SPEC)
    make_clip(clips["other"], [procedural_person(96, 48, seed=5), procedural_person(96, 48, seed=6)],
              replace(SPEC, seed=7))
    recropped_copy(clips["original"], clips["copy"], crop_left, crop_top, scale)
    ((first, second, distance),) = find_near_duplicates(clips)
    assert {first, second} == {"original", "copy"}
    assert distance < MAX_DISTANCE_BITS


def test_hash_ignores_scaling_and_signature_distance_is_symmetric():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (2, 160, 90, 3), dtype=np.uint8)
    pictures = np.stack([cv2.GaussianBlur(n, (0, 0), 6) for n in noise])
    smaller = np.stack([cv2.resize(p, (45, 80), interpolation=cv2.INTER_AREA) for p in pictures])
    hashes, small_hashes = frame_hashes(pictures), frame_hashes(smaller)
    assert hashes.dtype == np.uint64
    assert np.bitwise_count(hashes ^ small_hashes).max() <= 4
    assert np.bitwise_count(hashes[0] ^ hashes[1]) > 16
    assert signature_distance(hashes, small_hashes) == signature_distance(small_hashes, hashes) <= 4
