"""Finding clips: expand files and folders into an ordered list with unique clip ids."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi"})


class InputError(Exception):
    """An input path that does not exist (a usage error)."""


@dataclass(frozen=True)
class ClipInput:
    path: Path
    clip_id: str  # unique within a run; used for output names and the ``clip`` column


def discover(inputs: list[Path]) -> list[ClipInput]:
    """Files as given (whatever their suffix); folders searched recursively for video suffixes.

    Clip ids are file stems; where two clips share a stem, the path relative to the
    folder given (or the parent folder names) is used instead, with '/' turned into '__'.
    """
    paths: list[tuple[Path, Path]] = []
    for given in inputs:
        if given.is_dir():
            found = sorted(p for p in given.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith("."))
            paths.extend((p, given) for p in found)
        elif given.exists():
            paths.append((given, given.parent))
        else:
            raise InputError(f"{given}: no such file or folder")
    by_file: dict[Path, tuple[Path, Path]] = {}
    for path, root in paths:
        by_file.setdefault(path.resolve(), (path, root))
    unique = list(by_file.values())
    stems = [p.stem for p, _ in unique]
    clips = []
    for path, root in unique:
        clip_id = path.stem
        if stems.count(path.stem) > 1:
            relative = path.relative_to(root) if path.is_relative_to(root) else path
            clip_id = "__".join(relative.with_suffix("").parts) if len(relative.parts) > 1 else f"{path.parent.name}__{path.stem}"
        clips.append(ClipInput(path, clip_id))
    return _dedupe_ids(clips)


def _dedupe_ids(clips: list[ClipInput]) -> list[ClipInput]:
    """Append -2, -3 ... to any id still shared (same stem and same relative path under different roots)."""
    seen: dict[str, int] = {}
    out = []
    for clip in clips:
        n = seen.get(clip.clip_id, 0) + 1
        seen[clip.clip_id] = n
        out.append(clip if n == 1 else ClipInput(clip.path, f"{clip.clip_id}-{n}"))
    return out
