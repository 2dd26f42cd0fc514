"""A closer look at people the whole-frame pass sees too small.

The network sees a whole 1080x1920 frame at a long side of a few hundred pixels (``Segmenter.long_side``):
a full-body dancer far from the camera, a breakdancer on the ground, a backlit figure, is then a few dozen pixels tall and
often missed altogether. ``PersonZoom`` finds the people with the BlazePose person detector
(``seg.person_evidence``), cuts a square around each one whose body is small in the frame from the
full-resolution picture, runs the network on it at the size it was trained at (``Segmenter.trained_side``:
whole frames may be seen smaller, see ``seg.segmenter``) and puts those probabilities
in place of the whole-frame ones inside the square, fading into them towards its edges.
People who already fill much of the frame, as in most vertical dance clips, are left to the first
pass: a closer look adds nothing there and costs a second pass. Each person is seen in two squares on the same
centre, the second tighter (``ZoomSettings.tight``): the network's false positives beside a small dancer (a parked car)
differ between the two framings more than the dancer does, as between a frame and its mirror image, and where they
overlap the squares are averaged. The squares are not also mirrored as whole frames are
(``SegmenterSettings.mirror``): mirroring them gained nothing measurable.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from seg.composite import padded_crop
from seg.person_evidence import PeopleFinder, PersonDetections
from seg.resize import shrink
from seg.segmenter import Segmenter


@dataclass(frozen=True)
class ZoomSettings:
    """Who gets a closer look, and how close."""

    margin: float = 1.2  # the square's half side is this many times the detected body radius
    min_zoom: float = 1.3  # a person is looked at closer only if the frame's long side is this many times the square's
    max_people: int = 3  # per frame, the detector's most confident first (a crowd costs no more than three people's squares)
    tight: float = 0.72  # each person is also seen in a square this share of the first's side, on its centre (0: not)
    tight_max_enlarge: float = 2.0  # the tighter square only where enlarging it to the network's input takes at most this:
    # more, and a low-resolution clip's crop is a blur in which the network misses the person
    min_side: int = 8  # squares smaller than this many network pixels are left out (nothing to see)
    fade: float = 0.25  # over this outer part of a square's half side the closer look fades into the whole frame's
    hold_s: float = 0.25  # in a clip, a square is kept this long after the detector last found its person
    recheck_s: float = 0.25  # in a clip, after a frame with nobody small in it the detector looks again this much later


@dataclass(frozen=True)
class ZoomWindow:
    """A square of a frame in network pixels: left, top and side (it may reach beyond the picture); ``tight``: the
    second, tighter framing of a person."""

    frame: int
    x: int
    y: int
    side: int
    tight: bool = False


def zoom_windows(people: PersonDetections, frame: int, shape: tuple[int, int], settings: ZoomSettings) -> list[ZoomWindow]:
    """The squares worth a closer look among ``people`` found in a frame of (h, w) network pixels: for each, its
    square and the tighter one on the same centre."""
    windows = []
    for k in np.argsort(-people.scores):
        side = round(2 * settings.margin * float(people.radius[k]))
        if side < settings.min_side or max(shape) < settings.min_zoom * side:
            continue
        cx, cy = people.hips[k]
        sides = [side] + ([round(settings.tight * side)] if settings.tight > 0 else [])
        windows.append([ZoomWindow(frame, round(cx - s / 2), round(cy - s / 2), s, tight=s != side) for s in sides])
        if len(windows) == settings.max_people:
            break
    return [window for squares in windows for window in squares]


def feather(side: int, fade: float) -> torch.Tensor:
    """(side, side) weights of a square: 1 in the middle, falling linearly to 0 over the outer ``fade`` of its half side."""
    distance = torch.linspace(-1, 1, side).abs()  # from the middle, in half sides
    ramp = ((1 - distance) / fade).clamp(max=1.0) if fade > 0 else torch.ones(side)
    return torch.minimum(ramp[:, None], ramp[None, :])


def pasted(probs: torch.Tensor, windows: list[ZoomWindow], closer: torch.Tensor, fade: float) -> torch.Tensor:
    """(N, h, w) ``probs`` with each window's (S, S) ``closer`` probabilities, resized to the window (clipped to the
    picture), put in their place: fully in the middle of each square, fading to the whole frame's over the outer
    ``fade`` of its half side, so no seam shows and a neighbour the square cuts keeps the whole frame's matte; where
    squares overlap, each counts by its weight there."""
    height, width = probs.shape[1:]
    closer_sum, weight_sum, cover = torch.zeros_like(probs), torch.zeros_like(probs), torch.zeros_like(probs)
    for window, square in zip(windows, closer):
        x0, y0 = max(window.x, 0), max(window.y, 0)
        x1, y1 = min(window.x + window.side, width), min(window.y + window.side, height)
        if x1 <= x0 or y1 <= y0:
            continue
        inside = (slice(y0 - window.y, y1 - window.y), slice(x0 - window.x, x1 - window.x))
        patch = F.interpolate(square[None, None], size=(window.side, window.side), mode="area")[0, 0][inside]
        weight = feather(window.side, fade).to(probs.device)[inside]
        closer_sum[window.frame, y0:y1, x0:x1] += weight * patch
        weight_sum[window.frame, y0:y1, x0:x1] += weight
        target = cover[window.frame, y0:y1, x0:x1]
        torch.maximum(target, weight, out=target)
    return cover * (closer_sum / weight_sum.clamp(min=1e-6)) + (1 - cover) * probs


class PersonZoom:
    """Second, closer network passes on the people the detector finds small in the frames of one clip (or in
    single pictures). In a clip, where the detector loses someone small (a spin, motion blur) their square is
    kept for ``hold_s``; while nobody small is in view the detector looks only every ``recheck_s``, so most
    vertical dance clips pay for a detection every few frames, not every frame."""

    def __init__(self, segmenter: Segmenter, find_people: PeopleFinder, settings: ZoomSettings = ZoomSettings()) -> None:
        self.segmenter = segmenter
        self.find_people = find_people
        self.settings = settings
        self._next_look_s = -np.inf
        self._held: list[ZoomWindow] = []
        self._held_until_s = -np.inf

    def windows(self, small: np.ndarray, times_s: np.ndarray | None = None, cuts: np.ndarray | None = None) -> list[ZoomWindow]:
        """The squares worth a closer look in (N, h, w, 3) uint8 frames at network resolution; with ``times_s``
        (N,) the frames are the next of a clip, ``cuts`` (N,) bool marking those that start a new shot."""
        found = []
        for i, picture in enumerate(small):
            if times_s is None:
                found += zoom_windows(self.find_people(picture), i, small.shape[1:3], self.settings)
            else:
                found += self._clip_windows(picture, i, float(times_s[i]), cuts is not None and bool(cuts[i]))
        return found

    def _clip_windows(self, picture: np.ndarray, frame: int, time_s: float, cut: bool) -> list[ZoomWindow]:
        if cut:
            self._next_look_s = self._held_until_s = -np.inf
        if time_s < self._next_look_s:
            return []
        windows = zoom_windows(self.find_people(picture), frame, picture.shape[:2], self.settings)
        if windows:
            self._held, self._held_until_s = windows, time_s + self.settings.hold_s
        elif time_s < self._held_until_s:
            windows = [replace(window, frame=frame) for window in self._held]
        else:
            self._next_look_s = time_s + self.settings.recheck_s
        return windows

    def __call__(self, frames: np.ndarray, windows: list[ZoomWindow], probs: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """(N, H, W, 3) uint8 full-resolution ``frames`` and their (N, h, w) network probabilities -> the
        probabilities with closer looks at ``windows`` put in (same type and device). A tighter square the frame
        would have to be enlarged for more than ``tight_max_enlarge`` times is left out (a small, low-resolution clip)."""
        size = self.segmenter.trained_side
        scale_y, scale_x = frames.shape[1] / probs.shape[1], frames.shape[2] / probs.shape[2]
        windows = [w for w in windows if not w.tight or w.side * min(scale_x, scale_y) * self.settings.tight_max_enlarge >= size]
        if not windows:
            return probs
        crops = np.stack([
            shrink(padded_crop(frames[w.frame], round(w.x * scale_x), round(w.y * scale_y),
                               round((w.x + w.side) * scale_x), round((w.y + w.side) * scale_y)), size, size)
            for w in windows
        ])
        if isinstance(probs, torch.Tensor):
            return pasted(probs, windows, self.segmenter.device_probabilities(crops, mirror=False).float(), self.settings.fade)
        closer = torch.from_numpy(self.segmenter.probabilities(crops, mirror=False))
        return pasted(torch.from_numpy(probs), windows, closer, self.settings.fade).numpy()
