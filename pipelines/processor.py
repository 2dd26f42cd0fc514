"""The streaming clip processor: decode -> segment -> refine (+ dancer tracking) -> encode + statistics.

Like Robust Video Matting's ``inference.py``: a reader, a model and writers, nothing
else in the loop. Each stage is a small callable; ``run_pipeline`` joins them with
bounded queues so a 10-minute 4K clip uses the same memory as a 10-second one. The segment
stage gets the frames that start a new shot of an edited clip marked (``pipelines.shots``). The
refine stage separates and tracks the dancers on the low-resolution matte (``seg.dancers``) and
upsamples what ``ProcessSettings.dancers`` asks for: everyone, the main dancer, or each dancer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from pipelines.memory import release_free_memory
from pipelines.outputs import ClipOutputs
from analytics.beats import NO_AUDIO, ClipBeats, clip_beats
from pipelines.shots import ShotChangeDetector, Transition, with_shot_changes
from pipelines.stages import StageTimeoutError, run_pipeline
from pipelines.video_io import ClipInfo, ClipReader, FrameBatch
from pipelines.writers import WriterSettings
from seg.dancers import DANCER_MODES, DancerLayer, DancerTracker, UnknownDancersModeError
from seg.person_evidence import FaceDetector, PeopleAndFaces, PersonDetector, PersonEvidence
from seg.pose_split import PoseSplit
from seg.poses import PoseFinder
from seg.refine import MatteRefiner
from seg.segmenter import Segmenter
from seg.zoom import PersonZoom


@dataclass(frozen=True)
class ProcessSettings:
    """What to make of each clip."""

    formats: tuple[str, ...] = ("prores",)
    batch_size: int = 8
    queue_depth: int = 3
    writer: WriterSettings = field(default_factory=WriterSettings)
    dancers: str = "main"  # main: the main dancer; all: everyone; each: one output per dancer (seg.dancers)
    flow: bool = False  # compute the optical-flow statistic (about 13 ms a frame on 2 CPU cores)
    person_evidence: bool = True  # the main dancer must be found a person, the other mattes show nobody before someone is (seg.dancers)
    pose_split: bool = True  # with --dancers main, the main dancer is cut from the people they touch (seg.pose_split)
    zoom: bool = True  # a second, closer network pass on people small in the frame (seg.zoom)
    timeout_s: float | None = 3600.0  # per clip; None: no limit
    max_duration_s: float | None = 1800.0  # longer clips are refused; None: no limit
    max_long_side: int | None = 4096  # larger pictures are refused (4K UHD passes); None: no limit

    def __post_init__(self) -> None:
        if self.dancers not in DANCER_MODES:
            raise UnknownDancersModeError(self.dancers)


class ClipLimitError(Exception):
    """The clip exceeds a configured limit (duration, resolution or processing time); names the file."""


def check_limits(info: ClipInfo, settings: ProcessSettings) -> None:
    name = info.path.name
    if settings.max_duration_s is not None and info.duration_s > settings.max_duration_s:
        raise ClipLimitError(f"{name}: {info.duration_s:.0f} s is longer than the limit of {settings.max_duration_s:.0f} s (--max-duration)")
    if settings.max_long_side is not None and max(info.width, info.height) > settings.max_long_side:
        raise ClipLimitError(f"{name}: {info.width}x{info.height} is larger than the limit of {settings.max_long_side} px (--max-size)")


@dataclass(frozen=True)
class NetworkBatch:
    """What the segment stage hands on: the frames with their network-resolution results."""

    frames: FrameBatch
    probs: np.ndarray | torch.Tensor  # (N, h, w) float32 person probability at network resolution (on CUDA: left there)
    pictures: np.ndarray  # (N, h, w, 3) uint8 RGB frames at network resolution, where people are looked for
    grey: np.ndarray | None  # (N, h, w) uint8 frames at network resolution, for optical flow
    cuts: np.ndarray  # (N,) bool the frames that start a new shot (pipelines.shots)


@dataclass(frozen=True)
class SegmentedBatch:
    frames: FrameBatch
    layers: list[DancerLayer]  # (N, h, w) float32 mattes at network resolution, one per output
    alphas: list[np.ndarray]  # (N, H, W) uint8 the layers' mattes at display resolution
    grey: np.ndarray | None  # (N, h, w) uint8 frames at network resolution, for optical flow
    cuts: np.ndarray  # (N,) bool the frames that start a new shot


@dataclass(frozen=True)
class ClipOutcome:
    info: ClipInfo
    frames: int
    seconds: float
    outputs: list[Path]
    stats: pd.DataFrame
    dancers_seen: int
    person_confirmed: float  # DancerTracker.person_confirmed
    transitions: tuple[Transition, ...]  # the shot changes (pipelines.shots)
    beats: ClipBeats  # the audio's tempo and beats and the dancer's alignment with them (analytics.beats)


class ClipProcessor:
    """Processes one clip at a time with a shared, already-loaded segmenter."""

    def __init__(self, segmenter: Segmenter, settings: ProcessSettings = ProcessSettings()) -> None:
        self.segmenter = segmenter
        self.settings = settings
        self.refiner = MatteRefiner(device=segmenter.device)
        self.evidence = PersonEvidence(PeopleAndFaces(PersonDetector(), FaceDetector())) if settings.person_evidence else None
        self.zoom_detector = PersonDetector() if settings.zoom else None
        self.pose_finder = PoseFinder() if settings.pose_split and settings.dancers == "main" else None

    def process(self, path: Path, out_dir: Path, clip_id: str, show_progress: bool = True) -> ClipOutcome:
        """Write every requested output for ``path`` and return its per-frame statistics."""
        started = time.monotonic()
        settings = self.settings
        with ClipReader(path, batch_size=settings.batch_size) as reader:
            info = reader.info
            check_limits(info, settings)
            outputs = ClipOutputs(info, out_dir, clip_id, settings.formats, settings.writer)
            bar = tqdm(total=info.frames, desc=clip_id[:30], unit="frame", leave=False, disable=not show_progress)
            smoother = self.refiner.temporal()
            tracker = DancerTracker(evidence=self.evidence)
            split = PoseSplit(self.pose_finder) if self.pose_finder is not None else None
            shots = ShotChangeDetector(info.fps)
            zoom = PersonZoom(self.segmenter, self.zoom_detector) if self.zoom_detector is not None else None

            small_h, small_w = self.segmenter.input_size(info.height, info.width)
            on_gpu = self.segmenter.device.type == "cuda"  # the batch stays there until the clean-up
            probabilities = self.segmenter.device_probabilities if on_gpu else self.segmenter.probabilities

            def segment(marked: tuple[FrameBatch, np.ndarray, np.ndarray]) -> NetworkBatch:
                batch, small, cuts = marked
                grey = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in small]) if settings.flow else None
                probs = probabilities(small)
                if zoom is not None and (windows := zoom.windows(small, batch.times_s, cuts)):
                    probs = zoom(batch.rgb, windows, probs)
                return NetworkBatch(batch, probs, small, grey, cuts)

            def refine(item: NetworkBatch) -> SegmentedBatch:
                batch, grey, cuts = item.frames, item.grey, item.cuts
                low_res = self.refiner.clean(smoother(item.probs, cuts))
                dancers = tracker.update(low_res, batch.times_s, cuts, item.pictures)
                if split is not None:
                    dancers = split(dancers, low_res, batch.frame_rgb, batch.times_s, cuts)
                layers = dancers.layers(low_res, settings.dancers)
                luma = batch.grey()
                alphas = [self.refiner.upsample(layer.matte, luma) for layer in layers]
                return SegmentedBatch(batch, layers, alphas, grey, cuts)

            def write(item: SegmentedBatch) -> None:
                outputs.write(item.frames, item.layers, item.alphas, item.grey, item.cuts)
                bar.update(len(item.frames.index))
                release_free_memory()

            try:
                marked = with_shot_changes(reader, shots, small_w, small_h)
                run_pipeline(marked, [segment, refine, write], depth=settings.queue_depth, timeout_s=settings.timeout_s)
                written = outputs.close()
            except StageTimeoutError:
                outputs.abort()
                raise ClipLimitError(f"{path.name}: not finished within the limit of {settings.timeout_s:.0f} s (--timeout)") from None
            except BaseException:
                outputs.abort()
                raise
            finally:
                bar.close()
        stats = outputs.frame_table()
        try:
            beats = clip_beats(path, stats)
        except av.FFmpegError:  # an undecodable audio track costs the clip its beats, not its mattes
            beats = NO_AUDIO
        seconds = time.monotonic() - started
        transitions = tuple(shots.transitions)
        return ClipOutcome(info, outputs.frames, seconds, written, stats, tracker.dancers_seen, tracker.person_confirmed,
                           transitions, beats)
