"""``evaluate`` scores known predictions right, for the product's matte and the bare network."""

import cv2
import numpy as np
import pytest

from seg.evaluate import evaluate
from seg.refine import MatteRefiner
from seg.resize import shrink

HEIGHT, WIDTH, LONG_SIDE = 192, 128, 96


class LeftHalfSegmenter:
    """Stands in for ``Segmenter``: 'sees' the bright body and predicts only its left half, in one pass."""

    mirror = False

    def resize_for_network(self, frames: np.ndarray) -> np.ndarray:
        return np.stack([shrink(f, LONG_SIDE * WIDTH // HEIGHT, LONG_SIDE) for f in frames])

    def probabilities(self, small: np.ndarray) -> np.ndarray:
        body = (small[..., 0] > 128).astype(np.float32)
        body[:, :, small.shape[2] // 2 :] = 0
        return body

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        probs = self.probabilities(self.resize_for_network(frames))
        return np.stack([cv2.resize(p, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR) for p in probs])


@pytest.fixture()
def image_dirs(tmp_path):
    """Three grey pictures, each with a white body band across the full width at a different height."""
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir(), masks.mkdir()
    for i, top in enumerate((20, 40, 60)):
        mask = np.zeros((HEIGHT, WIDTH), np.uint8)
        mask[top : top + 100, :] = 255  # body spans the full width: the prediction is its left half
        picture = np.full((HEIGHT, WIDTH, 3), 60, np.uint8)
        picture[mask > 0] = 220
        cv2.imwrite(str(images / f"{i}.png"), picture)
        cv2.imwrite(str(masks / f"{i}.png"), mask)
    return images, masks


@pytest.mark.parametrize("refiner", [None, MatteRefiner()], ids=["network", "product"])
def test_half_the_body_scores_half(image_dirs, refiner):
    report = evaluate(*image_dirs, LeftHalfSegmenter(), refiner, progress=False)
    assert report.images == 3 and report.matte == ("network" if refiner is None else "product without the closer look")
    assert report.as_dict()["mirror"] is False and ", mirrored pass" not in report.as_text()
    assert report.iou == pytest.approx(0.5, abs=0.02)
    assert report.dice == pytest.approx(2 / 3, abs=0.02)
    assert len(report.worst) == 3 and not report.skipped
