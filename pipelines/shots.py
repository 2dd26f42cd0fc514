"""Shot changes in edited clips: hard cuts, dissolves and fades, found on the small frames the segmenter has.

Many dance clips are edited: several takes or angles joined by cuts, dissolves or fades. Across a
shot change nothing carries over (where a dancer is, how the silhouette moved, the last matte), so
the tracker, the temporal smoothing and the movement statistics restart at the first frame of the
new shot instead of comparing two shots, or running across the two superimposed pictures of a
dissolve. Three detectors, each marking the frame that starts the new shot:

- ``cut``: PySceneDetect's ``AdaptiveDetector`` (``scenedetect`` package): the content score (mean
  hue, saturation and value change from the previous frame) against the mean score of the
  ``cut_window`` frames on either side, so fast camera motion or a flashing effect, which raise the
  neighbours too, is no cut.
- ``fade``: PySceneDetect's ``ThresholdDetector``: the picture's mean falls below ``fade_level`` (a
  fade to black) and comes back; the new shot starts at the first frame back.
- ``dissolve`` (neither library nor the earlier copy of its formula has it): content change that
  accumulates over ``dissolve_window_s`` without a jump: the hue-saturation histograms
  (``histogram_bins`` a channel; brightness left out, so that a fade or a light change is no
  dissolve) of the window's ends differ by at least ``dissolve_change`` (the share of pixels that
  would change bin), no frame step carries more than ``max_step`` of that (a cut or a flash), at
  least ``min_coverage`` of a coarse thumbnail's blocks changed (a dancer moving changes a part of
  the picture, a dissolve all of it), the blocks went steadily from old to new (net change at least
  ``min_steadiness`` of the path travelled frame by frame: something passing in front of the camera
  goes back and forth), and neither end is nearly black (a fade's colours are noise). The new shot
  starts at the end of the first window that passes; the next dissolve needs the change to fall
  below half ``dissolve_change`` first.

Changes closer than ``min_shot_s`` to the previous one are dropped (flashes, glitch effects); at one
frame a fade wins over a dissolve and a dissolve over a cut; a cut into or out of a black picture is
left to the fade detector (the hue of a black picture jumps as it goes or comes back).
``ShotChangeDetector`` settles a frame ``lookahead`` frames after it has seen it (AdaptiveDetector's
window), so the segment stage receives its batches that much later (``with_shot_changes``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from pipelines.video_io import FrameBatch

TRANSITION_KINDS = ("cut", "dissolve", "fade")  # at one frame the last wins
HUE_SCALE = 180  # OpenCV's 8-bit hue runs 0..179


@dataclass(frozen=True)
class ShotSettings:
    """The thresholds of the three detectors (module docstring); the library's defaults where it has them."""

    cut_threshold: float = 3.0  # AdaptiveDetector: content score over its neighbours' mean (the library's default)
    min_cut_score: float = 15.0  # AdaptiveDetector: least content score of a cut (the library's default)
    cut_window: int = 2  # AdaptiveDetector: frames on either side (the library's default)
    fade_level: float = 12.0  # ThresholdDetector: mean 8-bit RGB under which the picture is black (library default)
    dissolve_window_s: float = 0.5
    dissolve_change: float = 0.3  # least colour-histogram distance (share of pixels changing bin) over the window
    max_step: float = 0.5  # of the window's change: the most one frame step may carry (more: a cut or a flash)
    small_width: int = 128  # every detector looks at the frame shrunk to at most this width (PySceneDetect: 256)
    histogram_bins: int = 8  # per hue and saturation channel
    thumbnail_width: int = 16  # coarse thumbnails (blocks) for the coverage and steadiness tests
    block_change: float = 20.0  # mean absolute RGB change (0-255) over the window that makes a block changed
    min_coverage: float = 0.5  # least share of changed blocks: a dissolve changes the whole picture, a dancer part
    min_steadiness: float = 0.45  # least net change of the blocks over the path they travelled frame by frame
    min_shot_s: float = 0.5  # a change closer than this to the previous one is dropped (flashes, glitch effects)


@dataclass(frozen=True)
class Transition:
    """A shot change: the first frame (source index) of the new shot and how the shots were joined."""

    frame: int
    kind: str  # one of TRANSITION_KINDS


class ShotChangeDetector:
    """Finds the shot changes of one clip; feed consecutive frames to ``update`` in order, then ``finish``."""

    def __init__(self, fps: float, settings: ShotSettings = ShotSettings()) -> None:
        from scenedetect import AdaptiveDetector, ThresholdDetector  # noqa: PLC0415 - only process needs it

        self.settings = settings
        self.fps = float(fps)
        self._window = max(2, round(settings.dissolve_window_s * fps))
        self.lookahead = settings.cut_window  # AdaptiveDetector reports a cut this many frames late
        self._min_shot = max(1, round(settings.min_shot_s * fps))
        self._cuts = AdaptiveDetector(settings.cut_threshold, 0, settings.cut_window, settings.min_cut_score)
        self._fades = ThresholdDetector(settings.fade_level, 0, fade_bias=1.0)
        self._histograms: deque[np.ndarray] = deque(maxlen=self._window + 1)
        self._steps: deque[float] = deque(maxlen=self._window)  # histogram distances between consecutive frames
        self._paths: deque[np.ndarray] = deque(maxlen=self._window)  # thumbnail changes between consecutive frames
        self._thumbnails: deque[np.ndarray] = deque(maxlen=self._window + 1)
        self._black: deque[bool] = deque([False], maxlen=settings.cut_window + 2)  # the last frames: black or not
        self._in_dissolve = False
        self._candidates: dict[int, str] = {}  # position -> kind, not yet settled
        self._index: list[int] = []  # source frame index of each position
        self._last_shot = 0  # position of the last accepted change (the first frame counts as one)
        self.settled = 0  # frames (positions) whose marks are final
        self.transitions: list[Transition] = []
        self._starts: set[int] = set()  # positions that start a new shot

    def update(self, rgb: np.ndarray, index: np.ndarray) -> None:
        """Feed (N, h, w, 3) uint8 RGB frames and their source frame indices."""
        from scenedetect import FrameTimecode  # noqa: PLC0415

        for picture, frame in zip(rgb, index):
            position = len(self._index)
            self._index.append(int(frame))
            timecode = FrameTimecode(position, fps=self.fps)
            width = min(self.settings.small_width, picture.shape[1])
            small = cv2.resize(picture, (width, _height(picture, width)), interpolation=cv2.INTER_AREA)
            self._black.append(bool(small.mean() < self.settings.fade_level))
            for cut in self._cuts.process_frame(timecode, cv2.cvtColor(small, cv2.COLOR_RGB2BGR)):
                if not (self._black[cut.frame_num - position - 1] or self._black[cut.frame_num - position - 2]):
                    self._candidate(cut.frame_num, "cut")
            for fade in self._fades.process_frame(timecode, small):  # the mean of the picture, area-averaged
                self._candidate(fade.frame_num, "fade")
            self._dissolve(small, position)
            self._settle(position + 1 - self.lookahead)

    def finish(self) -> None:
        """Settle every frame fed so far (the end of the clip)."""
        self._settle(len(self._index))

    def starts(self, first: int, count: int) -> np.ndarray:
        """(count,) bool: which of the positions ``first .. first + count - 1`` start a new shot (settled ones only)."""
        return np.array([p in self._starts for p in range(first, first + count)], bool)

    def _candidate(self, position: int, kind: str) -> None:
        previous = self._candidates.get(position)
        if previous is None or TRANSITION_KINDS.index(kind) > TRANSITION_KINDS.index(previous):
            self._candidates[position] = kind

    def _dissolve(self, small: np.ndarray, position: int) -> None:
        """Marks the last frame of the first window of a run of windows that look like a dissolve (``small``:
        the RGB frame shrunk to ``small_width``)."""
        bins = self.settings.histogram_bins
        hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
        histogram = cv2.calcHist([hsv], [0, 1], None, [bins] * 2, [0, HUE_SCALE, 0, 256]).ravel()  # no V: fades
        histogram /= max(float(histogram.sum()), 1.0)
        width = self.settings.thumbnail_width
        thumbnail = cv2.resize(small, (width, _height(small, width)), interpolation=cv2.INTER_AREA).astype(np.float32)
        if self._histograms:
            self._steps.append(_histogram_distance(self._histograms[-1], histogram))
            self._paths.append(np.abs(thumbnail - self._thumbnails[-1]))
        self._histograms.append(histogram)
        self._thumbnails.append(thumbnail)
        if len(self._histograms) <= self._window:
            return
        change = _histogram_distance(self._histograms[0], histogram)
        if change < self.settings.dissolve_change / 2:
            self._in_dissolve = False
        jump = max(self._steps) > self.settings.max_step * change
        if self._in_dissolve or change < self.settings.dissolve_change or jump:
            return
        net = np.abs(thumbnail - self._thumbnails[0])
        coverage = float((net.mean(axis=2) > self.settings.block_change).mean())
        steadiness = float(net.sum() / max(float(sum(path.sum() for path in self._paths)), 1e-9))
        if coverage < self.settings.min_coverage or steadiness < self.settings.min_steadiness:
            return  # part of the picture changed, or it went back and forth: movement
        if min(self._thumbnails[0].mean(), thumbnail.mean()) < 2 * self.settings.fade_level:
            return  # nearly black: a fade's colours are noise
        self._in_dissolve = True
        self._candidate(position, "dissolve")

    def _settle(self, until: int) -> None:
        """Accept the candidates at positions before ``until`` in order, at least ``min_shot`` apart."""
        for position in range(self.settled, max(until, self.settled)):
            kind = self._candidates.pop(position, None)
            if kind is not None and position > 0 and position - self._last_shot >= self._min_shot:
                self._last_shot = position
                self._starts.add(position)
                self.transitions.append(Transition(self._index[position], kind))
        self.settled = max(until, self.settled)


def _height(picture: np.ndarray, width: int) -> int:
    """The height of ``picture`` scaled to ``width``, aspect ratio kept."""
    return max(1, round(width * picture.shape[0] / picture.shape[1]))


def _histogram_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Share of the pixels whose colour would have to change bin to turn one histogram into the other, 0..1."""
    return 0.5 * float(np.abs(first - second).sum())


def with_shot_changes(
    batches: Iterable[FrameBatch], detector: ShotChangeDetector, width: int, height: int
) -> Iterator[tuple[FrameBatch, np.ndarray, np.ndarray]]:
    """``(batch, small RGB, starts)`` for each batch: its frames scaled to ``width`` x ``height`` and which of
    them start a new shot; each batch is held back until the detector has settled its last frame."""
    held: deque[tuple[FrameBatch, np.ndarray, int]] = deque()
    fed = 0
    for batch in batches:
        small = batch.scaled_rgb(width, height)
        detector.update(small, batch.index)
        held.append((batch, small, fed))
        fed += len(small)
        while held and held[0][2] + len(held[0][1]) <= detector.settled:
            done, pictures, first = held.popleft()
            yield done, pictures, detector.starts(first, len(pictures))
    detector.finish()
    for done, pictures, first in held:
        yield done, pictures, detector.starts(first, len(pictures))
