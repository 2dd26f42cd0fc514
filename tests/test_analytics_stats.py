"""Per-frame statistics on synthetic mattes with known answers."""

import cv2
import numpy as np
import pandas as pd
import pytest

from analytics import FrameStatistics, StatsSettings
from analytics.stats import FRAME_COLUMNS

pytestmark = pytest.mark.filterwarnings("error")

SIZE = 100


def squares(*frames: list[tuple[int, int, int]]) -> np.ndarray:
    """One matte per frame, each a list of (top, left, side) squares of 1.0 on 0.0."""
    mattes = np.zeros((len(frames), SIZE, SIZE), np.float32)
    for matte, frame in zip(mattes, frames):
        for top, left, side in frame:
            matte[top : top + side, left : left + side] = 1.0
    return mattes


def run(mattes: np.ndarray, times_s: np.ndarray | None = None, **settings) -> pd.DataFrame:
    times_s = np.arange(len(mattes)) / 10.0 if times_s is None else np.asarray(times_s, np.float64)
    return FrameStatistics("clip", StatsSettings(**settings)).update(mattes, times_s, np.arange(len(mattes)))


def moving_square(n: int = 6) -> np.ndarray:
    """A 20x20 square moving 10 px right per frame."""
    return squares(*[[(40, 10 * i, 20)] for i in range(n)])


def test_columns_and_dtypes_follow_the_documented_schema():
    frames = run(moving_square())
    assert list(frames.columns) == [c.name for c in FRAME_COLUMNS]
    for column in FRAME_COLUMNS[1:]:
        assert frames[column.name].dtype == np.dtype(column.dtype), column.name
    assert (frames["clip"] == "clip").all()


def test_moving_square_geometry_speed_and_motion():
    frames = run(moving_square())
    assert frames["person_present"].all()
    assert (frames["n_regions"] == 1).all()
    np.testing.assert_allclose(frames["body_area_frac"], 400 / SIZE**2)
    np.testing.assert_allclose(frames["matte_confidence"], 1.0)
    np.testing.assert_allclose(frames["bbox_x0"], np.arange(6) * 0.1)
    np.testing.assert_allclose(frames["bbox_x1"], np.arange(6) * 0.1 + 0.2)
    np.testing.assert_allclose(frames[["bbox_y0", "bbox_y1"]], [[0.4, 0.6]] * 6)
    np.testing.assert_allclose(frames["bbox_fill"], 1.0)
    np.testing.assert_allclose(frames["centroid_x"], np.arange(6) * 0.1 + 0.1, rtol=1e-6)
    np.testing.assert_allclose(frames["centroid_y"], 0.5)
    # 10 px per frame * 10 frames/s / 20 px body height = 5 body heights/s
    np.testing.assert_allclose(frames["centroid_speed"], [np.nan, 5, 5, 5, 5, 5], rtol=1e-6)
    # XOR of two squares overlapping by half: 2 * 10x20 = 400 px, per 400 body px
    np.testing.assert_allclose(frames["motion_energy"], [np.nan, 1, 1, 1, 1, 1])
    # pixels the body left within the last K=4 frames: a strip 10 px wide per frame back, at most 40 px
    np.testing.assert_allclose(frames["quantity_of_motion"], [np.nan, 0.5, 1, 1.5, 2, 2])
    assert frames["flow_magnitude"].isna().all()


def test_quantity_of_motion_window_follows_settings():
    frames = run(moving_square(), qom_frames=1)
    np.testing.assert_allclose(frames["quantity_of_motion"], [np.nan, 0.5, 0.5, 0.5, 0.5, 0.5])


def test_expanding_square_changes_shape_but_not_place():
    frames = run(squares([(40, 40, 20)], [(38, 38, 24)]))
    np.testing.assert_allclose(frames["motion_energy"], [np.nan, (24**2 - 20**2) / 24**2], rtol=1e-6)
    np.testing.assert_allclose(frames["quantity_of_motion"], [np.nan, 0.0])
    np.testing.assert_allclose(frames["centroid_speed"], [np.nan, 0.0])
    np.testing.assert_allclose(frames["body_area_frac"], [0.04, 0.0576], rtol=1e-6)


def test_identical_frames_have_no_motion():
    frames = run(squares([(40, 40, 20)], [(40, 40, 20)]))
    assert frames.loc[1, ["motion_energy", "quantity_of_motion", "centroid_speed"]].tolist() == [0, 0, 0]


def test_empty_frame_is_absent_and_breaks_motion():
    frames = run(squares([(40, 0, 20)], [], [(40, 20, 20)], [(40, 30, 20)]))
    assert frames["person_present"].tolist() == [True, False, True, True]
    absent = frames.loc[1]
    assert absent["n_regions"] == 0 and absent["body_area_frac"] == 0 and absent["matte_confidence"] == 1
    geometry = ["bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1", "bbox_fill", "centroid_x", "centroid_y"]
    assert absent[geometry].isna().all()
    motion = ["centroid_speed", "motion_energy", "quantity_of_motion"]
    assert frames.loc[[0, 1, 2], motion].isna().all().all()
    # the QoM window still reaches frame 0 across the empty frame: x 0..30 left behind, 600 px / 400 px
    np.testing.assert_allclose(frames.loc[3, motion].astype(float), [5.0, 1.0, 1.5])


def test_clip_without_anyone_gives_nans_and_no_warnings():
    frames = run(np.zeros((3, 36, 64), np.float32))
    assert not frames["person_present"].any()
    assert (frames["n_regions"] == 0).all()
    assert frames.drop(columns=["clip", "frame", "dancer", "time_s", "shot", "person_present", "matte_confidence", "n_regions",
                                "body_area_frac"]).isna().all().all()


def test_undecided_matte_has_zero_confidence_and_no_person():
    frames = run(np.full((1, 36, 64), 0.5, np.float32))
    assert frames.loc[0, "matte_confidence"] == 0
    assert frames.loc[0, "body_area_frac"] == pytest.approx(0.5)
    assert not frames.loc[0, "person_present"]


def test_speck_below_presence_threshold_is_no_person():
    frames = run(squares([(0, 0, 4)]))  # 16 px of 10000 < 0.2%
    assert not frames.loc[0, "person_present"]
    assert frames.loc[0, "body_area_frac"] == pytest.approx(0.0016)


def test_separate_squares_are_two_regions_and_specks_do_not_count():
    frames = run(squares([(10, 10, 20), (60, 60, 20)], [(10, 10, 20), (60, 60, 20), (0, 90, 3)], [(10, 10, 40)]))
    assert frames["n_regions"].tolist() == [2, 2, 1]
    np.testing.assert_allclose(frames.loc[0, ["bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1"]].astype(float),
                               [0.1, 0.1, 0.8, 0.8])
    assert frames.loc[0, "bbox_fill"] == pytest.approx(800 / 70**2)


def test_variable_frame_rate_uses_timestamps():
    frames = run(moving_square(4), times_s=[0.0, 0.1, 0.3, 0.3])
    np.testing.assert_allclose(frames["centroid_speed"], [np.nan, 5.0, 2.5, np.nan], rtol=1e-6)
    assert frames.loc[3, "motion_energy"] == 1.0  # per frame, defined without a time step


def textured_frames(n: int, shift_px: int) -> np.ndarray:
    """Smooth random texture shifted right by ``shift_px`` per frame, uint8."""
    texture = cv2.GaussianBlur(np.random.default_rng(0).uniform(0, 255, (SIZE, SIZE)), (0, 0), 2.0)
    texture = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX)
    return np.stack([np.roll(texture, shift_px * i, axis=1) for i in range(n)]).astype(np.uint8)


def test_flow_magnitude_in_body_heights_per_second():
    mattes = squares(*[[(40, 40, 20)]] * 3)
    grey = textured_frames(3, shift_px=2)
    tracker = FrameStatistics("clip")
    frames = tracker.update(mattes, np.arange(3) / 10.0, np.arange(3), grey=grey)
    # 2 px per frame * 10 frames/s / 20 px body height = 1 body height/s
    assert np.isnan(frames.loc[0, "flow_magnitude"])
    np.testing.assert_allclose(frames.loc[1:, "flow_magnitude"], 1.0, rtol=0.2)
    without_grey = tracker.update(mattes[:1], [0.3], [3])
    assert np.isnan(without_grey.loc[0, "flow_magnitude"])
    no_flow = FrameStatistics("clip", StatsSettings(flow=False))
    disabled = no_flow.update(mattes, np.arange(3) / 10.0, np.arange(3), grey)
    assert disabled["flow_magnitude"].isna().all()


def test_batches_give_the_same_rows_as_one_call():
    mattes = squares(*[[(30 + i, 5 * i, 20 + i)] for i in range(5)], [], *[[(40, 10 * i, 20)] for i in range(4)])
    grey = textured_frames(len(mattes), shift_px=1)
    times_s = np.cumsum(np.linspace(0.03, 0.05, len(mattes)))
    frame_index = np.arange(len(mattes)) + 100
    whole = FrameStatistics("clip").update(mattes, times_s, frame_index, grey)
    tracker = FrameStatistics("clip")
    parts = [tracker.update(mattes[a:b], times_s[a:b], frame_index[a:b], grey[a:b]) for a, b in
             [(0, 3), (3, 3), (3, 4), (4, 10)]]
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)


def test_inputs_are_checked():
    tracker = FrameStatistics("clip")
    with pytest.raises(ValueError, match="one entry per matte"):
        tracker.update(np.zeros((2, 8, 8), np.float32), np.zeros(3), np.arange(2))
    with pytest.raises(ValueError, match="grey"):
        tracker.update(np.zeros((2, 8, 8), np.float32), np.zeros(2), np.arange(2), np.zeros((2, 8, 8)))
    tracker.update(np.zeros((1, 8, 8), np.float32), np.zeros(1), np.arange(1))
    with pytest.raises(ValueError, match="differs"):
        tracker.update(np.zeros((1, 8, 9), np.float32), np.ones(1), np.arange(1))
    with pytest.raises(ValueError):
        StatsSettings(qom_frames=0)
