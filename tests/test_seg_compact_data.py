"""The compact copy of a training set (for carrying to a GPU machine) pairs up and keeps the masks."""

import cv2
import numpy as np
import pytest

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


def test_compact_tree_keeps_names_formats_and_soft_labels_and_copies_the_rest(tmp_path):
    """The labelled-frames layout (images/ JPEG, labels/ 8-bit PNG probability, meta/ JSON) and a photo smaller than the
    long side: pictures shrunk alike under their own names, labels still soft, small pictures not enlarged."""
    source = tmp_path / "labelled"
    for folder in ("images", "labels", "meta"):
        (source / folder).mkdir(parents=True)
    rng = np.random.default_rng(0)
    cv2.imwrite(str(source / "images" / "clip_00001.jpg"), rng.integers(0, 255, (90, 160, 3), dtype=np.uint8))
    label = np.zeros((90, 160), np.uint8)
    label[20:70, 60:100] = 255
    label[20:70, 100:110] = 128  # an uncertain edge the teachers half agree on
    cv2.imwrite(str(source / "labels" / "clip_00001.png"), label)
    (source / "meta" / "clip_00001.json").write_text('{"clip": "clip.mp4", "agreement": 0.9}')
    cv2.imwrite(str(source / "small.png"), np.full((20, 30, 3), 200, np.uint8))
    main(["--tree", str(source), str(tmp_path / "out"), "--long-side", "64"])
    out = tmp_path / "out"
    image = cv2.imread(str(out / "images" / "clip_00001.jpg"))
    small_label = cv2.imread(str(out / "labels" / "clip_00001.png"), cv2.IMREAD_UNCHANGED)
    assert image.shape == (36, 64, 3) and small_label.shape == (36, 64)
    assert 0 < (small_label == 128).sum() and {0, 255} <= set(np.unique(small_label))  # still a probability, not 1-bit
    assert (out / "meta" / "clip_00001.json").read_text() == (source / "meta" / "clip_00001.json").read_text()
    assert cv2.imread(str(out / "small.png")).shape == (20, 30, 3)


def test_compact_data_wants_two_paths_with_tree_and_three_without(tmp_path, capsys):
    for argv in (["--tree", "a", "b", "c"], ["a", "b"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2 and "SOURCE OUT" in capsys.readouterr().err
