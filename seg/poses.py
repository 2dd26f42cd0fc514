"""Several people's skeletons in one picture: what tells apart people the matte joins into one region.

The segmentation network's matte joins a dancer and the spectators they touch into one region, and
MediaPipe's person detector (``seg.person_evidence``) merges overlapping people into one detection. Google's
MoveNet MultiPose Lightning (``weights/movenet-multipose``, Apache-2.0; how the file was made:
``benchmarks/movenet_onnx.py``) finds up to six people at once, each with the 17 COCO keypoints. It runs with
ONNX Runtime on a picture scaled to ``long_side`` and padded to multiples of 32 (the model takes any such size,
int32 RGB 0-255). Its output per person: 17 x (y, x, confidence) in [0, 1] of the padded input, then a box and
the person's score.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

MODEL_PATH = Path(__file__).resolve().parent / "weights" / "movenet-multipose" / "movenet_multipose_lightning.onnx"
KEYPOINTS = 17  # COCO order: nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles (left before right)
SHOULDERS, HIPS = (5, 6), (11, 12)
LIMBS = ((5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14), (14, 16), (0, 5), (0, 6))  # bones beside the torso
MODEL_STRIDE = 32


class PoseModelError(RuntimeError):
    """The pose model cannot be loaded: its file is missing."""


@dataclass(frozen=True)
class Poses:
    """The people found in one picture, in its pixel coordinates (x right, y down)."""

    keypoints: np.ndarray  # (K, 17, 2) float32 x, y
    confidence: np.ndarray  # (K, 17) float32 of each keypoint
    scores: np.ndarray  # (K,) float32 of each person

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def none(cls) -> Poses:
        """Nobody found."""
        return cls(np.zeros((0, KEYPOINTS, 2), np.float32), np.zeros((0, KEYPOINTS), np.float32), np.zeros(0, np.float32))

    def select(self, keep: np.ndarray) -> Poses:
        """The people ``keep`` (bool or indices) names."""
        return Poses(self.keypoints[keep], self.confidence[keep], self.scores[keep])

    def transformed(self, scale: float, dx: float = 0.0, dy: float = 0.0) -> Poses:
        """The same people in a picture whose pixels are ``scale`` times these, after moving the origin by (-dx, -dy)."""
        moved = (self.keypoints + np.array([dx, dy], np.float32)) * np.float32(scale)
        return Poses(moved.astype(np.float32), self.confidence, self.scores)


def widened(model):  # onnx.ModelProto
    """The model with its float16 initializers (stored so: half the file) widened to the float32 the graph computes in."""
    from onnx import numpy_helper

    for index, tensor in enumerate(model.graph.initializer):
        values = numpy_helper.to_array(tensor)
        if values.dtype == np.float16:
            model.graph.initializer[index].CopyFrom(numpy_helper.from_array(values.astype(np.float32), tensor.name))
    return model


class PoseFinder:
    """MoveNet MultiPose on an RGB picture: every person scoring at least ``min_score``."""

    def __init__(self, long_side: int = 384, min_score: float = 0.15, threads: int = 1, model_path: Path = MODEL_PATH) -> None:
        import onnx
        import onnxruntime

        if not model_path.is_file():
            raise PoseModelError(f"{model_path}: the pose model's file is missing")
        model = widened(onnx.load(str(model_path)))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        options.log_severity_level = 3  # the converted graph's unused-initializer warnings are not the user's concern
        self._session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        self.long_side, self.min_score = long_side, min_score

    def __call__(self, rgb: np.ndarray) -> Poses:
        """The people in an (H, W, 3) uint8 RGB picture."""
        h, w = rgb.shape[:2]
        scale = self.long_side / max(h, w)
        height, width = max(1, round(h * scale)), max(1, round(w * scale))
        padded = np.zeros((-(-height // MODEL_STRIDE) * MODEL_STRIDE, -(-width // MODEL_STRIDE) * MODEL_STRIDE, 3), np.int32)
        padded[:height, :width] = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
        people = self._session.run(None, {"input": padded[None]})[0][0]
        points = people[:, : 3 * KEYPOINTS].reshape(-1, KEYPOINTS, 3)
        xy = np.stack([points[..., 1] * padded.shape[1], points[..., 0] * padded.shape[0]], -1) / scale
        found = Poses(xy.astype(np.float32), points[..., 2].astype(np.float32), people[:, -1].astype(np.float32))
        return found.select(found.scores >= self.min_score)
