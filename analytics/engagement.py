"""Engagement figures (views, likes, ...) from a CSV, joined to the clips, and their rank correlations.

The CSV names each clip in a column ``clip``, ``file`` or ``filename`` (the first present, any case),
matched without regard to case against the clip id, else the source file's name or stem (a path in the
CSV is reduced to its file name). Every other column whose non-empty values all parse as numbers (``,``
thousands separators allowed) is an engagement metric. A row naming no clip, or a clip an earlier row
already named, is kept as unmatched with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

ID_COLUMNS = ("clip", "file", "filename")
MOVEMENT_FEATURES = (
    "movement_intensity",
    "motion_energy_mean",
    "centroid_speed_mean",
    "body_area_mean",
    "presence_ratio",
    "beat_alignment",
)
MIN_CLIPS_FOR_EVIDENCE = 20  # below this many clips a rank correlation is an anecdote, not evidence


class EngagementError(ValueError):
    """The engagement CSV cannot be used; the message is one line naming the file."""


@dataclass(frozen=True)
class UnmatchedRow:
    """A CSV row that was not joined: its line number (header = line 1), its id and why."""

    line: int
    name: str
    reason: str


@dataclass(frozen=True)
class Engagement:
    """The metric columns of the matched rows (index: clip id, in CSV order) and the unmatched rows."""

    metrics: pd.DataFrame
    unmatched: tuple[UnmatchedRow, ...]


@dataclass(frozen=True)
class Correlation:
    """Spearman rank correlation of a movement feature with an engagement metric over ``n`` clips."""

    feature: str
    metric: str
    rho: float
    p_value: float
    n: int


def load_engagement(csv_path: Path, clips: pd.DataFrame) -> Engagement:
    """The CSV's metrics joined to ``clips`` (columns ``clip`` and ``source``); ``EngagementError`` when unusable."""
    csv_path = Path(csv_path)
    table = _read_csv(csv_path)
    by_lower = {str(name).strip().lower(): name for name in table.columns}
    id_column = next((by_lower[name] for name in ID_COLUMNS if name in by_lower), None)
    if id_column is None:
        found = ", ".join(map(str, table.columns)) or "none"
        raise EngagementError(f"{csv_path.name}: no clip, file or filename column (columns: {found})")
    numbers = {name: _numbers(table[name]) for name in table.columns if name != id_column}
    metrics = pd.DataFrame({name: values for name, values in numbers.items() if values is not None})
    if not len(metrics.columns):
        raise EngagementError(f"{csv_path.name}: no numeric column besides {id_column!r}")

    lookup = _clip_lookup(clips)
    names = table[id_column].str.strip()
    first_row: dict[str, int] = {}
    unmatched = []
    for row, name in enumerate(names):
        clip = lookup.get(name.casefold()) or lookup.get(_file_name(name).casefold())
        if clip is None:
            unmatched.append(UnmatchedRow(row + 2, name, "no clip with this id or file name"))
        elif clip in first_row:
            unmatched.append(UnmatchedRow(row + 2, name, f"clip {clip!r} already given on line {first_row[clip] + 2}"))
        else:
            first_row[clip] = row
    joined = metrics.iloc[list(first_row.values())].set_axis(pd.Index(list(first_row), name="clip"))
    return Engagement(joined, tuple(unmatched))


def rank_correlations(features: pd.DataFrame, metrics: pd.DataFrame) -> list[Correlation]:
    """Spearman rho (NaN below 3 clips or for a constant column) of each ``MOVEMENT_FEATURES`` column present
    in ``features`` with each column of ``metrics``, over the clips of both indexes with both values."""
    clips = features.index.intersection(metrics.index)
    present = [name for name in MOVEMENT_FEATURES if name in features and features[name].notna().any()]
    return [
        _correlation(feature, metric, features.loc[clips, feature], metrics.loc[clips, metric])
        for feature in present
        for metric in metrics.columns
    ]


def _correlation(feature: str, metric: str, x: pd.Series, y: pd.Series) -> Correlation:
    pairs = np.stack([x.to_numpy(np.float64), y.to_numpy(np.float64)])
    x, y = pairs[:, np.isfinite(pairs).all(axis=0)]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return Correlation(feature, metric, float("nan"), float("nan"), len(x))
    rho, p_value = spearmanr(x, y)
    return Correlation(feature, metric, float(rho), float(p_value), len(x))


def _read_csv(path: Path) -> pd.DataFrame:
    """The CSV as text columns (empty cells are empty strings)."""
    if not path.is_file():
        raise EngagementError(f"{path}: no such file")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        reason = " ".join(str(exc).split())
        raise EngagementError(f"{path.name}: not a readable CSV ({reason})") from None


def _numbers(column: pd.Series) -> pd.Series | None:
    """The column as float64 (empty cells NaN) when every non-empty cell is a number, else None."""
    text = column.str.strip().str.replace(",", "", regex=False)
    values = pd.to_numeric(text.where(text != ""), errors="coerce").astype(np.float64)
    given = text != ""
    return values if given.any() and values[given].notna().all() else None


def _clip_lookup(clips: pd.DataFrame) -> dict[str, str]:
    """Case-folded clip ids, and source file names and stems naming a single clip, mapped to the clip id."""
    owners: dict[str, set[str]] = {}
    for clip, source in zip(clips["clip"], clips["source"].fillna("")):
        name = _file_name(str(source))
        for key in {name.casefold(), PurePosixPath(name).stem.casefold()} - {""}:
            owners.setdefault(key, set()).add(clip)
    by_name = {key: next(iter(clips_named)) for key, clips_named in owners.items() if len(clips_named) == 1}
    return by_name | {str(clip).casefold(): clip for clip in clips["clip"]}


def _file_name(path: str) -> str:
    """The last component of a POSIX or Windows path."""
    return PurePosixPath(path.replace("\\", "/")).name
