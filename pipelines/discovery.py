"""Finding clips: expand files and folders into an ordered list with unique clip ids."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Containers agencies meet that FFmpeg (inside PyAV) reads: phones and the web, camcorders and broadcast
# (MPEG transport streams, AVCHD), professional cameras (MXF, DV), DVDs and older formats.
VIDEO_SUFFIXES = frozenset({
    ".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi",
    ".ts", ".mts", ".m2ts", ".mxf", ".dv", ".mpg", ".mpeg", ".m2v", ".vob",
    ".3gp", ".3g2", ".flv", ".f4v", ".wmv", ".asf", ".ogv",
})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".tif", ".tiff", ".bmp"})


class InputError(Exception):
    """An input path that does not exist (a usage error)."""


@dataclass(frozen=True)
class ClipInput:
    path: Path
    clip_id: str  # unique within a run; used for output names and the ``clip`` column


@dataclass(frozen=True)
class PassedOver:
    """A file in a given folder that is not taken as a clip, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class Discovery:
    clips: list[ClipInput]
    passed_over: list[PassedOver]


def passed_over_reason(path: Path) -> str:
    """Why a file found in a folder is not a clip (its suffix, matched case-insensitively)."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return f"an image ({suffix}), not a video"
    return f"not a video file ({suffix or 'no extension'})"


def discover(inputs: list[Path]) -> list[ClipInput]:
    """The clips of ``scan``."""
    return scan(inputs).clips


def scan(inputs: list[Path]) -> Discovery:
    """Files as given (whatever their suffix); folders searched recursively for video suffixes.

    Other files in the folders are passed over with a reason (hidden files, such as the
    partial files of a run writing there, silently). Clip ids are file stems; where two
    clips share a stem, the path relative to the folder given (or the parent folder names)
    is used instead, with '/' turned into '__'.
    """
    paths: list[tuple[Path, Path]] = []
    passed_over: list[PassedOver] = []
    for given in inputs:
        if given.is_dir():
            files = sorted(p for p in given.rglob("*") if p.is_file() and not p.name.startswith("."))
            paths.extend((p, given) for p in files if p.suffix.lower() in VIDEO_SUFFIXES)
            passed_over.extend(PassedOver(p, passed_over_reason(p)) for p in files if p.suffix.lower() not in VIDEO_SUFFIXES)
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
    return Discovery(_dedupe_ids(clips), passed_over)


def _dedupe_ids(clips: list[ClipInput]) -> list[ClipInput]:
    """Append -2, -3 ... to any id still shared (same stem and same relative path under different roots)."""
    seen: dict[str, int] = {}
    out = []
    for clip in clips:
        n = seen.get(clip.clip_id, 0) + 1
        seen[clip.clip_id] = n
        out.append(clip if n == 1 else ClipInput(clip.path, f"{clip.clip_id}-{n}"))
    return out
