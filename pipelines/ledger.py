"""What has been done: one small JSON record per finished clip, keyed by content and settings.

A record holds the fingerprint (SHA-256 of the clip's bytes plus the settings that shape
the outputs) and the clip's report. A clip is finished when its record has the same
fingerprint and either succeeded with every listed output still present, or failed
because the clip itself cannot be read (the same bytes would fail again). Records are
written atomically after all of a clip's outputs are in place.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from analytics.atomic import write_atomic


def file_digest(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def fingerprint(content_hash: str, settings: dict) -> str:
    """Content hash + canonical JSON of the output-shaping settings."""
    return hashlib.sha256((content_hash + json.dumps(settings, sort_keys=True, default=str)).encode()).hexdigest()



class Ledger:
    """Records under ``out/state/``; one file per clip id."""

    def __init__(self, out_dir: Path) -> None:
        self.folder = out_dir / "state"

    def _path(self, clip_id: str) -> Path:
        return self.folder / f"{clip_id}.json"

    def lookup(self, clip_id: str, fingerprint_: str) -> dict | None:
        """The recorded report when the clip is finished with this fingerprint, else None."""
        try:
            record = json.loads(self._path(clip_id).read_text())
            report = record["report"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if record.get("fingerprint") != fingerprint_:
            return None
        if report.get("status") == "ok" and not all(Path(p).exists() for p in report.get("outputs", [])):
            return None
        return report

    def record(self, clip_id: str, fingerprint_: str, report: dict) -> None:
        write_atomic(self._path(clip_id), json.dumps({"fingerprint": fingerprint_, "report": report}, indent=1))
