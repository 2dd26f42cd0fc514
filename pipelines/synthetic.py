"""Synthetic dance clips with an exact ground-truth matte, for tests, the sample clip and benchmarks.

Motion (``t`` = frame time in seconds, one dance "bar" lasts ``BAR_S`` seconds):

- each person sways sideways by ±12 % of the frame width (sine, one sway per bar),
- bobs upwards by up to 4 % of the frame height twice per bar (``|sin|`` bounce),
- breathes in scale by ±5 % and tilts by ±8 degrees (sines, out of phase with the sway),
- the background is a procedural image 25 % larger than the frame, panned linearly from
  its top-left to its bottom-right corner over the clip (whole-pixel steps); an edited clip
  (``cut_every_s``) cuts to another background every so often (the pose may jump there too).

People are spread evenly across the frame; a later person occludes an earlier one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from av.codec.context import Flags

from seg.composite import Person, Placement, paste, procedural_background

BAR_S = 2.0
AUDIO_RATE = 48_000
AUDIO_FRAME = 1024
CLICK_OFFSET_S = 0.5  # first click of ``SyntheticClipSpec.click_every_s``
TICKS_PER_FRAME = 1000  # video time base is 1 / (fps * TICKS_PER_FRAME)


@dataclass(frozen=True)
class SyntheticClipSpec:
    """What to encode. ``width``/``height`` are the display size (after rotation).

    ``rotation`` is the clockwise turn players apply (display-matrix metadata); the stored
    pictures are the display pictures turned back. ``vfr`` draws each frame's duration
    from 0.5..1.5 nominal frames. The container comes from the file suffix and must take
    the codec and the audio codec (AAC: .mp4, .mov, .mkv; MP3: also .avi).
    """

    width: int = 180
    height: int = 320
    frames: int = 24
    fps: int = 12
    audio: bool = True
    rotation: int = 0
    vfr: bool = False
    codec: str = "libx264"
    pix_fmt: str = "yuv420p"
    audio_codec: str = "aac"
    seed: int = 0
    click_every_s: float = 0.0  # > 0: a full-scale 2 ms click on the tone at 0.5 s and every this many seconds
    cut_every_s: float = 0.0  # > 0: a hard cut to another background every this many seconds
    ticks_per_frame: int = TICKS_PER_FRAME  # 1 for codecs that take only a standard frame rate as time base (MPEG-2)

    def shot(self, t: float) -> int:
        """Which shot time ``t`` falls in (0 for an uncut clip)."""
        return int(t // self.cut_every_s) if self.cut_every_s > 0 else 0


def procedural_person(height: int = 160, width: int = 80, seed: int = 0) -> Person:
    """A textured stick-figure person (head, torso, arms, legs) with a hard matte."""
    rng = np.random.default_rng(seed)
    alpha = np.zeros((height, width), np.uint8)
    cx, u = width // 2, height / 16
    cv2.ellipse(alpha, (cx, round(1.5 * u)), (round(1.2 * u), round(1.5 * u)), 0, 0, 360, 255, -1)
    cv2.ellipse(alpha, (cx, round(6 * u)), (round(2 * u), round(3.2 * u)), 0, 0, 360, 255, -1)
    limb = max(round(0.7 * u), 1)
    for end_x, end_y, start_y in ((0.1, 3.5, 4.0), (0.9, 3.5, 4.0), (0.3, 15.8, 8.5), (0.7, 15.8, 8.5)):
        cv2.line(alpha, (cx, round(start_y * u)), (round(end_x * width), round(end_y * u)), 255, limb)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(60, 230, 3)
    stripes = 0.75 + 0.25 * np.sin(yy / max(u, 1) * 2.5)[..., None]
    shading = 0.85 + 0.15 * (xx / width)[..., None]
    rgb = np.clip(base * stripes * shading, 0, 255).astype(np.uint8)
    return Person(rgb, (alpha > 127).astype(np.float32))


Pose = Callable[[SyntheticClipSpec, float, int, int], Placement]


def dance_pose(spec: SyntheticClipSpec, t: float, n: int, count: int) -> Placement:
    """Where person ``n`` of ``count`` is at time ``t`` (see the module docstring)."""
    phase = 2 * np.pi * t / BAR_S + n
    return Placement(
        center_x=spec.width * ((n + 1) / (count + 1) + 0.12 * np.sin(phase)),
        center_y=spec.height * (0.55 - 0.04 * abs(np.sin(2 * phase))),
        height=spec.height * 0.7 * (1 + 0.05 * np.cos(phase)),
        angle_deg=8 * np.cos(phase),
    )


def frame_pts(spec: SyntheticClipSpec) -> np.ndarray:
    """Frame timestamps in ticks of ``1 / (fps * ticks_per_frame)``; irregular when ``vfr``."""
    ticks = spec.ticks_per_frame
    if not spec.vfr:
        return np.arange(spec.frames, dtype=np.int64) * ticks
    durations = np.random.default_rng(spec.seed).integers(ticks // 2, ticks * 3 // 2, spec.frames)
    return np.concatenate([[0], np.cumsum(durations[:-1])]).astype(np.int64)


def make_clip(
    path: Path, people: Sequence[Person], spec: SyntheticClipSpec, pose: Pose = dance_pose, keep_mattes: bool = True
) -> np.ndarray:
    """Encode a dance clip to ``path``; return its mattes (frames, H, W) float32 in display orientation.

    ``pose(spec, t, n, count)`` places person ``n`` of ``count`` at time ``t``; default: the dance of the
    module docstring. With ``keep_mattes=False`` (clips too long to hold their mattes) the result has no frames."""
    if spec.rotation % 90:
        raise ValueError(f"rotation {spec.rotation} is not a multiple of 90 degrees")
    rng = np.random.default_rng(spec.seed)
    pad_w, pad_h = spec.width // 4, spec.height // 4
    backgrounds: dict[int, np.ndarray] = {}
    time_base = Fraction(1, spec.fps * spec.ticks_per_frame)
    pts = frame_pts(spec)
    durations = np.diff(pts, append=pts[-1] + spec.ticks_per_frame)
    end_s = float((pts[-1] + durations[-1]) * time_base)
    quarter_turns = spec.rotation // 90 % 4
    mattes = np.zeros((spec.frames if keep_mattes else 0, spec.height, spec.width), np.float32)

    with av.open(str(path), "w") as container:
        options = {"preset": "veryfast", "crf": "16"} if spec.codec == "libx264" else {}
        video = container.add_stream(spec.codec, rate=spec.fps, options=options)
        video.width, video.height = (spec.height, spec.width) if quarter_turns % 2 else (spec.width, spec.height)
        video.pix_fmt = spec.pix_fmt
        video.codec_context.time_base = time_base
        video.codec_context.flags |= Flags.frame_duration  # keep the exact (VFR) frame durations
        if quarter_turns:
            video.set_display_rotation(-spec.rotation)  # PyAV takes counter-clockwise degrees
        audio = _SineTone(container.add_stream(spec.audio_codec, rate=AUDIO_RATE, layout="mono"), end_s, spec.click_every_s) if spec.audio else None
        for i, tick in enumerate(pts):
            t = float(tick * time_base)
            progress = i / max(spec.frames - 1, 1)
            x0, y0 = round(progress * pad_w), round(progress * pad_h)
            shot = spec.shot(t)
            if shot not in backgrounds:
                backgrounds[shot] = procedural_background(rng, spec.height + pad_h, spec.width + pad_w)
            canvas = backgrounds[shot][y0 : y0 + spec.height, x0 : x0 + spec.width]
            for n, person in enumerate(people):
                canvas, alpha = paste(canvas, person, pose(spec, t, n, len(people)))
                if keep_mattes:
                    mattes[i] = mattes[i] + alpha * (1 - mattes[i])
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.rot90(canvas, quarter_turns)), format="rgb24")
            frame.pts, frame.duration = int(tick), int(durations[i])
            container.mux(video.encode(frame))
            if audio is not None:
                container.mux(audio.encode_until(t))
        container.mux(video.encode())
        if audio is not None:
            container.mux(audio.encode_until(end_s))
            container.mux(audio.stream.encode())
    return mattes


@dataclass
class _SineTone:
    """A 440 Hz tone (with clicks, see ``click_times``), encoded in step with the video so the file stays interleaved."""

    stream: av.audio.stream.AudioStream
    end_s: float
    click_every_s: float = 0.0
    next_sample: int = 0

    def encode_until(self, t: float) -> Iterator[av.Packet]:
        """Packets for the tone up to ``t`` seconds (never past the clip end)."""
        stop = round(min(t, self.end_s) * AUDIO_RATE)
        while self.next_sample < stop:
            count = min(AUDIO_FRAME, stop - self.next_sample)
            times = (self.next_sample + np.arange(count)) / AUDIO_RATE
            samples = 0.3 * np.sin(2 * np.pi * 440 * times)
            if self.click_every_s:
                since_click = (times - CLICK_OFFSET_S) % self.click_every_s
                samples[(times >= CLICK_OFFSET_S) & (since_click < 0.002)] = 0.95
            samples = samples.astype(np.float32)[None]
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = AUDIO_RATE, self.next_sample
            self.next_sample += count
            yield from self.stream.encode(frame)
