"""Edited clips: cuts are found, and the matte, the tracker and the statistics restart there."""

from __future__ import annotations

import numpy as np
import pytest

from analytics import FrameStatistics, load_clips, load_frames
from analytics.figures import time_series_plot
from pipelines.cli import main
from pipelines.shots import ShotCutDetector, ShotSettings, content_score
from pipelines.synthetic import SyntheticClipSpec, make_clip
from pipelines.video_io import ClipReader, read_alpha
from seg.composite import Placement
from seg.metrics import iou

EDITED = SyntheticClipSpec(width=180, height=320, frames=36, fps=12, seed=3, cut_every_s=1.0)
CUT_FRAMES = [12, 24]


def jumping_pose(spec: SyntheticClipSpec, t: float, n: int, count: int) -> Placement:
    """Each shot frames the dancer elsewhere (left, right, left), swaying a little within the shot."""
    x = (0.3, 0.7)[spec.shot(t) % 2] + 0.03 * np.sin(2 * np.pi * t)
    return Placement(spec.width * x, spec.height * 0.55, spec.height * 0.55, 5 * np.cos(2 * np.pi * t))


def detected_cuts(path, settings: ShotSettings = ShotSettings()) -> list[int]:
    detector = ShotCutDetector(settings)
    cuts = []
    with ClipReader(path) as reader:
        for batch in reader:
            marked = detector.update(batch.scaled_rgb(144, 256), batch.times_s)
            cuts += batch.index[marked].tolist()
    return cuts


@pytest.fixture(scope="module")
def edited(tmp_path_factory, validation_people):
    """A three-shot clip of one dancer who is framed elsewhere in each shot, and its ground-truth matte."""
    path = tmp_path_factory.mktemp("edited") / "edited.mp4"
    return path, make_clip(path, validation_people[:1], EDITED, jumping_pose)


def test_content_score_is_zero_for_equal_frames_and_takes_hue_the_short_way():
    hsv = np.zeros((4, 4, 3), np.uint8)
    assert content_score(hsv, hsv) == 0
    red_side, other_red_side = hsv.copy(), hsv.copy()
    red_side[..., 0], other_red_side[..., 0] = 2, 178  # 4 hue steps apart round the wheel, not 176
    assert content_score(red_side, other_red_side) == pytest.approx(4 / 3)
    brighter = hsv.copy()
    brighter[..., 2] = 90
    assert content_score(hsv, brighter) == pytest.approx(30)


def test_cuts_of_an_edited_clip_are_found_and_a_continuous_dance_has_none(edited, tmp_path, validation_people):
    path, _ = edited
    assert detected_cuts(path) == CUT_FRAMES
    continuous = tmp_path / "continuous.mp4"  # the default dance: swaying, bobbing, a panning background
    make_clip(continuous, validation_people[:2], SyntheticClipSpec(frames=36, seed=3))
    assert detected_cuts(continuous) == []


def test_flashes_make_at_most_one_cut_per_min_shot():
    rng = np.random.default_rng(0)
    pictures = rng.integers(0, 256, (2, 32, 18, 3), dtype=np.uint8)
    flashing = pictures[np.arange(24) % 2]  # every frame differs wholly from the one before
    detector = ShotCutDetector(ShotSettings(min_shot_s=0.5))
    cuts = np.concatenate([detector.update(flashing[a : a + 8], np.arange(a, a + 8) / 12) for a in range(0, 24, 8)])
    assert np.flatnonzero(cuts).tolist() == [1, 7, 13, 19]  # 6 frames = 0.5 s apart, across batches


def test_edited_clip_keeps_its_dancer_matted_in_every_shot_and_restarts_motion_at_each_cut(edited, tmp_path):
    path, truth = edited
    out = tmp_path / "out"
    assert main(["process", str(path), "--out", str(out), "--device", "cpu", "--quiet"]) == 0  # --dancers main
    alpha = read_alpha(out / "mattes" / "edited.mov")
    scores = [iou(a > 127, t > 0.5) for a, t in zip(alpha, truth)]
    assert min(scores) > 0.8, scores  # no frame loses the dancer after a cut
    frames = load_frames(out, "edited")
    assert (frames["dancer"] == 1).all()  # the same dancer in every shot
    assert frames["shot"].tolist() == [0] * 12 + [1] * 12 + [2] * 12
    assert load_clips(out).set_index("clip").loc["edited", "shots"] == 3
    assert frames.loc[frames["motion_energy"].isna(), "frame"].tolist() == [0, *CUT_FRAMES]
    assert frames["motion_energy"].max() < 0.5  # never one shot compared with the next


def test_report_plot_marks_the_cuts():
    mattes = np.zeros((24, 32, 18), np.float32)
    mattes[:, 8:24, 4:14] = 1
    cuts = np.arange(24) == 12
    edited = FrameStatistics("clip").update(mattes, np.arange(24) / 12, np.arange(24), cuts=cuts)
    assert edited["shot"].max() == 1
    assert time_series_plot(edited) != time_series_plot(edited.assign(shot=0))  # the same curves, the line added
    assert time_series_plot(edited) == time_series_plot(edited.copy())
