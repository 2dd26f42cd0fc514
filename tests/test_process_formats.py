"""`dancematte process --format ...`: every export from one phone-like clip (rotated, VFR, odd size)."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from pipelines.cli import main
from pipelines.synthetic import SyntheticClipSpec, make_clip
from pipelines.video_io import read_alpha
from seg.metrics import iou

# A portrait phone clip stored landscape with 90-degree rotation metadata, at an odd display
# size (4:4:4, as 4:2:0 H.264 cannot be odd-sized), with irregular frame timing and an AAC track.
PHONE = SyntheticClipSpec(width=179, height=321, frames=20, fps=15, rotation=90, vfr=True, seed=5, pix_fmt="yuv444p")
MIN_IOU = 0.75  # as in test_process.py, less a margin for VP9/H.264 4:2:0 alpha and luma loss


@pytest.fixture(scope="module")
def phone_outputs(tmp_path_factory, validation_people):
    folder = tmp_path_factory.mktemp("phone")
    clip = folder / "phone clip.mp4"
    truth = make_clip(clip, validation_people[1:], PHONE)
    out = folder / "out"
    code = main(["process", str(clip), "--out", str(out), "--format", "prores,webm", "--format", "luma",
                 "--format", "png,composite", "--device", "cpu", "--quiet"])
    assert code == 0
    return clip, truth, out


def frame_times(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pts = np.array([f.pts for f in container.decode(stream)], dtype=np.float64)
        return (pts - pts[0]) * float(stream.time_base)


def audio_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        return sum(f.samples for f in container.decode(audio=0)) / container.streams.audio[0].rate


def test_manifest_lists_every_format(phone_outputs):
    _, _, out = phone_outputs
    (entry,) = json.loads((out / "manifest.json").read_text())
    names = sorted(Path(p).name for p in entry["outputs"])
    assert names == sorted(["phone clip.mov", "phone clip.webm", "phone clip.luma.mp4", "phone clip_png",
                            "phone clip.composite.mp4"])


@pytest.mark.parametrize("name", ["phone clip.mov", "phone clip.webm", "phone clip.luma.mp4", "phone clip.composite.mp4"])
def test_video_exports_are_upright_keep_vfr_timing_and_audio(phone_outputs, name):
    clip, truth, out = phone_outputs
    path = out / "mattes" / name
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        # upright at display size (odd sizes padded by one row/column for the 4:2:0 codecs)
        assert (stream.width, stream.height) == ((179, 321) if name.endswith(".mov") else (180, 322))
    tolerance = 1e-3 if name.endswith(".webm") else 1e-4  # WebM stores milliseconds
    assert np.allclose(frame_times(path), frame_times(clip), atol=tolerance)
    assert audio_seconds(path) == pytest.approx(audio_seconds(clip), abs=0.03)


@pytest.mark.parametrize("name", ["phone clip.mov", "phone clip.webm"])
def test_alpha_exports_carry_the_dancer(phone_outputs, name):
    _, truth, out = phone_outputs
    alpha = read_alpha(out / "mattes" / name)[:, :321, :179]
    assert alpha.shape == truth.shape
    assert np.mean([iou(a > 127, t > 0.5) for a, t in zip(alpha, truth)]) > MIN_IOU


def test_luma_picture_is_the_matte(phone_outputs):
    _, truth, out = phone_outputs
    with av.open(str(out / "mattes" / "phone clip.luma.mp4")) as container:
        grey = np.stack([f.to_ndarray(format="gray")[:321, :179] for f in container.decode(video=0)])
    assert np.mean([iou(g > 127, t > 0.5) for g, t in zip(grey, truth)]) > MIN_IOU


def test_png_sequence_is_rgba_numbered_from_zero(phone_outputs):
    _, truth, out = phone_outputs
    folder = out / "mattes" / "phone clip_png"
    files = sorted(folder.glob("*.png"))
    assert [f.name for f in files[:2]] == ["000000.png", "000001.png"] and len(files) == len(truth)
    with av.open(str(files[0])) as container:
        frame = next(container.decode(video=0))
        assert frame.format.name == "rgba" and (frame.width, frame.height) == (179, 321)
        assert iou(frame.to_ndarray()[..., 3] > 127, truth[0] > 0.5) > MIN_IOU
