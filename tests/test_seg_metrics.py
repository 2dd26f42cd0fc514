"""The metrics themselves, on hand-made arrays with answers known by construction."""

import numpy as np
import pytest

from seg.metrics import boundary, boundary_f, consensus_iou, dice, iou, person_share, portrait_windows, share_away_from


def rect(h, w, y0, y1, x0, x1):
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def test_iou_and_dice_of_overlapping_rectangles():
    a = rect(10, 10, 0, 10, 0, 5)  # 50 px
    b = rect(10, 10, 0, 10, 3, 8)  # 50 px, overlap 20 px
    assert iou(a, b) == pytest.approx(20 / 80)
    assert dice(a, b) == pytest.approx(40 / 100)


def test_perfect_and_empty_cases():
    a = rect(8, 8, 2, 6, 2, 6)
    assert iou(a, a) == 1.0 and dice(a, a) == 1.0 and boundary_f(a, a) == 1.0
    empty = np.zeros((8, 8), bool)
    assert iou(empty, empty) == 1.0 and dice(empty, empty) == 1.0
    assert iou(a, empty) == 0.0 and boundary_f(a, empty) == 0.0


def test_consensus_iou_scores_only_where_the_teachers_agree():
    one = rect(10, 10, 0, 10, 0, 5)  # columns 0-4
    other = rect(10, 10, 0, 10, 0, 7)  # columns 0-6: the teachers disagree on columns 5-6 (20 px)
    pred = rect(10, 10, 0, 10, 2, 7)  # columns 2-6: right on 2-4, wrong on 0-1, columns 5-6 not scored
    score, left_out = consensus_iou(pred, [one, other])
    assert score == pytest.approx(30 / 50) and left_out == pytest.approx(0.2)
    assert consensus_iou(one, [one]) == (1.0, 0.0)


def test_boundary_is_one_pixel_ring():
    a = rect(10, 10, 2, 8, 2, 8)
    assert boundary(a).sum() == 6 * 4 - 4


def test_boundary_f_tolerates_shift_within_band_only():
    truth = rect(100, 100, 20, 80, 20, 80)
    shifted_1 = rect(100, 100, 21, 81, 21, 81)
    shifted_10 = rect(100, 100, 30, 90, 30, 90)
    assert boundary_f(shifted_1, truth, tolerance=2) == 1.0
    assert boundary_f(shifted_10, truth, tolerance=2) < 0.3
    # a prediction with an extra blob loses precision but keeps recall
    blob = truth | rect(100, 100, 0, 5, 0, 5)
    assert 0.8 < boundary_f(blob, truth, tolerance=1) < 1.0


def test_person_share_counts_pixels_above_half():
    probability = np.array([[0.0, 0.5, 0.51, 1.0]])
    assert person_share(probability) == pytest.approx(0.5)
    assert person_share(np.zeros((3, 3))) == 0.0


def test_portrait_windows_are_9_16_and_spread_across_a_landscape_picture():
    windows = portrait_windows(160, 400, count=4)  # 9:16 of 160 rows is 90 columns
    assert [(w[1].start, w[1].stop) for w in windows] == [(0, 90), (103, 193), (207, 297), (310, 400)]
    assert all((w[0].start, w[0].stop) == (0, 160) for w in windows)


def test_portrait_windows_of_a_tall_picture_run_down_it_and_a_9_16_picture_is_one_window():
    windows = portrait_windows(400, 90, count=3)  # 16:9 of 90 columns is 160 rows
    assert [(w[0].start, w[0].stop) for w in windows] == [(0, 160), (120, 280), (240, 400)]
    assert portrait_windows(160, 90) == [(slice(0, 160), slice(0, 90))]


def test_share_away_from_scores_only_pixels_beyond_the_distance_from_the_person():
    person = np.zeros((20, 40), bool)
    person[:, :10] = True
    caption = np.zeros((20, 40), bool)
    caption[5:7, 5:30] = True  # columns 5-9 on her, 10-14 near her edge, 15-29 away
    called = person.copy()
    called[5:7, 15:20] = True  # a third of the pixels away from her
    assert share_away_from(called, caption, person, 5.5) == pytest.approx(1 / 3)
    assert np.isnan(share_away_from(called, caption, person, 100))
    assert share_away_from(called, caption, np.zeros_like(person), 0) == pytest.approx(20 / 50)  # nobody: all of it
