"""A run over many clips: discover, skip what is done, process the rest, report each one.

One bad clip never stops the others: its failure becomes a one-line reason in the
manifest and on the terminal. Outputs, statistics and the manifest are all written under
temporary names and renamed into place when complete.

Several runs may share one output folder (two workers, or a schedule that fires while the
previous run is still going): each clip is claimed (``pipelines.claims``) before it is
processed and looked up in the ledger again once claimed, so no clip is processed twice;
the shared clips table is updated under an exclusive lock. ``manifest.json`` is the report
of the run that wrote it last.

Failures: a clip whose bytes cannot be decoded (``VideoReadError`` not caused by an OS
error) is recorded in the ledger and reported as failed again, without decoding, until its
bytes or the settings change. Other failures (I/O errors, full disks, a GPU out of memory,
bugs) are not recorded, so the next run tries again; ``is_transient`` picks those worth an
immediate retry.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from functools import cache, cached_property
from pathlib import Path

import torch
from tqdm import tqdm

from analytics import summarise, write_clip_table, write_frame_table
from analytics.summary import matte_note
from pipelines.claims import DEFAULT_STALE_AFTER_S, ClaimHeldError, Claims, exclusive, remove_abandoned_partials
from pipelines.discovery import ClipInput, Discovery, PassedOver
from analytics.atomic import partial_path, write_atomic
from pipelines.ledger import Ledger, file_digest, fingerprint
from pipelines.parallel import WorkerDiedError, reports_from_workers
from pipelines.processor import ClipLimitError, ClipProcessor, ProcessSettings
from pipelines.video_io import VideoReadError, error_reason
from pipelines.writers import WriteError
from seg.models import resolve_model_path
from seg.person_evidence import EvidenceSettings
from seg.pose_split import PoseSplitSettings
from seg.refine import RefineSettings
from seg.segmenter import Segmenter, SegmenterSettings, frame_long_side
from seg.zoom import ZoomSettings


@dataclass(frozen=True)
class RunSettings:
    out: Path
    process: ProcessSettings = field(default_factory=ProcessSettings)
    segmenter: SegmenterSettings = field(default_factory=SegmenterSettings)
    show_progress: bool = True
    stale_claim_s: float = DEFAULT_STALE_AFTER_S  # claims older than this are taken over
    jobs: int = 1  # clips processed at once, each in its own worker process (pipelines.parallel)


@dataclass(frozen=True)
class ClipReport:
    input: str
    clip: str
    status: str  # ok | failed | skipped | passed over (a file in a folder that is not a clip)
    error: str | None
    outputs: list[str]
    frames: int = 0
    fps: float = 0.0  # processing speed, frames per second
    seconds: float = 0.0
    note: str | None = None  # why a clip was skipped or not decoded again; for one processed, what to check in its matte


def status_counts(reports: list[ClipReport]) -> dict[str, int]:
    """How many clips are ok, skipped and failed, and how many other files were passed over."""
    return {status: sum(r.status == status for r in reports) for status in ("ok", "skipped", "failed", "passed over")}


def passed_over_report(item: PassedOver) -> ClipReport:
    """The manifest entry of a file in a given folder that is not a clip."""
    return ClipReport(str(item.path), "", "passed over", None, [], note=f"{item.path.name}: {item.reason}")


def one_line(path: Path, exc: BaseException) -> str:
    """A single-line reason that names the file."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (VideoReadError, WriteError, ClipLimitError, WorkerDiedError)):
        return text if path.name in text else f"{path.name}: {text}"
    if isinstance(exc, OSError):
        return f"{path.name}: {error_reason(exc)}"
    return f"{path.name}: internal error ({type(exc).__name__}: {text})"


class OutputFolderError(Exception):
    """The output folder cannot be created or written to (a problem of the run, not of a clip)."""


def require_writable(folder: Path) -> None:
    """Create ``folder`` if needed and check that files can be created in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        test_file = partial_path(folder / "write-test")
        test_file.touch(exist_ok=False)
        test_file.unlink()
    except OSError as exc:
        raise OutputFolderError(f"{folder}: output folder not writable ({error_reason(exc)})") from None


def unreadable_content(exc: BaseException) -> bool:
    """The clip's bytes cannot be decoded: the same bytes would fail again."""
    return isinstance(exc, VideoReadError) and not isinstance(exc.__cause__, OSError)


def is_transient(exc: BaseException) -> bool:
    """Worth retrying soon: I/O errors (network mounts), write errors, GPU out of memory."""
    io_error = isinstance(exc, VideoReadError) and isinstance(exc.__cause__, OSError)
    return io_error or isinstance(exc, (OSError, WriteError, torch.OutOfMemoryError))


def output_settings(settings: RunSettings) -> dict:
    """Everything that shapes the outputs, for the skip fingerprint."""
    model_dir = resolve_model_path(settings.segmenter.model)
    return {
        "model": file_digest(model_dir / "model.safetensors"),
        "long_side": settings.segmenter.long_side or frame_long_side(model_dir),  # whole frames (squares: the model's training size)
        "mirror": settings.segmenter.mirror,  # each frame also seen mirrored
        "formats": sorted(settings.process.formats),
        "writer": asdict(settings.process.writer),
        "refine": asdict(RefineSettings()),  # what ClipProcessor's MatteRefiner uses
        "dancers": settings.process.dancers,
        "person_evidence": asdict(EvidenceSettings()) if settings.process.person_evidence else None,  # the person gate (seg.dancers)
        "pose_split": asdict(PoseSplitSettings()) if settings.process.pose_split else None,  # bystanders cut from the main dancer
        "zoom": asdict(ZoomSettings()) if settings.process.zoom else None,  # the closer look at small people
        "flow": settings.process.flow,
    }


class Run:
    """Processes clips into ``settings.out`` and keeps the manifest.

    ``gpu_slot`` wraps the decode-segment-encode of each clip (e.g. a Prefect concurrency
    limit); hashing, ledger, statistics tables and the manifest run outside it.
    """

    def __init__(self, settings: RunSettings, gpu_slot: Callable[[], AbstractContextManager[object]] = nullcontext) -> None:
        self.settings = settings
        self.gpu_slot = gpu_slot
        self.ledger = Ledger(settings.out)
        self.claims = Claims(settings.out, settings.stale_claim_s)
        self.settings_key = output_settings(settings)

    def __reduce__(self) -> tuple[Callable[..., Run], tuple[RunSettings, Callable[[], AbstractContextManager[object]]]]:
        """Pickled as its settings: in a worker process one Run serves every clip, so its model loads once."""
        return run_for, (self.settings, self.gpu_slot)

    @cached_property
    def processor(self) -> ClipProcessor:
        """Loaded on first use: once per run, and never when every clip is skipped."""
        return ClipProcessor(Segmenter(self.settings.segmenter), self.settings.process)

    def key_for(self, clip: ClipInput) -> str:
        """The clip's ledger fingerprint: its bytes plus this run's output settings."""
        return fingerprint(file_digest(clip.path), self.settings_key)

    def recorded(self, clip: ClipInput, key: str) -> ClipReport | None:
        """The ledger's report (ok or failed) when the clip is finished with these bytes and settings."""
        report = self.ledger.lookup(clip.clip_id, key)
        return None if report is None else replace(ClipReport(**report), input=str(clip.path))

    def finished(self, clip: ClipInput, key: str) -> ClipReport | None:
        """The report for a clip that needs no processing: skipped when done, failed when its bytes are unreadable."""
        earlier = self.recorded(clip, key)
        if earlier is None:
            return None
        if earlier.status == "ok":
            return replace(earlier, status="skipped", note="done earlier with the same bytes and settings")
        return replace(earlier, note="failed earlier with the same bytes and settings; not decoded again")

    def process_clip(self, clip: ClipInput) -> ClipReport:
        """Process one clip; every failure becomes a one-line report."""
        try:
            return self.try_clip(clip)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a one-line report
            return self.failed(clip, exc)

    def try_clip(self, clip: ClipInput) -> ClipReport:
        """Process one clip unless it is finished or claimed by another run; raises on failure."""
        content_hash = file_digest(clip.path)
        key = fingerprint(content_hash, self.settings_key)
        done = self.finished(clip, key)
        if done is not None:
            return done
        try:
            with self.claims.hold(clip.clip_id):
                # another run may have finished it between the look-up and the claim
                return self.finished(clip, key) or self._process(clip, content_hash, key)
        except ClaimHeldError as exc:
            return ClipReport(str(clip.path), clip.clip_id, "skipped", None, [], note=str(exc))

    def failed(self, clip: ClipInput, exc: BaseException) -> ClipReport:
        return ClipReport(str(clip.path), clip.clip_id, "failed", one_line(clip.path, exc), [])

    def _process(self, clip: ClipInput, content_hash: str, key: str) -> ClipReport:
        out = self.settings.out
        try:
            with self.gpu_slot():
                result = self.processor.process(clip.path, out, clip.clip_id, self.settings.show_progress)
        except Exception as exc:
            if unreadable_content(exc):
                self.ledger.record(clip.clip_id, key, asdict(self.failed(clip, exc)))
            raise
        write_frame_table(result.stats, out / "stats", clip.clip_id)
        info = result.info
        row = {
            "clip": clip.clip_id, "source": str(clip.path), "frames": result.frames, "fps": float(info.fps),
            "width": info.width, "height": info.height, "duration_s": info.duration_s,
            "processing_s": result.seconds, "model": self.settings.segmenter.model, "content_hash": content_hash,
            "settings": json.dumps(self.settings_key, sort_keys=True, default=str),
            **summarise(result.stats, result.dancers_seen, result.transitions, result.beats, result.person_confirmed),
        }
        with exclusive(out / ".clips.parquet.flock"):  # read-modify-write shared with other runs
            write_clip_table([row], out / "clips.parquet")
        report = ClipReport(str(clip.path), clip.clip_id, "ok", None, [str(p) for p in result.outputs], result.frames,
                            result.frames / max(result.seconds, 1e-9), result.seconds,
                            note=matte_note(row))
        self.ledger.record(clip.clip_id, key, asdict(report))
        return report

    def run(self, found: Discovery) -> list[ClipReport]:
        """Process the clips ``scan`` found, in order; files it passed over are listed first in the manifest."""
        self.prepare_output()
        reports = [passed_over_report(item) for item in found.passed_over]
        for report in reports:
            tqdm.write(f"passed over: {report.note}")
        clips = found.clips
        finished: dict[int, ClipReport] = {}  # by the clip's index: the manifest keeps the clips' order

        def listed() -> list[ClipReport]:
            return reports + [finished[i] for i in sorted(finished)]

        in_workers = self.settings.jobs > 1 and len(clips) > 1
        numbered = reports_from_workers(self, clips, self.settings.jobs) if in_workers else (
            (index, self.process_clip(clip)) for index, clip in enumerate(clips))
        with tqdm(total=len(clips), desc="clips", unit="clip", disable=not self.settings.show_progress) as bar:
            for index, report in numbered:
                if report.status == "failed":
                    tqdm.write(f"failed: {report.error}")
                finished[index] = report
                self.write_manifest(listed())
                bar.update()
        return listed()

    def prepare_output(self) -> None:
        """Check the output folder is writable; delete partial files that killed runs (on this host) left in it."""
        require_writable(self.settings.out)
        leftovers = remove_abandoned_partials(self.settings.out)
        if leftovers and self.settings.show_progress:
            tqdm.write(f"removed {len(leftovers)} partial file(s) left by an interrupted run")

    def write_manifest(self, reports: list[ClipReport]) -> None:
        entries = [asdict(r) for r in reports]
        write_atomic(self.settings.out / "manifest.json", json.dumps(entries, indent=2))


@cache
def run_for(settings: RunSettings, gpu_slot: Callable[[], AbstractContextManager[object]] = nullcontext) -> Run:
    """This process's Run for ``settings``: what a pickled Run becomes in a worker process."""
    return Run(settings, gpu_slot)
