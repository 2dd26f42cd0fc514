"""Onset detection, audio beats and tempo (librosa), movement beats, and their alignment score."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest

from analytics import FrameStatistics
from analytics.beats import (
    NO_AUDIO,
    audio_beats,
    audio_onset_envelope,
    beat_alignment,
    chance_hit_fraction,
    clip_beats,
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


def drum_loop(bpm: float, duration_s: float, swing: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Mono float32 and its beat times: kick on beats 1 and 3, snare on 2 and 4, a hi-hat on every beat and on
    the off-beat, delayed by ``swing`` of a beat (1/6: swung eighths), over a soft swelling pad."""
    t = np.arange(round(duration_s * RATE)) / RATE
    samples = 0.1 * np.sin(2 * np.pi * 110 * t) * (1 + 0.3 * np.sin(2 * np.pi * 0.25 * t))
    rng = np.random.default_rng(1)
    hit = np.arange(RATE // 4) / RATE
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-hit / 0.03)) * hit) * np.exp(-hit / 0.15)
    snare = 0.6 * rng.standard_normal(len(hit)) * np.exp(-hit / 0.05)
    hihat = 0.3 * rng.standard_normal(RATE // 20) * np.exp(-hit[: RATE // 20] / 0.01)
    beats = np.arange(0.1, duration_s - 0.3, 60 / bpm)
    sounds = [(b, kick if i % 2 == 0 else snare) for i, b in enumerate(beats)]
    sounds += [(b, hihat) for b in beats] + [(b + (0.5 + swing) * 60 / bpm, 0.6 * hihat) for b in beats]
    for at, sound in sounds:
        start = round(at * RATE)
        samples[start : start + len(sound)] += sound[: len(samples) - start]
    return samples.astype(np.float32), beats


def tracked_beats(tmp_path: Path, samples: np.ndarray):
    path = tmp_path / "music.mov"
    write_clip(path, samples, "pcm_s16le")
    return audio_beats(*audio_onset_envelope(path))


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
    beats = audio_beats(*audio_onset_envelope(path)).times_s
    assert len(beats) >= len(clicks) - 1  # librosa's tracker may trim a weak-looking first or last beat
    assert np.abs(beats[:, None] - clicks).min(axis=1).max() < 1 / FPS


@pytest.mark.parametrize("bpm", [75, 96, 120, 150])
def test_click_track_tempo_is_found_within_two_percent(tmp_path, bpm):
    clicks = np.arange(0.2, 7.2, 60 / bpm)  # the audio goes on a beat after the last click, as music does
    beats = tracked_beats(tmp_path, click_samples(clicks, 8.0))
    assert beats.tempo_bpm == pytest.approx(bpm, rel=0.02)
    assert np.abs(beats.times_s[:, None] - clicks).min(axis=1).max() < 1 / FPS  # every beat on a click


@pytest.mark.parametrize("swing", [0.0, 1 / 6])
def test_drum_loop_tempo_and_beats_with_and_without_swing(tmp_path, swing):
    samples, true_beats = drum_loop(100, 10.0, swing)
    beats = tracked_beats(tmp_path, samples)
    assert beats.tempo_bpm == pytest.approx(100, rel=0.02)  # the swung off-beat hi-hats are not beats
    assert np.abs(beats.times_s[:, None] - true_beats).min(axis=1).max() < 1 / FPS
    assert len(beats.times_s) >= len(true_beats) - 2  # at most the first and the last one trimmed


def test_beats_follow_a_tempo_change(tmp_path):
    slow = np.arange(0.2, 6, 60 / 100)
    clicks = np.concatenate([slow, np.arange(slow[-1] + 60 / 130, 11.2, 60 / 130)])
    beats = tracked_beats(tmp_path, click_samples(clicks, 12.0))
    assert min(abs(beats.tempo_bpm / 100 - 1), abs(beats.tempo_bpm / 130 - 1)) < 0.02  # the tempo of one part
    assert np.abs(beats.times_s[:, None] - clicks).min(axis=1).max() < 1 / FPS
    assert len(beats.times_s) >= len(clicks) - 2
    intervals = np.diff(beats.times_s)
    assert np.median(intervals[beats.times_s[1:] < 5]) == pytest.approx(60 / 100, rel=0.02)
    assert np.median(intervals[beats.times_s[:-1] > 7]) == pytest.approx(60 / 130, rel=0.02)


@pytest.mark.parametrize("sound", ["tone", "noise"])
def test_audio_without_a_pulse_has_no_beats(tmp_path, sound):
    t = np.arange(3 * RATE) / RATE
    noise = 0.3 * np.random.default_rng(0).standard_normal(len(t))
    beats = tracked_beats(tmp_path, (0.3 * np.sin(2 * np.pi * 440 * t) if sound == "tone" else noise).astype(np.float32))
    assert len(beats.times_s) == 0 and np.isnan(beats.tempo_bpm)


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
        scores[offset] = clip_beats(path, frames).alignment
    assert scores[0.0] > 0.8
    assert scores[BEAT_S / 2] < 0.2


def test_with_a_row_per_dancer_the_beats_are_those_of_the_dancer_seen_most(tmp_path):
    mattes, pictures = swinging_square()
    times, index = np.arange(FRAMES) / FPS, np.arange(FRAMES)
    swinging = FrameStatistics("swing").update(mattes, times, index, dancer=1)
    briefly = np.zeros_like(mattes)
    briefly[:10, 10:30, 10:20] = 1  # a second dancer, still, for the first third of a second only
    frames = pd.concat([swinging, FrameStatistics("swing").update(briefly, times, index, dancer=2)])
    path = tmp_path / "swing.mkv"
    write_clip(path, click_samples(beat_times(), FRAMES / FPS), "pcm_s16le", pictures)
    beats = clip_beats(path, frames.sample(frac=1, random_state=0))  # rows in any order
    assert beats.alignment == clip_beats(path, swinging).alignment > 0.8
    assert beats.beats >= len(beat_times()) - 1 and beats.tempo_bpm == pytest.approx(120, rel=0.02)


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
    assert clip_beats(path, frames) is NO_AUDIO
