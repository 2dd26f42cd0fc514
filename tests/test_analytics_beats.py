"""Onset detection, audio and movement beats, and their alignment score."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from analytics import FrameStatistics
from analytics.beats import (
    audio_beats,
    audio_onset_envelope,
    beat_alignment,
    chance_hit_fraction,
    clip_beat_alignment,
    movement_beats,
)
from pipelines.synthetic import SyntheticClipSpec, make_clip, procedural_person

RATE = 48_000
FPS = 30
BEAT_S = 0.5  # 120 BPM
FIRST_BEAT_S = 0.3
FRAMES = 135  # 4.5 s: beats at 0.3, 0.8, ... 4.3


def click_samples(beat_times: np.ndarray, duration_s: float) -> np.ndarray:
    """Mono float32: a soft 220 Hz tone with a short decaying noise burst on each beat."""
    t = np.arange(round(duration_s * RATE)) / RATE
    samples = 0.05 * np.sin(2 * np.pi * 220 * t)
    burst = np.random.default_rng(0).standard_normal(RATE // 100) * np.exp(-np.arange(RATE // 100) / (0.002 * RATE))
    for start in np.round(beat_times * RATE).astype(int):
        samples[start : start + len(burst)] += 0.8 * burst[: len(samples) - start]
    return samples.astype(np.float32)


def write_clip(path: Path, audio: np.ndarray, audio_codec: str, pictures: np.ndarray | None = None) -> None:
    """A file with ``audio`` (mono float32 at RATE) and, when given, ``pictures`` (N, H, W, 3) at FPS."""
    with av.open(str(path), "w") as container:
        video = None if pictures is None else container.add_stream("libx264", rate=FPS)
        sound = container.add_stream(audio_codec, rate=RATE, layout="mono")  # every stream before the first packet
        if video is not None:
            video.height, video.width = pictures.shape[1:3]
            video.pix_fmt = "yuv420p"
            for picture in pictures:
                container.mux(video.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
            container.mux(video.encode())
        layout = "s16" if audio_codec.startswith("pcm") else "fltp"
        for start in range(0, len(audio), 1024):
            chunk = audio[None, start : start + 1024]
            data = (chunk * 32767).astype(np.int16) if layout == "s16" else chunk
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=layout, layout="mono")
            frame.sample_rate, frame.pts = RATE, start
            container.mux(sound.encode(frame))
        container.mux(sound.encode())


def beat_times(offset_s: float = 0.0) -> np.ndarray:
    beats = np.arange(FIRST_BEAT_S + offset_s - BEAT_S, FRAMES / FPS, BEAT_S)
    return beats[beats >= 0.05]


def swinging_square(frames: int = FRAMES) -> tuple[np.ndarray, np.ndarray]:
    """Mattes and pictures of a square swinging left and right, stopping and turning on every beat."""
    t = np.arange(frames) / FPS
    centre_x = 32 + 18 * np.cos(np.pi * (t - FIRST_BEAT_S) / BEAT_S)
    columns = np.arange(64)
    coverage = np.clip(np.minimum(columns + 1 - (centre_x[:, None] - 8), centre_x[:, None] + 8 - columns), 0, 1)
    mattes = np.zeros((frames, 112, 64), np.float32)
    mattes[:, 40:70] = coverage[:, None, :]
    pictures = np.repeat((40 + 200 * mattes[..., None]).astype(np.uint8), 3, axis=3)
    return mattes, pictures


@pytest.mark.parametrize(("codec", "suffix"), [("pcm_s16le", ".mov"), ("aac", ".mp4")])
def test_onset_detector_recovers_click_times_within_a_frame(tmp_path, codec, suffix):
    clicks = beat_times()
    path = tmp_path / f"clicks{suffix}"
    write_clip(path, click_samples(clicks, FRAMES / FPS), codec)
    beats = audio_beats(*audio_onset_envelope(path))
    assert len(beats) == len(clicks)
    assert np.abs(beats - clicks).max() < 1 / FPS


def test_tone_without_a_pulse_has_no_beats(tmp_path):
    path = tmp_path / "tone.mov"
    write_clip(path, (0.3 * np.sin(2 * np.pi * 440 * np.arange(3 * RATE) / RATE)).astype(np.float32), "pcm_s16le")
    assert len(audio_beats(*audio_onset_envelope(path))) == 0


def test_movement_beats_are_the_stops_of_the_swing():
    mattes, _ = swinging_square()
    frames = FrameStatistics("swing").update(mattes, np.arange(FRAMES) / FPS, np.arange(FRAMES))
    stops = movement_beats(frames)
    assert len(stops) == len(beat_times()) and np.abs(stops - beat_times()).max() < 1 / FPS


def test_dancing_on_the_clicks_scores_high_and_half_a_beat_off_scores_low(tmp_path):
    mattes, pictures = swinging_square()
    frames = FrameStatistics("swing").update(mattes, np.arange(FRAMES) / FPS, np.arange(FRAMES))
    scores = {}
    for offset in (0.0, BEAT_S / 2):
        path = tmp_path / f"swing-{offset}.mkv"
        write_clip(path, click_samples(beat_times(offset), FRAMES / FPS), "pcm_s16le", pictures)
        scores[offset] = clip_beat_alignment(path, frames)
    assert scores[0.0] > 0.8
    assert scores[BEAT_S / 2] < 0.2


def test_alignment_formula_and_chance_level():
    audio = np.arange(20) * BEAT_S
    assert chance_hit_fraction(audio, (0.0, audio[-1]), 0.1) == pytest.approx(2 * 0.1 / BEAT_S)
    assert beat_alignment(audio, audio[2:-2] + 0.05) == pytest.approx(1.0)
    assert beat_alignment(audio, audio[2:-2] + BEAT_S / 2) == 0.0
    random_movement = np.random.default_rng(0).uniform(0, audio[-1], 2000)
    assert abs(beat_alignment(audio, random_movement)) < 0.05
    assert np.isnan(beat_alignment(audio, audio[:2]))


def test_a_clip_without_audio_has_no_alignment(tmp_path):
    path = tmp_path / "silent.mp4"
    spec = SyntheticClipSpec(width=64, height=112, frames=6, audio=False)
    mattes = make_clip(path, [procedural_person(96, 48)], spec)
    frames = FrameStatistics("silent").update(mattes, np.arange(6) / spec.fps, np.arange(6))
    assert clip_beat_alignment(path, frames) is None
