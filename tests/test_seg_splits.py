"""The committed real-footage splits: no scene on both sides, and hand edits that would leak one are refused."""

from __future__ import annotations

import pytest

from seg.splits import NO_PEOPLE_SPLIT, REAL_CLIPS_SPLIT, SplitError, files_on, read_split


@pytest.mark.parametrize("table", [REAL_CLIPS_SPLIT, NO_PEOPLE_SPLIT])
def test_committed_splits_keep_every_group_on_one_side(table):
    entries = read_split(table)
    train, check = set(files_on("train", table)), set(files_on("check", table))
    assert train and check and not train & check
    assert len(train) + len(check) == len(entries)
    sides = {}
    for entry in entries:
        sides.setdefault(entry.group, set()).add(entry.side)
    assert all(len(s) == 1 for s in sides.values())


def test_four_views_of_one_scene_are_one_group_and_human_like_photos_are_on_both_sides():
    views = [e for e in read_split(REAL_CLIPS_SPLIT) if e.file.startswith("pose2sim__trial1_cam")]
    assert len(views) == 4 and len({e.group for e in views}) == 1
    human_like_sides = {e.side for e in read_split(NO_PEOPLE_SPLIT) if e.human_like}
    assert human_like_sides == {"train", "check"}


@pytest.mark.parametrize("rows, message", [
    ("a.mp4,train,scene\nb.mp4,check,scene\n", "group 'scene' is on both sides"),
    ("a.mp4,train,a\na.mp4,train,a\n", "a.mp4 is listed twice"),
    ("a.mp4,validation,a\n", "unknown side 'validation'"),
])
def test_a_table_that_leaks_a_scene_is_refused(tmp_path, rows, message):
    table = tmp_path / "split.csv"
    table.write_text("file,side,group\n" + rows)
    with pytest.raises(SplitError, match=message):
        read_split(table)


def test_a_missing_table_is_one_line(tmp_path):
    with pytest.raises(SplitError, match="no such split table"):
        read_split(tmp_path / "absent.csv")
