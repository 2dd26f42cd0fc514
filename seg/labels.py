"""Labels for real frames from two teachers: the combining rule and the weight it earns.

Real frames are labelled by two teachers with different errors (``benchmarks/teachers.py``): a
salient-object model (ISNet: sharp edges, but it also takes statues, benches, crowds) and
MediaPipe's pose mask (one tracked person, soft edges). The label is the per-pixel mean of their
probabilities inside the tracked pose box and 0 outside it, so a salient object away from the
tracked person never becomes "person", and inside the box each teacher's edge errors are halved.
Frames where the teachers disagree are not dropped (they are the hard ones) but carry their
agreement, the IoU of the two teachers' masks over the whole frame, for training to weight by.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seg.metrics import iou

TEACHER_THRESHOLD = 0.5  # a teacher's probability above this calls the pixel person


@dataclass(frozen=True)
class TeacherLabel:
    probability: np.ndarray  # (H, W) float32 in [0, 1]: the label
    agreement: float  # IoU of the two teachers' masks over the whole frame, in [0, 1]


def combine_teachers(salient: np.ndarray, pose: np.ndarray, pose_box: np.ndarray) -> TeacherLabel:
    """Label of one frame from the two teachers' (H, W) probabilities and the (H, W) boolean pose box."""
    if not salient.shape == pose.shape == pose_box.shape:
        raise ValueError(f"teacher shapes differ: {salient.shape}, {pose.shape}, {pose_box.shape}")
    probability = np.where(pose_box, (salient.astype(np.float32) + pose.astype(np.float32)) / 2, 0).astype(np.float32)
    return TeacherLabel(probability, iou(salient > TEACHER_THRESHOLD, pose > TEACHER_THRESHOLD))


def label_to_png(probability: np.ndarray) -> np.ndarray:
    """8-bit label image: probability times 255, rounded."""
    return np.round(np.clip(probability, 0, 1) * 255).astype(np.uint8)


def label_mask(label_png: np.ndarray) -> np.ndarray:
    """Boolean person mask of an 8-bit label: more than half probability. A tie (one teacher sure of
    person, the other sure of background: 128 once rounded) goes to background."""
    return label_png > 128
