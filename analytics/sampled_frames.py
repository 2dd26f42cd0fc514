"""A few upright frames spread evenly over a clip, decoded with PyAV seeks (never the whole clip).

Frame ``k`` of ``count`` is the picture shown at ``(k + 0.5) / count`` of the video stream's duration, so
two encodings of the same footage (another frame rate, codec or size) give pictures of the same moments.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def sample_frames(path: Path, count: int, pixel_format: str = "rgb24") -> np.ndarray:
    """``count`` upright frames (count, H, W, C) uint8 in ``pixel_format`` (``rgb24`` or ``rgba``).

    ``OSError`` / ``av.FFmpegError`` when the file cannot be read; ``ValueError`` when it has no video
    stream, no known duration or no decodable frame.
    """
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{Path(path).name}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        start, duration = _start_and_duration(container, stream, Path(path))
        targets = start + (np.arange(count) + 0.5) / count * duration
        pictures = [_frame_at(container, stream, int(target), Path(path)) for target in targets]
    return np.stack([_upright(frame.to_ndarray(format=pixel_format), frame.rotation) for frame in pictures])


def _start_and_duration(container: av.container.InputContainer, stream: av.VideoStream, path: Path) -> tuple[int, int]:
    """First timestamp and duration of ``stream`` in its time base (from the container when the stream lacks them)."""
    start = stream.start_time or 0
    if stream.duration:
        return start, stream.duration
    if container.duration:
        return start, int(container.duration / av.time_base / stream.time_base)
    raise ValueError(f"{path.name}: unknown duration")


def _frame_at(container: av.container.InputContainer, stream: av.VideoStream, target: int, path: Path) -> av.VideoFrame:
    """The frame on screen at ``target`` (the last one starting at or before it; the first after when none does)."""
    container.seek(target, stream=stream)  # lands on the keyframe at or before target
    shown = None
    for frame in container.decode(stream):
        if shown is not None and frame.pts is not None and frame.pts > target:
            break
        shown = frame
    if shown is None:
        raise ValueError(f"{path.name}: no decodable video frame")
    return shown


def _upright(picture: np.ndarray, counter_clockwise_deg: float) -> np.ndarray:
    """The picture turned by its display-matrix rotation (``VideoFrame.rotation``, counter-clockwise degrees)."""
    return np.ascontiguousarray(np.rot90(picture, round(counter_clockwise_deg / 90) % 4))
