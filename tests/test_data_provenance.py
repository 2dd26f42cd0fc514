"""Every real photo and clip the repository commits for training or checking has its provenance recorded, under a
licence that allows commercial use and modification."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent / "data"
PHOTO_FOLDERS = ("person-free", "person-free-animals")
ALLOWED = ("CC0", "CC-BY-", "Public domain", "Public Domain", "Pexels License", "Unsplash License")
NOT_ALLOWED = ("-NC", "NonCommercial", "GPL", "research")


def provenance_rows(folder: Path) -> dict[str, list[str]]:
    """File -> the cells of its row in ``folder/PROVENANCE.md``'s table."""
    rows = {}
    for line in (folder / "PROVENANCE.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| photos/"):
            rows[cells[0]] = cells
    return rows


def allowed(licence: str) -> bool:
    return licence.startswith(ALLOWED) and not any(word in licence for word in NOT_ALLOWED)


@pytest.mark.parametrize("name", PHOTO_FOLDERS)
def test_every_person_free_photo_has_one_row_with_its_source_and_an_allowed_licence(name):
    folder = DATA / name
    rows = provenance_rows(folder)
    photos = {f"photos/{p.name}" for p in (folder / "photos").iterdir()}
    assert photos and set(rows) == photos
    for file, cells in rows.items():
        source, licence = cells[1], cells[2]
        assert source and allowed(licence), f"{file}: {licence!r}"


def test_every_stock_clip_has_its_row_checksum_and_a_stock_licence():
    folder = DATA / "stock-clips"
    with open(folder / "clips.csv", newline="") as table:
        rows = {row["file"]: row for row in csv.DictReader(table)}
    assert set(rows) == {p.name for p in folder.glob("*.mp4")}
    for file, row in rows.items():
        assert allowed(row["licence"]) and row["source"] and row["use"] in ("train+check", "check-only"), file
        assert hashlib.sha256((folder / file).read_bytes()).hexdigest() == row["sha256"], file
