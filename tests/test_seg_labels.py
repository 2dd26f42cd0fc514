"""The two-teacher label rule (seg.labels) on made-up arrays with answers known by construction."""

import numpy as np
import pytest

from seg.labels import combine_teachers, label_mask, label_to_png


def test_label_is_the_mean_of_the_teachers_inside_the_pose_box_and_zero_outside():
    salient = np.array([[1.0, 1.0, 0.0, 1.0]], np.float32)
    pose = np.array([[1.0, 0.0, 0.0, 0.0]], np.float32)
    box = np.array([[True, True, True, False]])
    label = combine_teachers(salient, pose, box)
    assert label.probability.dtype == np.float32
    np.testing.assert_allclose(label.probability, [[1.0, 0.5, 0.0, 0.0]])  # the salient object outside the box is dropped


def test_agreement_is_the_iou_of_the_two_teachers_masks_over_the_whole_frame():
    salient = np.zeros((4, 4), np.float32)
    pose = np.zeros((4, 4), np.float32)
    salient[:, :2] = 0.9  # 8 px
    pose[:, 1:3] = 0.8  # 8 px, 4 in common
    box = np.zeros((4, 4), bool)
    box[:, 1:3] = True
    assert combine_teachers(salient, pose, box).agreement == pytest.approx(4 / 12)  # outside the box still counts
    assert combine_teachers(pose, pose, box).agreement == 1.0
    empty = np.zeros((4, 4), np.float32)
    assert combine_teachers(empty, empty, box).agreement == 1.0  # nobody, and both say so


def test_label_png_keeps_more_than_half_as_person_and_a_tie_as_background():
    probability = np.array([[0.0, 0.49, 0.5, 0.51, 1.0]], np.float32)
    png = label_to_png(probability)
    assert png.dtype == np.uint8 and png.tolist() == [[0, 125, 128, 130, 255]]
    assert label_mask(png).tolist() == [[False, False, False, True, True]]


def test_teacher_shapes_must_match():
    with pytest.raises(ValueError, match="shapes differ"):
        combine_teachers(np.zeros((2, 2)), np.zeros((2, 3)), np.zeros((2, 2), bool))
