"""Audio stays in sync with the picture over a 3-minute clip, in every export that carries audio."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from pipelines.cli import main
from pipelines.synthetic import SyntheticClipSpec, make_clip, procedural_person

FPS = 6  # few frames keep the 3 minutes quick to segment; the audio check does not depend on the rate
LONG = SyntheticClipSpec(width=64, height=112, frames=180 * FPS, fps=FPS, click_every_s=10.0)
OUTPUTS = ["long.mov", "long.webm", "long.luma.mp4", "long.composite.mp4"]


def click_times(path: Path) -> np.ndarray:
    """Presentation times (s) of the clicks: the first sample above 0.6 after at least 1 s without one."""
    loud = []
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.audio[0]):
            samples = frame.to_ndarray()
            if np.issubdtype(samples.dtype, np.integer):  # PCM
                samples = samples / np.iinfo(samples.dtype).max
            peaks = np.flatnonzero(np.abs(samples).max(axis=0) > 0.6)
            loud.append(float(frame.pts * frame.time_base) + peaks / frame.sample_rate)
    times = np.concatenate(loud)
    return times[np.diff(times, prepend=-np.inf) > 1.0]


def video_times(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return np.array([float(f.pts * stream.time_base) for f in container.decode(stream)])


@pytest.fixture(scope="module")
def long_outputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("long")
    make_clip(folder / "long.mp4", [procedural_person()], LONG)
    code = main(["process", str(folder / "long.mp4"), "--out", str(folder / "out"), "--format",
                 "prores,webm,luma,composite", "--device", "cpu", "--quiet"])
    assert code == 0
    return folder / "long.mp4", folder / "out" / "mattes"


@pytest.mark.slow
@pytest.mark.parametrize("name", OUTPUTS)
def test_clicks_stay_on_their_frames_for_3_minutes(long_outputs, name):
    source, mattes = long_outputs
    expected = click_times(source)
    assert len(expected) == 18 and expected[-1] > 170  # clicks at 0.5 s, 10.5 s, ... 170.5 s
    clicks = click_times(mattes / name)
    assert len(clicks) == len(expected)
    assert np.abs(clicks - expected).max() < 0.005  # 5 ms, at the end as at the start: far within a frame (33 ms at 30 fps)
    source_video, output_video = video_times(source), video_times(mattes / name)
    tolerance = 1e-3 if name.endswith(".webm") else 1e-4  # WebM stores milliseconds
    assert len(output_video) == len(source_video) and np.abs(output_video - source_video).max() < tolerance


def test_an_avi_with_mp3_audio_keeps_its_sound_in_step_in_every_export(tmp_path):
    """MP3 in AVI is timed in packets (1152 samples a tick), which the AAC and Opus encoders' resampling turned
    into repeated timestamps: every video export failed on such a clip (a real MPEG-4 AVI did)."""
    spec = SyntheticClipSpec(width=64, height=112, frames=48, fps=12, codec="mpeg4", audio_codec="libmp3lame",
                             ticks_per_frame=1, click_every_s=1.5)
    make_clip(tmp_path / "avi.avi", [procedural_person()], spec)
    with av.open(str(tmp_path / "avi.avi")) as container:
        audio = container.streams.audio[0]
        assert audio.codec_context.name.startswith("mp3") and audio.time_base != Fraction(1, audio.sample_rate)
    code = main(["process", str(tmp_path / "avi.avi"), "--out", str(tmp_path / "out"), "--format",
                 "prores,webm,luma,composite", "--device", "cpu", "--quiet"])
    assert code == 0
    expected = click_times(tmp_path / "avi.avi")
    assert len(expected) == 3  # 0.5, 2.0 and 3.5 s
    for name in ("avi.mov", "avi.webm", "avi.luma.mp4", "avi.composite.mp4"):
        clicks = click_times(tmp_path / "out" / "mattes" / name)
        assert len(clicks) == len(expected) and np.abs(clicks - expected).max() < 0.005, name
        assert len(video_times(tmp_path / "out" / "mattes" / name)) == spec.frames, name
