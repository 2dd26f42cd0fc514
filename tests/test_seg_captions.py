"""Burned-in captions (seg.captions) and their use in training augmentation (seg.data)."""

import numpy as np
import pytest

from seg.captions import FONTS, STYLES, draw_caption
from seg.data import AugmentSettings, camera_effects


def grey_picture() -> np.ndarray:
    return np.full((320, 180, 3), 120, np.uint8)


@pytest.mark.parametrize("font", FONTS)
@pytest.mark.parametrize("style", STYLES)
def test_a_caption_changes_exactly_the_pixels_it_says_it_covers(style, font):
    picture = grey_picture()
    caption = draw_caption(picture, np.random.default_rng(7), style, font)
    changed = (caption.image.astype(int) != picture).any(axis=2)
    assert changed.any() and not (changed & ~caption.covered).any()
    assert 0.002 < caption.covered.mean() < 0.5  # letters, not a blank or a filled picture
    assert not (caption.hidden & ~caption.covered).any()
    assert caption.hidden.any() == (style == "box")  # only an opaque box hides what lies behind it


def test_captions_fit_the_picture_width_and_vary_with_the_seed():
    layers = [draw_caption(grey_picture(), np.random.default_rng(seed), "outline").covered for seed in range(12)]
    columns = [np.flatnonzero(layer.any(axis=0)) for layer in layers]
    assert all(c[0] >= 1 and c[-1] <= 178 for c in columns)
    rows = {int(np.flatnonzero(layer.any(axis=1))[0]) for layer in layers}
    assert len(rows) > 6  # placed at many heights: over the face, the body and the feet


def test_augmented_captions_are_drawn_on_a_share_of_canvases_and_an_opaque_box_is_not_person():
    """A person filling the canvas: an opaque caption box hides her (target 0 there); letters drawn on her keep
    her target (the matte stays whole under thin letters); no caption without the setting."""
    image, target = grey_picture(), np.ones((320, 180), np.float32)
    settings = AugmentSettings(motion_blur=0, jpeg=0, captions=1.0)
    emptied = []
    for seed in range(16):
        _, out = camera_effects(image, target, np.random.default_rng(seed), settings)
        emptied.append(float((out < 0.5).mean()))
    assert 3 <= sum(e > 0 for e in emptied) <= 13  # the opaque boxes, one style in four
    _, out = camera_effects(image, target, np.random.default_rng(0), AugmentSettings(motion_blur=0, jpeg=0))
    assert (out == 1).all()

