"""Beat alignment: how often a dancer's movement accents land on the beats of the clip's audio.

Audio beats: the audio is decoded to mono at ``OnsetSettings.sample_rate``; the onset strength of STFT
frame ``n`` is the half-wave-rectified spectral flux ``mean_k max(0, L[n, k] - L[n - 1, k])`` of the
log-compressed magnitudes ``L = log(1 + compression * |X|)`` over the frequency bins ``k`` (numpy only).
Beats are the peaks of that envelope of at least ``min_onset_strength`` at least ``spacing_frac`` beat
periods apart, the period being the autocorrelation peak of the envelope within ``min_bpm..max_bpm`` (a
tempo-aware peak picker, not a full beat tracker). Audio without a clear pulse has no beats. Measured peak
strengths: clicks 1.9-2.9, a synthetic drum-and-pad loop 0.65-0.9, white noise 0.22 (rejected by its
pulse clarity), a steady tone 0.002 (PCM) or 0.015 (AAC).

Movement beats: local minima of ``centroid_speed`` smoothed over ``smoothing_s``. Dancers mark a beat by
a "hit": the body arrives and stops (or sharply reverses) on the beat, so whole-body speed dips there.
``centroid_speed`` is chosen over ``motion_energy`` because it is per second (variable frame rates do
not distort it) and it ignores matte edge flicker, which keeps ``motion_energy`` from reaching its
minima cleanly; the price is that hits made with the arms alone while the body stays put are missed.

Alignment score (``beat_alignment``): the hit fraction ``f`` is the share of movement beats within
``tolerance_s`` of an audio beat; the chance level ``c`` is the share of the time span covered by the
windows ``[b - tolerance_s, b + tolerance_s]`` around the audio beats ``b``, i.e. the hit fraction of
movement beats placed at random (``2 * tolerance_s / period`` for a steady beat). The score is
``max(0, (f - c) / (1 - c))``: 0 at (or below) chance, 1 when every movement beat is on a beat.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks


@dataclass(frozen=True)
class OnsetSettings:
    """STFT and compression of the onset-strength envelope."""

    sample_rate: int = 22_050
    window: int = 1024  # samples per STFT frame (46 ms)
    hop: int = 128  # samples between STFT frames (5.8 ms)
    compression: float = 100.0  # gamma in log(1 + gamma * |X|)


@dataclass(frozen=True)
class BeatSettings:
    """Audio peak picking, movement-minimum picking and the alignment tolerance."""

    min_bpm: float = 60.0
    max_bpm: float = 200.0
    spacing_frac: float = 0.6  # audio beats at least this many beat periods apart
    min_onset_strength: float = 0.05  # least onset strength of an audio beat (log-magnitude increase per bin)
    min_prominence: float = 0.2  # audio peak prominence, as a fraction of the envelope's 99th percentile
    min_pulse_clarity: float = 0.3  # audio with a less clear pulse has no beats (see Pulse)
    min_beats: int = 4  # fewer audio or movement beats than this give no alignment score
    smoothing_s: float = 0.05  # Gaussian sigma applied to centroid_speed
    min_stop_depth: float = 0.3  # minimum depth (prominence), as a fraction of the speed's 90th percentile
    min_movement_spacing_s: float = 0.2  # movement beats at least this far apart (300 per minute)
    tolerance_s: float = 0.1


BEAT_SETTINGS = BeatSettings()


@dataclass(frozen=True)
class Pulse:
    """The beat period (s) and how clearly the onsets repeat at it: the envelope's autocorrelation at that lag
    over its autocorrelation at lag 0 (about 0.8-0.9 for a click track or a steady drum beat, near 0 for a tone)."""

    period_s: float
    clarity: float


def audio_onset_envelope(path: Path, settings: OnsetSettings = OnsetSettings()) -> tuple[np.ndarray, np.ndarray] | None:
    """``(times_s, strength)`` of the first audio stream of ``path``; None when it has no audio.

    Times are seconds from the first video timestamp (from the audio's own start when there is no video),
    so they share the clock of the per-frame table's ``time_s``; strength is the spectral flux (module docstring).
    """
    samples, start_s = _mono_audio(Path(path), settings.sample_rate)
    if samples is None:
        return None
    padded = np.pad(samples, (0, max(settings.window + settings.hop - len(samples), 0)))
    window = np.hanning(settings.window).astype(np.float32)
    frames = sliding_window_view(padded, settings.window)[:: settings.hop] * window  # float32 keeps memory down
    magnitudes = np.log1p(settings.compression * np.abs(np.fft.rfft(frames, axis=1)))
    flux = np.maximum(np.diff(magnitudes, axis=0), 0).mean(axis=1)
    # flux[n] compares STFT frames n and n + 1. It is timed at the trailing edge of frame n: on click tracks
    # its peaks then lie within 3 ms of the clicks (frame n + 1's edge would be 4-9 ms late).
    times = start_s + (np.arange(len(flux)) * settings.hop + settings.window) / settings.sample_rate
    return times, flux


def audio_beats(times: np.ndarray, strength: np.ndarray, settings: BeatSettings = BEAT_SETTINGS) -> np.ndarray:
    """Beat times (s): envelope peaks of at least ``min_onset_strength`` and ``min_prominence``, at least
    ``spacing_frac`` periods apart; none when the audio has no clear pulse (``Pulse.clarity`` below
    ``min_pulse_clarity``)."""
    if len(times) < 3:
        return np.zeros(0)
    step_s = float(np.median(np.diff(times)))
    beat = pulse(strength, step_s, settings)
    if beat.clarity < settings.min_pulse_clarity:
        return np.zeros(0)
    prominence = max(settings.min_prominence * np.percentile(strength, 99), 1e-12)
    distance = max(settings.spacing_frac * beat.period_s / step_s, 1)
    peaks, _ = find_peaks(strength, height=settings.min_onset_strength, distance=distance, prominence=prominence)
    return np.asarray(times)[peaks]


def pulse(strength: np.ndarray, step_s: float, settings: BeatSettings = BEAT_SETTINGS) -> Pulse:
    """The largest autocorrelation of the onset envelope (sampled every ``step_s``) within ``min_bpm..max_bpm``."""
    centred = strength - strength.mean()
    spectrum = np.fft.rfft(centred, 2 * len(centred))
    autocorrelation = np.fft.irfft(np.abs(spectrum) ** 2)[: len(centred)]
    shortest = max(int(np.floor(60 / settings.max_bpm / step_s)), 1)
    longest = min(int(np.ceil(60 / settings.min_bpm / step_s)), len(centred) - 1)
    if longest <= shortest or autocorrelation[0] <= 0:
        return Pulse(60 / settings.min_bpm, 0.0)
    lag = shortest + int(np.argmax(autocorrelation[shortest : longest + 1]))
    return Pulse(float(lag * step_s), float(autocorrelation[lag] / autocorrelation[0]))


def movement_beats(frame_df: pd.DataFrame, settings: BeatSettings = BEAT_SETTINGS) -> np.ndarray:
    """Times (s) of the clip's movement accents: pronounced local minima of smoothed ``centroid_speed``.

    ``centroid_speed`` of a frame measures the step from the previous frame, so it is placed at the middle
    of that step; gaps (no person) are bridged by linear interpolation; each minimum is refined to sub-frame
    time by a parabola through it and its neighbours.
    """
    frames = frame_df.sort_values("time_s")
    times = frames["time_s"].to_numpy(np.float64)
    speed = frames["centroid_speed"].to_numpy(np.float64)
    mid_times = times - np.diff(times, prepend=np.nan) / 2
    known = np.isfinite(speed) & np.isfinite(mid_times)
    if known.sum() < 3:
        return np.zeros(0)
    mid_times, speed = mid_times[known], speed[known]
    step_s = float(np.median(np.diff(mid_times)))
    smoothed = gaussian_filter1d(speed, settings.smoothing_s / step_s, mode="nearest")
    depth = settings.min_stop_depth * np.percentile(smoothed, 90)
    distance = max(settings.min_movement_spacing_s / step_s, 1)
    minima, _ = find_peaks(-smoothed, distance=distance, prominence=max(depth, 1e-12))
    before, at, after = smoothed[minima - 1], smoothed[minima], smoothed[np.minimum(minima + 1, len(smoothed) - 1)]
    curvature = before - 2 * at + after
    offset = np.divide(before - after, 2 * curvature, out=np.zeros_like(at), where=curvature > 0)
    return np.interp(minima + np.clip(offset, -0.5, 0.5), np.arange(len(mid_times)), mid_times)


def chance_hit_fraction(audio_beat_times: np.ndarray, span: tuple[float, float], tolerance_s: float) -> float:
    """Share of ``span`` within ``tolerance_s`` of some audio beat: the hit fraction of random movement beats."""
    start, end = span
    beats = np.sort(np.asarray(audio_beat_times, np.float64))
    low, high = np.clip(beats - tolerance_s, start, end), np.clip(beats + tolerance_s, start, end)
    previous_high = np.concatenate([[start], np.maximum.accumulate(high)[:-1]])
    covered = np.maximum(high - np.maximum(low, previous_high), 0).sum()
    return float(covered / (end - start))


def beat_alignment(
    audio_beat_times: np.ndarray,
    movement_beat_times: np.ndarray,
    tolerance_s: float = BEAT_SETTINGS.tolerance_s,
    min_beats: int = BEAT_SETTINGS.min_beats,
) -> float:
    """Chance-corrected share of movement beats within ``tolerance_s`` of an audio beat, 0..1 (module docstring).

    NaN when either list has fewer than ``min_beats`` beats or the audio beats leave no time off-beat.
    """
    audio = np.sort(np.asarray(audio_beat_times, np.float64))
    movement = np.asarray(movement_beat_times, np.float64)
    if min(len(audio), len(movement)) < max(min_beats, 1):
        return float("nan")
    span = (min(audio[0], movement.min()), max(audio[-1], movement.max()))
    chance = chance_hit_fraction(audio, span, tolerance_s) if span[1] > span[0] else 1.0
    if chance >= 1:
        return float("nan")
    after = np.searchsorted(audio, movement)
    gaps = np.minimum(
        np.abs(movement - audio[np.maximum(after - 1, 0)]), np.abs(audio[np.minimum(after, len(audio) - 1)] - movement)
    )
    hits = float(np.mean(gaps <= tolerance_s))
    return max(0.0, (hits - chance) / (1 - chance))


def clip_beat_alignment(
    source_path: Path, frame_df: pd.DataFrame, settings: BeatSettings = BEAT_SETTINGS
) -> float | None:
    """``beat_alignment`` of a clip's audio (``source_path``) and its per-frame table; None without audio,
    NaN when either gives fewer than ``min_beats`` beats (e.g. audio without a clear pulse)."""
    envelope = audio_onset_envelope(source_path)
    if envelope is None:
        return None
    audio = audio_beats(*envelope, settings)
    return beat_alignment(audio, movement_beats(frame_df, settings), settings.tolerance_s, settings.min_beats)


def _mono_audio(path: Path, sample_rate: int) -> tuple[np.ndarray | None, float]:
    """The first audio stream as mono float32 at ``sample_rate`` (None when there is none) and its start
    in seconds after the video's first timestamp (0 when there is no video)."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None, 0.0
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks, times = [], []
        for frame in container.decode(container.streams.audio[0]):
            times.append(frame.time)
            chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
        chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
        video = container.streams.video[0] if container.streams.video else None
        video_start_s = float(video.start_time * video.time_base) if video and video.start_time is not None else None
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    audio_start_s = next((t for t in times if t is not None), 0.0)
    return samples, 0.0 if video_start_s is None else audio_start_s - video_start_s
