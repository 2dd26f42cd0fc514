"""The compact copy of a training set (for carrying to a GPU machine) pairs up and keeps the masks."""

import cv2
import numpy as np

from seg.compact_data import main
from seg.data import find_pairs, is_validation, load_people


def test_compact_copy_shrinks_images_and_keeps_masks_and_split(people_dirs, tmp_path):
    images, masks = people_dirs
    main([str(images), str(masks), str(tmp_path), "--long-side", "64"])
    pairs, problems = find_pairs(tmp_path / "images", tmp_path / "masks")
    originals, _ = find_pairs(images, masks)
    assert not problems and [p.stem for p in pairs] == [p.stem for p in originals]
    assert {p.stem for p in pairs if is_validation(p.stem)} == {p.stem for p in originals if is_validation(p.stem)}
    small, _ = load_people(pairs)
    large, _ = load_people(originals)
    for a, b in zip(small, large):
        assert max(a.alpha.shape) == 64 and set(np.unique(a.alpha)) <= {0.0, 1.0}
        shrunk = cv2.resize(b.alpha, a.alpha.shape[::-1], interpolation=cv2.INTER_AREA) >= 0.5
        assert (shrunk == (a.alpha > 0)).mean() > 0.97
