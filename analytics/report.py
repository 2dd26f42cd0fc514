"""The curation report of an output folder: one self-contained HTML file (pictures inlined as data URIs).

It ranks the clips by ``movement_intensity``, flags near-duplicates (``analytics.near_duplicates``), adds
each clip's tempo and beat alignment and its shot changes from ``clips.parquet`` (measured from the source
with ``analytics.beats`` for a table written before schema 4), shows per clip a thumbnail strip (from the matte ``.mov``
with the matte tinted, else from the source) and time series of its statistics, and, given an engagement
CSV (``analytics.engagement``), the rank correlations of the movement features with each metric.
"""

from __future__ import annotations

import html
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import av
import numpy as np
import pandas as pd

from analytics.atomic import write_atomic
from analytics.beats import ClipBeats, clip_beats
from analytics.engagement import (
    MIN_CLIPS_FOR_EVIDENCE,
    MOVEMENT_FEATURES,
    Correlation,
    Engagement,
    EngagementError,
    load_engagement,
    rank_correlations,
)
from analytics.figures import scatter_plots, thumbnail_strip, time_series_plot
from analytics.load import load_clips, load_frames
from analytics.near_duplicates import clip_signature, near_duplicate_pairs
from analytics.sampled_frames import sample_frames
from analytics.schema import CLIPS_FILENAME, STATS_DIRNAME
from analytics.summary import matte_note

T = TypeVar("T")
REPORT_FILENAME = "report.html"
THUMBNAILS = 6
MATTES_DIRNAME = "mattes"
EXIT_OK, EXIT_USAGE = 0, 2  # as in pipelines.cli
_READ_ERRORS = (OSError, ValueError, av.FFmpegError)
_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } th, td { padding: 3px 8px; border-bottom: 1px solid #ddd; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.n { font-size: 1.3em; } .check { background: #fff3cd; border: 1px solid #e0b000; padding: 0 0.3em; font-size: 0.85em; } .warning { background: #fff3cd; border: 1px solid #e0b000; padding: 0.6em 1em; }
.dup { color: #b00; } .note { color: #777; } img { max-width: 100%; }
"""


class ReportError(Exception):
    """The report cannot be written; the message is one line."""


@dataclass(frozen=True)
class ClipMedia:
    """What the report reads from a clip's videos: thumbnails, near-duplicate signature, beats when asked."""

    thumbnails: str | None  # JPEG data URI
    signature: np.ndarray | None  # pHashes of the source
    beats: ClipBeats | None  # None when not measured
    notes: tuple[str, ...]  # what could not be read, one line each


def write_report(out_dir: Path, engagement_csv: Path | None = None, report_path: Path | None = None) -> Path:
    """Write the report of ``out_dir`` to ``report_path`` (default ``out_dir/report.html``) and return its path.

    ``ReportError`` when ``out_dir`` has no clips table or the engagement CSV is unusable.
    """
    out_dir = Path(out_dir)
    if not (out_dir / CLIPS_FILENAME).is_file():
        raise ReportError(f"{out_dir}: no {CLIPS_FILENAME}; not a dancematte output folder")
    clips = load_clips(out_dir).sort_values("movement_intensity", ascending=False, na_position="last")
    clips = clips.reset_index(drop=True)
    clips["source"] = clips["source"].fillna("")
    try:
        engagement = None if engagement_csv is None else load_engagement(engagement_csv, clips)
    except EngagementError as exc:
        raise ReportError(str(exc)) from None
    frames = load_frames(out_dir) if (out_dir / STATS_DIRNAME).is_dir() else pd.DataFrame(columns=["clip"])
    frames_by_clip = {clip: table for clip, table in frames.groupby("clip", sort=False)}
    measure_beats = "beat_alignment" not in clips  # a table from before schema 4
    media = {
        clip: _clip_media(out_dir, clip, source, frames_by_clip.get(clip) if measure_beats else None)
        for clip, source in zip(clips["clip"], clips["source"])
    }
    if measure_beats:
        beats = [media[clip].beats or ClipBeats() for clip in clips["clip"]]
        clips["tempo_bpm"], clips["beats"] = [b.tempo_bpm for b in beats], [b.beats for b in beats]
        clips["beat_alignment"] = [b.alignment for b in beats]
    duplicates = near_duplicate_pairs({clip: m.signature for clip, m in media.items() if m.signature is not None})

    sections = [
        f"<h1>Dance clips report</h1>"
        f"<p class='n'><strong>{len(clips)} clips</strong> in <code>{_text(out_dir)}</code></p>",
        _ranking_table(clips, duplicates),
        "" if engagement is None else _engagement_section(clips, engagement, Path(engagement_csv).name),
        *(_clip_section(i, row, media[row["clip"]], frames_by_clip.get(row["clip"])) for i, row in clips.iterrows()),
    ]
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>dancematte report</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(sections)}</body></html>"
    )
    path = Path(report_path) if report_path is not None else out_dir / REPORT_FILENAME
    write_atomic(path, page)
    return path


def report_main(out_dir: Path, engagement: Path | None, report_path: Path | None) -> int:
    """``dancematte report``: write the report and print its path (0), or print a one-line error (2)."""
    try:
        print(write_report(out_dir, engagement, report_path))
    except ReportError as exc:
        print(f"dancematte: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _clip_media(out_dir: Path, clip: str, source: str, frame_df: pd.DataFrame | None) -> ClipMedia:
    """Thumbnails (matte ``.mov`` when there is one, else the source), signature and, given the per-frame
    table ``frame_df``, the beats of a clip."""
    notes: list[str] = []
    matte = out_dir / MATTES_DIRNAME / f"{clip}.mov"
    source_path = Path(source) if source and Path(source).is_file() else None
    thumbnails = None
    if matte.is_file():
        thumbnails = _read(lambda: thumbnail_strip(sample_frames(matte, THUMBNAILS, "rgba")), matte, notes)
    elif source_path is not None:
        notes.append("no matte .mov: thumbnails from the source, without the matte")
        thumbnails = _read(lambda: thumbnail_strip(sample_frames(source_path, THUMBNAILS)), source_path, notes)
    if source_path is None:
        notes.append(f"source {source or '(none)'} not found: no near-duplicate check")
        return ClipMedia(thumbnails, None, None, tuple(notes))
    signature = _read(lambda: clip_signature(source_path), source_path, notes)
    beats = None if frame_df is None else _read(lambda: clip_beats(source_path, frame_df), source_path, notes)
    return ClipMedia(thumbnails, signature, beats, tuple(notes))


def _read(read: Callable[[], T], path: Path, notes: list[str]) -> T | None:
    """``read()``, or None with a note when reading ``path`` fails."""
    try:
        return read()
    except _READ_ERRORS as exc:
        notes.append(_read_failure(path, exc))
        return None


def _read_failure(path: Path, exc: Exception) -> str:
    return f"could not read {path.name}: {' '.join(str(exc).split())}"


def _ranking_table(clips: pd.DataFrame, duplicates: list[tuple[str, str, float]]) -> str:
    """Clips by movement_intensity, with their summary, size and near-duplicates."""
    partners: dict[str, list[str]] = {}
    for first, second, distance in duplicates:
        partners.setdefault(first, []).append(f"{_text(second)} ({distance:g} bits)")
        partners.setdefault(second, []).append(f"{_text(first)} ({distance:g} bits)")
    features = [name for name in MOVEMENT_FEATURES if clips[name].notna().any()]
    names = ["#", "clip", *features, "tempo (BPM)", "duration", "fps", "resolution", "near-duplicates"]
    head = "".join(f"<th>{name}</th>" for name in names)
    rows = [
        f"<tr><td class='num'>{i + 1}</td><td><a href='#clip-{i}'>{_text(row['clip'])}</a>"
        + (" <span class='check'>check the matte</span>" if matte_note(row) else "")
        + "</td>"
        + "".join(f"<td class='num'>{_number(row[name])}</td>" for name in features)
        + f"<td class='num'>{_number(row['tempo_bpm'], 4)}</td>"
        + f"<td class='num'>{_number(row['duration_s'])} s</td><td class='num'>{_number(row['fps'], 4)}</td>"
        + f"<td class='num'>{row['width']}×{row['height']}</td>"
        + f"<td class='dup'>{', '.join(partners.get(row['clip'], []))}</td></tr>"
        for i, row in clips.iterrows()
    ]
    caption = f"Near-duplicate pairs: {len(duplicates)}"
    return f"<h2>Ranking by movement intensity</h2><p>{caption}</p><table><tr>{head}</tr>{''.join(rows)}</table>"


def _engagement_section(clips: pd.DataFrame, engagement: Engagement, csv_name: str) -> str:
    """Clip count (with a warning when small), the rank correlation table, scatter plots and unmatched rows."""
    features = clips.set_index("clip")
    metrics = engagement.metrics
    n = len(metrics)
    parts = [
        f"<h2>Engagement ({_text(csv_name)})</h2>",
        f"<p class='n'>Clips with engagement data: <strong>n = {n}</strong> of {len(clips)} clips;"
        f" metrics: {_text(', '.join(map(str, metrics.columns)))}</p>",
    ]
    if n < MIN_CLIPS_FOR_EVIDENCE:
        parts.append(
            f"<p class='warning'><strong>Warning: only {n} clips.</strong> Rank correlations on fewer than "
            f"{MIN_CLIPS_FOR_EVIDENCE} clips are not evidence: with so few clips, large correlations arise by "
            "chance.</p>"
        )
    correlations = rank_correlations(features, metrics)
    if correlations:
        parts.append(_correlation_table(correlations, list(metrics.columns)))
    matched = features.index.intersection(metrics.index)
    for metric in metrics.columns:
        of_metric = [c for c in correlations if c.metric == metric]
        if len(matched) and of_metric:
            uri = scatter_plots(features.loc[matched], metrics.loc[matched, metric], of_metric)
            parts.append(f"<h3>{_text(metric)}</h3><img alt='{_text(metric)} against movement features' src='{uri}'>")
    if engagement.unmatched:
        unmatched = engagement.unmatched
        items = "".join(f"<li>line {row.line}: {_text(repr(row.name))}: {_text(row.reason)}</li>" for row in unmatched)
        parts.append(f"<h3>Unmatched CSV rows ({len(unmatched)})</h3><ul>{items}</ul>")
    return "".join(parts)


def _correlation_table(correlations: list[Correlation], metrics: list[str]) -> str:
    """Movement features (rows) by engagement metrics (columns): Spearman rho, p and n."""
    cells = {(c.feature, c.metric): c for c in correlations}
    features = list(dict.fromkeys(c.feature for c in correlations))
    head = "".join(f"<th>{_text(metric)}</th>" for metric in metrics)
    rows = "".join(
        f"<tr><th>{feature}</th>"
        + "".join(
            f"<td class='num'>ρ = {_number(cells[feature, metric].rho, 2)} "
            f"(p = {_number(cells[feature, metric].p_value, 2)}, n = {cells[feature, metric].n})</td>"
            for metric in metrics
        )
        + "</tr>"
        for feature in features
    )
    return f"<table><tr><th>Spearman rank correlation</th>{head}</tr>{rows}</table>"


def _clip_section(index: int, row: pd.Series, media: ClipMedia, frame_df: pd.DataFrame | None) -> str:
    """One clip: facts, thumbnail strip, time series and notes."""
    clip = _text(row["clip"])
    source_name = Path(row["source"]).name or "(unknown)"
    parts = [
        f"<h2 id='clip-{index}'>{index + 1}. {clip}</h2>",
        f"<p>source {_text(source_name)} · {row['frames']} frames · {_number(row['duration_s'])} s"
        f" · {_number(row['fps'], 4)} fps · {row['width']}×{row['height']} · model {_text(row['model'])}</p>",
        f"<p>audio: {_beats_text(row)} · shot changes: {_text(_transitions_text(row))}</p>",
    ]
    if note := matte_note(row):
        parts.append(f"<p class='warning'><strong>Check the matte:</strong> {_text(note)}.</p>")
    if media.thumbnails:
        parts.append(f"<img alt='frames of {clip}' src='{media.thumbnails}'>")
    if frame_df is not None and len(frame_df):
        parts.append(f"<img alt='statistics of {clip} over time' src='{time_series_plot(frame_df)}'>")
    else:
        parts.append("<p class='note'>no per-frame statistics</p>")
    parts.extend(f"<p class='note'>{_text(note)}</p>" for note in media.notes)
    return "".join(parts)


def _beats_text(row: pd.Series) -> str:
    if not row["beats"]:
        return "no beats (no audio, or no clear pulse)"
    return f"{_number(row['tempo_bpm'], 4)} BPM, {row['beats']} beats, beat alignment {_number(row['beat_alignment'])}"


def _transitions_text(row: pd.Series) -> str:
    """``frame 21 (cut), ...`` from the ``transitions`` column; unknown for a table from before schema 4."""
    if "transitions" not in row or pd.isna(row["transitions"]):
        return "not recorded"
    changes = [change.split(":") for change in row["transitions"].split(",") if change]
    return ", ".join(f"frame {frame} ({kind})" for frame, kind in changes) or "none"


def _number(value: float, digits: int = 3) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.{digits}g}"


def _text(value: object) -> str:
    return html.escape(str(value), quote=True)
