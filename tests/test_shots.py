"""Edited clips: cuts, dissolves and fades are found, and the matte, the tracker and the statistics restart there."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from analytics import FrameStatistics, load_clips, load_frames
from analytics.figures import time_series_plot
from pipelines.cli import main
from pipelines.shots import ShotChangeDetector, ShotSettings, Transition, with_shot_changes
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
    with ClipReader(path) as reader:
        detector = ShotChangeDetector(reader.info.fps, settings)
        return [int(i) for batch, _, starts in with_shot_changes(reader, detector, 144, 256) for i in batch.index[starts]]


def transitions_of(pictures: np.ndarray, fps: float = 24, batch: int = 8) -> list[Transition]:
    """The shot changes the detector finds in (N, h, w, 3) uint8 RGB pictures fed in batches."""
    detector = ShotChangeDetector(fps)
    for start in range(0, len(pictures), batch):
        detector.update(pictures[start : start + batch], np.arange(start, min(start + batch, len(pictures))))
    detector.finish()
    return detector.transitions


def dancing_scene(seed: int, frames: int, width: int = 96, height: int = 160) -> np.ndarray:
    """A textured background panning slowly sideways behind a bright figure swaying left and right."""
    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (height, 2 * width, 3), dtype=np.uint8), (0, 0), 8)
    texture = cv2.normalize(texture, None, 30, 230, cv2.NORM_MINMAX)
    pictures = []
    for n in range(frames):
        picture = np.roll(texture, -n, axis=1)[:, :width].copy()
        x = int(width / 2 + width / 8 * np.sin(2 * np.pi * n / 48))
        cv2.ellipse(picture, (x, height // 2), (width // 8, height // 3), 0, 0, 360, (250, 200, 160), -1)
        pictures.append(picture)
    return np.stack(pictures)


def joined(first: np.ndarray, second: np.ndarray, overlap: int) -> np.ndarray:
    """``first`` then ``second``, the last ``overlap`` frames of one dissolving linearly into the first of the other."""
    mix = (np.arange(1, overlap + 1) / (overlap + 1))[:, None, None, None]
    blend = ((1 - mix) * first[len(first) - overlap :] + mix * second[:overlap]).round().astype(np.uint8)
    return np.concatenate([first[: len(first) - overlap], blend, second[overlap:]])


@pytest.fixture(scope="module")
def edited(tmp_path_factory, validation_people):
    """A three-shot clip of one dancer who is framed elsewhere in each shot, and its ground-truth matte."""
    path = tmp_path_factory.mktemp("edited") / "edited.mp4"
    return path, make_clip(path, validation_people[:1], EDITED, jumping_pose)


def test_a_hard_cut_is_a_cut_and_a_continuous_dancer_has_none():
    first, second = dancing_scene(0, 36), dancing_scene(1, 36)
    assert transitions_of(first) == []
    assert transitions_of(np.concatenate([first, second])) == [Transition(36, "cut")]


def test_a_dissolve_is_found_as_one_gradual_transition_inside_it():
    first, second = dancing_scene(0, 48), dancing_scene(1, 48)
    found = transitions_of(joined(first, second, 18))  # frames 30..47 mix the two scenes over 0.75 s
    assert [t.kind for t in found] == ["dissolve"]
    assert 30 <= found[0].frame <= 47


def test_a_fade_through_black_is_one_fade_starting_where_the_picture_comes_back():
    first, second = dancing_scene(0, 36), dancing_scene(1, 36)
    fade = np.linspace(1, 0, 12)[:, None, None, None]
    black = np.zeros((6, *first.shape[1:]), np.uint8)
    pictures = np.concatenate([
        first[:24], (first[24:] * fade).astype(np.uint8), black, (second[:12] * fade[::-1]).astype(np.uint8), second[12:],
    ])
    found = transitions_of(pictures)
    assert [t.kind for t in found] == ["fade"]
    assert 36 <= found[0].frame <= 44  # in the black or the fade-in, never in the first scene


def test_cuts_of_an_edited_clip_are_found_and_a_continuous_dance_has_none(edited, tmp_path, validation_people):
    path, _ = edited
    assert detected_cuts(path) == CUT_FRAMES
    continuous = tmp_path / "continuous.mp4"  # the default dance: swaying, bobbing, a panning background
    make_clip(continuous, validation_people[:2], SyntheticClipSpec(frames=36, seed=3))
    assert detected_cuts(continuous) == []


def test_flashes_make_at_most_one_change_per_min_shot():
    rng = np.random.default_rng(0)
    pictures = rng.integers(0, 256, (2, 32, 18, 3), dtype=np.uint8)
    flashing = pictures[np.arange(24) % 2]  # every frame differs wholly from the one before
    starts = [t.frame for t in transitions_of(flashing, fps=12)]
    assert np.all(np.diff([0, *starts]) >= 6)  # 6 frames = 0.5 s apart, across batches


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
    clip = load_clips(out).set_index("clip").loc["edited"]
    assert clip["shots"] == 3 and clip["transitions"] == "12:cut,24:cut"
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
