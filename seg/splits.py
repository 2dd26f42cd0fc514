"""Train/check splits of the real footage, kept as committed tables (``data/splits/``).

Real clips are split by clip and by group (four views of one scene, five signers in one
office) so that no scene is on both sides; person-free photos by photo, or by series where
several photos show one object. A table that breaks those rules is refused, so a hand edit
cannot leak a scene into training unnoticed.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

SPLITS_DIR = Path(__file__).resolve().parent.parent / "data" / "splits"
REAL_CLIPS_SPLIT = SPLITS_DIR / "real-clips.csv"
NO_PEOPLE_SPLIT = SPLITS_DIR / "no-people.csv"
SIDES = ("train", "check")


class SplitError(Exception):
    """A split table is missing, malformed, or puts one group on both sides."""


@dataclass(frozen=True)
class SplitEntry:
    file: str
    side: str
    group: str
    human_like: bool = False  # person-free photos only: a statue, relief or painted face


def read_split(path: Path) -> list[SplitEntry]:
    """The rows of a split table, checked: known sides, each file once, each group on one side."""
    if not path.is_file():
        raise SplitError(f"{path}: no such split table")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    entries = [SplitEntry(row["file"], row["side"], row["group"], row.get("human_like") == "yes") for row in rows]
    sides_of_group: dict[str, set[str]] = {}
    seen: set[str] = set()
    for entry in entries:
        if entry.side not in SIDES:
            raise SplitError(f"{path.name}: {entry.file}: unknown side '{entry.side}' (use train or check)")
        if entry.file in seen:
            raise SplitError(f"{path.name}: {entry.file} is listed twice")
        seen.add(entry.file)
        sides_of_group.setdefault(entry.group, set()).add(entry.side)
    for group, sides in sides_of_group.items():
        if len(sides) > 1:
            raise SplitError(f"{path.name}: group '{group}' is on both sides")
    return entries


def files_on(side: str, path: Path) -> list[str]:
    """The files of one side of a split table, in table order."""
    return [entry.file for entry in read_split(path) if entry.side == side]


def trainable(paths: list[Path], table: Path) -> tuple[list[Path], list[Path]]:
    """``paths`` split into those training may use and those on the table's check side (by file name or stem)."""
    held_out = {name for entry in read_split(table) if entry.side == "check" for name in (entry.file, Path(entry.file).stem)}
    usable = [p for p in paths if p.name not in held_out and p.stem not in held_out]
    return usable, [p for p in paths if p.name in held_out or p.stem in held_out]
