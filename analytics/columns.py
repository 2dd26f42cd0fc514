"""A documented table column: the one record that the schemas and the README tables are built from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """A column name, its dtype (a numpy dtype name, or ``"str"`` for text) and what it means."""

    name: str
    dtype: str
    doc: str
