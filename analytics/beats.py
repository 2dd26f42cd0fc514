"""Beat alignment: how often a dancer's movement accents land on the beats of the clip's audio.

Audio beats: the audio is decoded to mono at ``OnsetSettings.sample_rate`` (PyAV) and handed to librosa,
the music-information-retrieval library: ``librosa.onset.onset_strength`` (mean increase of the log-power
mel spectrogram between frames ``hop`` samples apart), ``librosa.feature.tempo`` (a rough global tempo:
the onsets' autocorrelation over 8 s windows, weighted by a prior around 120 BPM, on the envelope
max-pooled over ``tempo_pooling`` frames, 16 times cheaper) and ``librosa.beat.beat_track`` (Ellis's
dynamic-programming beat tracker, which follows the onsets from that tempo). ``tempo_bpm`` is 60 over the
median interval of the tracked beats, to a frame (5.8 ms). A beat
tracker places beats in any sound, so audio without a clear pulse gets none: its onset strength must
reach ``min_onset_strength`` (99th percentile) and repeat clearly (``Pulse.clarity`` at least
``min_pulse_clarity``). librosa is imported on first use (its import takes seconds, see the README).

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
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks


@dataclass(frozen=True)
class OnsetSettings:
    """Sample rate and frame step of the onset-strength envelope."""

    sample_rate: int = 22_050
    window: int = 1024  # samples per STFT frame (46 ms); shorter audio has no onsets
    hop: int = 128  # samples between envelope frames (5.8 ms): the tracker's beat spacing is a whole number of them


@dataclass(frozen=True)
class BeatSettings:
    """The pulse test of the audio, movement-minimum picking and the alignment tolerance."""

    min_bpm: float = 60.0  # the pulse is looked for between these tempos
    max_bpm: float = 200.0
    min_onset_strength: float = 1.0  # least 99th percentile of the onset strength (dB of mel power)
    min_pulse_clarity: float = 0.3  # audio with a less clear pulse has no beats (see Pulse)
    tempo_pooling: int = 4  # the rough tempo comes from the envelope max-pooled over this many frames (23 ms)
    min_beats: int = 4  # fewer audio or movement beats than this give no alignment score
    smoothing_s: float = 0.05  # Gaussian sigma applied to centroid_speed
    min_stop_depth: float = 0.3  # minimum depth (prominence), as a fraction of the speed's 90th percentile
    min_movement_spacing_s: float = 0.2  # movement beats at least this far apart (300 per minute)
    tolerance_s: float = 0.1


BEAT_SETTINGS = BeatSettings()


@dataclass(frozen=True)
class Pulse:
    """The beat period (s) and how clearly the onsets repeat at it: the envelope's autocorrelation at that lag
    over its autocorrelation at lag 0 (near 1 for a click track or a steady drum beat, near 0 for noise)."""

    period_s: float
    clarity: float


@dataclass(frozen=True)
class AudioBeats:
    """The tracked beat times (s) and the tempo (NaN and no beats when the audio has no clear pulse)."""

    times_s: np.ndarray
    tempo_bpm: float


@dataclass(frozen=True)
class ClipBeats:
    """A clip's audio tempo, its number of beats and the dancer's ``beat_alignment``; what ``clips.parquet`` keeps."""

    tempo_bpm: float = float("nan")  # NaN without audio or without a clear pulse
    beats: int = 0
    alignment: float = float("nan")  # NaN without audio or with fewer than min_beats audio or movement beats


NO_AUDIO = ClipBeats()


def audio_onset_envelope(path: Path, settings: OnsetSettings = OnsetSettings()) -> tuple[np.ndarray, np.ndarray] | None:
    """``(times_s, strength)`` of the first audio stream of ``path``; None when it has no audio.

    Times are seconds from the first video timestamp (from the audio's own start when there is no video),
    so they share the clock of the per-frame table's ``time_s``; strength is librosa's onset strength.
    """
    import librosa  # noqa: PLC0415 - seconds to import; only clips with audio need it

    samples, start_s = _mono_audio(Path(path), settings.sample_rate)
    if samples is None:
        return None
    if len(samples) < settings.window:
        return np.zeros(0), np.zeros(0)
    strength = librosa.onset.onset_strength(
        y=samples, sr=settings.sample_rate, n_fft=settings.window, hop_length=settings.hop
    )
    times = start_s + librosa.frames_to_time(np.arange(len(strength)), sr=settings.sample_rate, hop_length=settings.hop)
    return times, strength


def audio_beats(times: np.ndarray, strength: np.ndarray, settings: BeatSettings = BEAT_SETTINGS) -> AudioBeats:
    """librosa's beats and tempo of an onset envelope sampled at ``times``; none when the audio has no clear pulse
    (onset strength below ``min_onset_strength`` or ``Pulse.clarity`` below ``min_pulse_clarity``)."""
    import librosa  # noqa: PLC0415

    none = AudioBeats(np.zeros(0), float("nan"))
    if len(times) < 3 or np.percentile(strength, 99) < settings.min_onset_strength:
        return none
    step_s = float(np.median(np.diff(times)))
    if pulse(strength, step_s, settings).clarity < settings.min_pulse_clarity:
        return none
    rate, pool = 1 / step_s, settings.tempo_pooling  # envelope frames per second
    coarse = strength[: len(strength) // pool * pool].reshape(-1, pool).max(axis=1)
    rough_bpm = librosa.feature.tempo(onset_envelope=coarse, sr=rate / pool, hop_length=1)[0] if len(coarse) else 0.0
    if not rough_bpm:
        return none
    _, frames = librosa.beat.beat_track(onset_envelope=strength, sr=rate, hop_length=1, bpm=rough_bpm)
    beat_times = np.asarray(times)[frames]
    tempo = 60 / float(np.median(np.diff(beat_times))) if len(beat_times) > 1 else float("nan")
    return AudioBeats(beat_times, tempo)


def pulse(strength: np.ndarray, step_s: float, settings: BeatSettings = BEAT_SETTINGS) -> Pulse:
    """The largest autocorrelation of the onset envelope (sampled every ``step_s``) within ``min_bpm..max_bpm``."""
    import librosa  # noqa: PLC0415

    autocorrelation = librosa.autocorrelate(strength - strength.mean())
    shortest = max(int(np.floor(60 / settings.max_bpm / step_s)), 1)
    longest = min(int(np.ceil(60 / settings.min_bpm / step_s)), len(strength) - 1)
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


def dancer_rows(frame_df: pd.DataFrame) -> pd.DataFrame:
    """The rows of one dancer: with ``--dancers each`` (several rows a frame) the dancer present in most frames."""
    if not frame_df["frame"].duplicated().any():
        return frame_df
    present = frame_df.loc[frame_df["person_present"].astype(bool), "dancer"]
    return frame_df[frame_df["dancer"] == (present.mode().iloc[0] if len(present) else frame_df["dancer"].iloc[0])]


def clip_beats(source_path: Path, frame_df: pd.DataFrame, settings: BeatSettings = BEAT_SETTINGS) -> ClipBeats:
    """Tempo, beat count and ``beat_alignment`` of a clip's audio (``source_path``) and its per-frame table
    (``NO_AUDIO`` without audio; the alignment is NaN with fewer than ``min_beats`` beats of either kind)."""
    envelope = audio_onset_envelope(source_path)
    if envelope is None:
        return NO_AUDIO
    audio = audio_beats(*envelope, settings)
    movement = movement_beats(dancer_rows(frame_df), settings)
    alignment = beat_alignment(audio.times_s, movement, settings.tolerance_s, settings.min_beats)
    return ClipBeats(audio.tempo_bpm, len(audio.times_s), alignment)


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
