"""Per-clip summary of the per-frame statistics."""

import json

import numpy as np
import pytest

from analytics import FrameStatistics, summarise
from analytics.summary import INTENSITY_SCALES, SUMMARY_COLUMNS, matte_note


def test_summary_of_a_moving_square_with_a_gap():
    mattes = np.zeros((6, 100, 100), np.float32)
    for i in range(6):
        mattes[i, 40:60, 10 * i : 10 * i + 20] = 1.0
    mattes[3] = 0.0
    summary = summarise(FrameStatistics("clip").update(mattes, np.arange(6) / 10.0, np.arange(6)))
    assert list(summary) == [c.name for c in SUMMARY_COLUMNS]
    assert summary["presence_ratio"] == pytest.approx(5 / 6)
    assert summary["body_area_p10"] == summary["body_area_p90"] == pytest.approx(0.04)
    assert summary["centroid_speed_mean"] == pytest.approx(5.0)
    assert summary["motion_energy_mean"] == pytest.approx(1.0)
    expected = np.mean([1.0 / INTENSITY_SCALES.motion_energy, 5.0 / INTENSITY_SCALES.centroid_speed,
                        np.median([0.5, 1.0, 2.0]) / INTENSITY_SCALES.quantity_of_motion])
    assert summary["movement_intensity"] == pytest.approx(expected)
    assert summary["n_regions_max"] == 1
    assert summary["shots"] == 1 and summary["transitions"] == ""
    assert np.isnan(summary["tempo_bpm"]) and summary["beats"] == 0 and np.isnan(summary["beat_alignment"])
    assert np.isnan(summary["person_confirmed"])  # unknown unless the tracker checked a main dancer
    types = [str if c.dtype == "str" else (int, float) for c in SUMMARY_COLUMNS]
    assert all(isinstance(value, kind) for value, kind in zip(summary.values(), types))


def test_summary_of_an_empty_clip_is_nan_not_an_error():
    frames = FrameStatistics("clip").update(np.zeros((0, 8, 8), np.float32), np.zeros(0), np.zeros(0, np.int64))
    summary = summarise(frames)
    assert summary["n_regions_max"] == summary["shots"] == 0
    assert np.isnan(summary["presence_ratio"]) and np.isnan(summary["movement_intensity"])


def test_the_note_on_a_seldom_confirmed_clip_speaks_of_the_main_dancer_or_of_everyone():
    main = matte_note({"presence_ratio": 0.9, "person_confirmed": 0.2, "settings": json.dumps({"dancers": "main"})})
    assert main.startswith("a person was found on the main dancer in 20% of the frames showing someone: the main matte")
    everyone = matte_note({"presence_ratio": 0.9, "person_confirmed": 0.2, "settings": json.dumps({"dancers": "each"})})
    assert everyone.startswith("a person was found in 20% of the frames showing someone: the mattes are empty until")
    assert matte_note({"presence_ratio": 0.9, "person_confirmed": 0.2}) == main, "rows without settings: the default"
    assert matte_note({"presence_ratio": 0.9, "person_confirmed": 0.2, "settings": np.nan}) == main, "a table from before"
    assert matte_note({"presence_ratio": 0.9, "person_confirmed": 0.9}) is None
