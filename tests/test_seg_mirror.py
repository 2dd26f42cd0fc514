"""The mirror pass (``SegmenterSettings.mirror``): each frame also seen mirrored, the two passes averaged and
put back in register, the same on both engines; the closer look's squares and ``--no-mirror`` see frames once."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seg.segmenter import Segmenter, SegmenterSettings

HEIGHT, WIDTH = 64, 40  # the width is padded to 64 for the network: the padding must not shift the mirror image


class LeftHalfIsPerson(torch.nn.Module):
    """Stands in for a network that is wrong in a way that depends on where, not what: a person logit of +20 in
    the left half of the unpadded picture and -20 elsewhere, whatever the pixels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        columns = torch.arange(x.shape[3], dtype=torch.float32).expand(x.shape[0], 1, x.shape[2], x.shape[3])
        return torch.where(columns < WIDTH / 2, 20.0, -20.0) + 0 * x[:, :1]


class RedIsPerson(torch.nn.Module):
    """Stands in for a network that sees what is there: person where the (normalised) red channel is high."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 20 * (x[:, :1] - x[:, 1:2])


def segmenter(network: torch.nn.Module, engine: str, mirror: bool) -> Segmenter:
    return Segmenter(SegmenterSettings(device="cpu", engine=engine, mirror=mirror), model=network)


def frames() -> np.ndarray:
    rng = np.random.default_rng(0)
    pictures = np.repeat(rng.integers(0, 80, (2, HEIGHT, WIDTH, 1), dtype=np.uint8), 3, axis=3)  # grey clutter
    pictures[0, 10:50, 3:14] = (220, 30, 30)  # a red "person" off-centre, so a mirror image out of place would show
    pictures[1, 20:30, 25:39] = (220, 30, 30)
    return pictures


@pytest.mark.parametrize("engine", ["onnx", "torch"])
def test_the_mirrored_pass_is_averaged_in_register(engine):
    once = segmenter(LeftHalfIsPerson(), engine, mirror=False).probabilities(frames())
    both = segmenter(LeftHalfIsPerson(), engine, mirror=True).probabilities(frames())
    assert once.shape == both.shape == (2, HEIGHT, WIDTH)
    assert (once[:, :, : WIDTH // 2] > 0.99).all() and (once[:, :, WIDTH // 2 :] < 0.01).all()
    np.testing.assert_allclose(both, 0.5, atol=1e-3)  # the left half in one view is the right half in the other


@pytest.mark.parametrize("engine", ["onnx", "torch"])
def test_what_both_views_see_alike_is_kept_where_it_is(engine):
    pictures = frames()
    once = segmenter(RedIsPerson(), engine, mirror=False).probabilities(pictures)
    both = segmenter(RedIsPerson(), engine, mirror=True).probabilities(pictures)
    np.testing.assert_allclose(both, once, atol=1e-4)
    assert np.array_equal(both > 0.5, pictures[..., 0] > 128)


def test_a_single_pass_can_be_asked_for_and_the_engines_agree():
    pictures = frames()
    onnx, eager = (segmenter(LeftHalfIsPerson(), engine, mirror=True) for engine in ("onnx", "torch"))
    np.testing.assert_allclose(onnx.probabilities(pictures), eager.probabilities(pictures), atol=1e-4)
    single = onnx.probabilities(pictures, mirror=False)
    assert (single[:, :, : WIDTH // 2] > 0.99).all()
    np.testing.assert_allclose(eager.device_probabilities(pictures, mirror=False).numpy(), single, atol=1e-4)


def test_mirror_is_on_by_default():
    assert SegmenterSettings().mirror
