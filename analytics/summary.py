"""Per-clip summary of the per-frame statistics: the summary columns of ``clips.parquet``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analytics.beats import NO_AUDIO, ClipBeats
from analytics.columns import Column

if TYPE_CHECKING:
    from pipelines.shots import Transition


@dataclass(frozen=True)
class IntensityScales:
    """Reference values that make each movement measure about 1 for moderate dancing (provisional guesses)."""

    motion_energy: float = 0.1
    centroid_speed: float = 0.5
    quantity_of_motion: float = 0.3


INTENSITY_SCALES = IntensityScales()
UNCONFIRMED_BELOW = 0.5  # a clip whose main dancer was confirmed a person on fewer of its frames is flagged

SUMMARY_COLUMNS: tuple[Column, ...] = (
    Column("presence_ratio", "float64", "Fraction of frames with person_present."),
    Column("body_area_mean", "float64", "Mean body_area_frac over frames with a person."),
    Column("body_area_p10", "float64", "10th percentile of body_area_frac over frames with a person."),
    Column("body_area_p50", "float64", "Median of body_area_frac over frames with a person."),
    Column("body_area_p90", "float64", "90th percentile of body_area_frac over frames with a person."),
    Column("motion_energy_mean", "float64", "Mean motion_energy over the frames where it is defined."),
    Column("centroid_speed_mean", "float64", "Mean centroid_speed (body heights/s) where defined."),
    Column("quantity_of_motion_mean", "float64", "Mean quantity_of_motion over the frames where it is defined."),
    Column(
        "movement_intensity",
        "float64",
        "Mean over f in (motion_energy, centroid_speed, quantity_of_motion) of median(f) / scale_f, with fixed "
        f"scales {INTENSITY_SCALES.motion_energy}, {INTENSITY_SCALES.centroid_speed} and "
        f"{INTENSITY_SCALES.quantity_of_motion} (`analytics.summary.IntensityScales`), so clips are comparable; "
        "medians ignore matte glitches; measures with no defined frame are left out; NaN when none is defined.",
    ),
    Column("n_regions_max", "int64", "Largest n_regions of any frame (0 for a clip without frames)."),
    Column(
        "shots",
        "int64",
        "Shots of an edited clip: one more than the shot changes found (`pipelines.shots`); 0 for a clip without "
        "frames.",
    ),
    Column(
        "transitions",
        "str",
        "The shot changes, `frame:kind` comma-separated in order (e.g. `21:cut,197:dissolve`): the first frame of "
        "the new shot and how it came, `cut`, `dissolve` or `fade` (through black); empty without shot changes.",
    ),
    Column(
        "tempo_bpm",
        "float64",
        "Tempo of the clip's audio in beats per minute (librosa's estimate, `analytics.beats`); NaN without audio "
        "or without a clear pulse.",
    ),
    Column("beats", "int64", "Beats librosa's beat tracker found in the audio; 0 without audio or a clear pulse."),
    Column(
        "beat_alignment",
        "float64",
        "How on-beat the dancer moves: the share of movement accents (stops of centroid_speed) within 0.1 s of an "
        "audio beat, corrected for chance, 0 (chance) to 1 (all on a beat) (`analytics.beats`); NaN without audio "
        "or with fewer than 4 audio or movement beats.",
    ),
    Column(
        "dancers_seen",
        "int64",
        "Tracked dancers seen over at least `TrackerSettings.min_seen_s` (default 0.5 s), whatever `--dancers`; "
        "0 when the clip was not tracked.",
    ),
    Column(
        "person_confirmed",
        "float64",
        "Share of the frames in which the matte shows someone whose main dancer the person detector (in a close-up, the "
        "face detector) had found a person since the last shot change (`seg.person_evidence`); low when the main matte "
        "is left empty for want of a person found (a scene without people, a statue, or a person the detectors do not "
        "find: a far-off figure, a view from above); NaN with `--dancers all|each`, with "
        "`ProcessSettings(person_evidence=False)` or when the matte never shows anyone.",
    ),
)


def summarise(
    frame_df: pd.DataFrame, dancers_seen: int = 0, transitions: tuple[Transition, ...] = (), beats: ClipBeats = NO_AUDIO,
    person_confirmed: float = np.nan,
) -> dict:
    """The ``SUMMARY_COLUMNS`` of one clip's per-frame table (every row, so every dancer's with ``--dancers
    each``), its tracker's count of ``dancers_seen`` and share of ``person_confirmed`` main-dancer frames, its shot
    changes and its beats, as a dict in column order."""
    with_person = frame_df.loc[frame_df["person_present"].astype(bool), "body_area_frac"].astype(np.float64)
    movement_medians = [
        frame_df[name].median() / getattr(INTENSITY_SCALES, name)
        for name in ("motion_energy", "centroid_speed", "quantity_of_motion")
    ]
    defined = [value for value in movement_medians if pd.notna(value)]
    summary = {
        "presence_ratio": frame_df["person_present"].mean(),
        "body_area_mean": with_person.mean(),
        "body_area_p10": with_person.quantile(0.1),
        "body_area_p50": with_person.quantile(0.5),
        "body_area_p90": with_person.quantile(0.9),
        "motion_energy_mean": frame_df["motion_energy"].mean(),
        "centroid_speed_mean": frame_df["centroid_speed"].mean(),
        "quantity_of_motion_mean": frame_df["quantity_of_motion"].mean(),
        "movement_intensity": float(np.mean(defined)) if defined else np.nan,
        "n_regions_max": int(frame_df["n_regions"].max()) if len(frame_df) else 0,
        "shots": int(frame_df["shot"].max()) + 1 if len(frame_df) else 0,
        "transitions": ",".join(f"{t.frame}:{t.kind}" for t in transitions),
        "tempo_bpm": beats.tempo_bpm,
        "beats": beats.beats,
        "beat_alignment": beats.alignment,
        "dancers_seen": dancers_seen,
        "person_confirmed": person_confirmed,
    }
    return {c.name: summary[c.name] if c.dtype == "str" else np.dtype(c.dtype).type(summary[c.name]).item()
            for c in SUMMARY_COLUMNS}


def matte_note(clip: Mapping) -> str | None:
    """The one-line warning about a clip's matte from its summary (a ``clips.parquet`` row or ``summarise``'s dict):
    nobody in any frame, or a main dancer the detectors seldom confirmed a person (with ``--dancers all|each``, as its
    ``settings`` say: the shot's mattes stay empty until someone is); None when there is nothing to say (columns
    absent from older tables say nothing)."""
    if clip.get("presence_ratio", np.nan) == 0:
        return "nobody was found in any frame: the matte is empty"
    confirmed = clip.get("person_confirmed", np.nan)
    if pd.isna(confirmed) or confirmed >= UNCONFIRMED_BELOW:
        return None
    why = "(nobody there but a statue or clutter, or a person the detectors do not find: a far-off figure, a view from above)"
    settings = clip.get("settings")
    if json.loads(settings if isinstance(settings, str) else "{}").get("dancers", "main") == "main":
        return f"a person was found on the main dancer in {confirmed:.0%} of the frames showing someone: the main matte is empty on the others {why}"
    return f"a person was found in {confirmed:.0%} of the frames showing someone: the mattes are empty until one is found in a shot {why}"
