"""Shared fixtures: the committed test people and small synthetic clips."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
PEOPLE = DATA / "people"


@pytest.fixture(scope="session")
def people_dirs() -> tuple[Path, Path]:
    return PEOPLE / "images", PEOPLE / "masks"


@pytest.fixture(scope="session")
def people(people_dirs):
    from seg.composite import Person

    images, masks = people_dirs
    return [Person.load(p, masks / f"{p.stem}.png") for p in sorted(images.glob("*.jpg"))]
