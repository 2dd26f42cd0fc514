"""A run over many clips: discover, skip what is done, process the rest, report each one.

One bad clip never stops the others: its failure becomes a one-line reason in the
manifest and on the terminal. Outputs, statistics and the manifest are all written under
temporary names and renamed into place when complete.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from analytics import summarise, write_clip_table, write_frame_table
from pipelines.discovery import ClipInput, discover
from pipelines.ledger import Ledger, file_digest, fingerprint, write_atomic
from pipelines.processor import ClipProcessor, ProcessSettings
from pipelines.video_io import VideoReadError
from pipelines.writers import WriteError
from seg.models import resolve_model_path
from seg.segmenter import Segmenter, SegmenterSettings


@dataclass(frozen=True)
class RunSettings:
    out: Path
    process: ProcessSettings = field(default_factory=ProcessSettings)
    segmenter: SegmenterSettings = field(default_factory=SegmenterSettings)
    show_progress: bool = True


@dataclass(frozen=True)
class ClipReport:
    input: str
    clip: str
    status: str  # ok | failed | skipped
    error: str | None
    outputs: list[str]
    frames: int = 0
    fps: float = 0.0
    seconds: float = 0.0


def one_line(path: Path, exc: BaseException) -> str:
    """A single-line reason that names the file."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (VideoReadError, WriteError)):
        return text if path.name in text else f"{path.name}: {text}"
    if isinstance(exc, OSError):
        return f"{path.name}: {exc.strerror or text}"
    return f"{path.name}: internal error ({type(exc).__name__}: {text})"


def output_settings(settings: RunSettings, processor: ClipProcessor) -> dict:
    """Everything that shapes the outputs, for the skip fingerprint."""
    model_dir = resolve_model_path(settings.segmenter.model)
    return {
        "model": file_digest(model_dir / "model.safetensors"),
        "long_side": processor.segmenter.long_side,
        "formats": sorted(settings.process.formats),
        "writer": asdict(settings.process.writer),
        "refine": asdict(processor.refiner.settings),
    }


class Run:
    """Processes clips into ``settings.out`` and keeps the manifest."""

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings
        self.processor = ClipProcessor(Segmenter(settings.segmenter), settings.process)
        self.ledger = Ledger(settings.out)
        self.settings_key = output_settings(settings, self.processor)

    def process_clip(self, clip: ClipInput) -> ClipReport:
        out = self.settings.out
        try:
            content_hash = file_digest(clip.path)
            key = fingerprint(content_hash, self.settings_key)
            done = self.ledger.is_done(clip.clip_id, key)
            if done is not None:
                return ClipReport(str(clip.path), clip.clip_id, "skipped", None, done)
            result = self.processor.process(clip.path, out, clip.clip_id, self.settings.show_progress)
            write_frame_table(result.stats, out / "stats", clip.clip_id)
            info = result.info
            row = {
                "clip": clip.clip_id, "source": str(clip.path), "frames": result.frames, "fps": float(info.fps),
                "width": info.width, "height": info.height, "duration_s": info.duration_s,
                "processing_s": result.seconds, "model": self.settings.segmenter.model, "content_hash": content_hash,
                **summarise(result.stats),
            }
            write_clip_table([row], out / "clips.parquet")
            outputs = [str(p) for p in result.outputs]
            self.ledger.mark_done(clip.clip_id, key, outputs)
            return ClipReport(str(clip.path), clip.clip_id, "ok", None, outputs, result.frames,
                              result.frames / max(result.seconds, 1e-9), result.seconds)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a one-line report
            return ClipReport(str(clip.path), clip.clip_id, "failed", one_line(clip.path, exc), [])

    def run(self, inputs: list[Path]) -> list[ClipReport]:
        clips = discover(inputs)
        self.settings.out.mkdir(parents=True, exist_ok=True)
        reports: list[ClipReport] = []
        bar = tqdm(clips, desc="clips", unit="clip", disable=not self.settings.show_progress)
        for clip in bar:
            report = self.process_clip(clip)
            if report.status == "failed":
                tqdm.write(f"failed: {report.error}")
            reports.append(report)
            self.write_manifest(reports)
        return reports

    def write_manifest(self, reports: list[ClipReport]) -> None:
        entries = [asdict(r) for r in reports]
        write_atomic(self.settings.out / "manifest.json", json.dumps(entries, indent=2))
