"""Matte refinement: edge-aware upsampling follows the picture, the same on any number of threads."""

import numpy as np

from seg.refine import MatteRefiner


def step_scene(n: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Frames whose left part is a bright body (x < 70 of 160) and a coarse, blurred matte of it at 1/4 size."""
    luma = np.full((n, 120, 160), 30, np.uint8)
    luma[:, :, :70] = 220
    probs = np.zeros((n, 30, 40), np.float32)
    probs[:, :, :17] = 1.0
    probs[:, :, 17:19] = 0.5  # the network is unsure along the edge
    return probs, luma


def test_edge_aware_upsampling_puts_the_edge_where_the_picture_has_it():
    probs, luma = step_scene()
    alpha = MatteRefiner(threads=1).upsample(probs, list(luma))
    assert alpha.shape == luma.shape and alpha.dtype == np.uint8
    assert (alpha[:, :, :66] > 200).all() and (alpha[:, :, 74:] < 55).all()
    row = alpha[0, 60].astype(int)
    assert row[68] - row[72] > 100  # a sharp step at the picture's edge (x = 70), not a 4x-blurred ramp


def test_upsampling_on_several_threads_gives_the_same_mattes():
    probs, luma = step_scene(n=7)
    probs = probs * np.random.default_rng(0).uniform(0.8, 1.0, probs.shape).astype(np.float32)
    np.testing.assert_array_equal(MatteRefiner(threads=3).upsample(probs, list(luma)), MatteRefiner(threads=1).upsample(probs, list(luma)))
