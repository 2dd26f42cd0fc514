"""Makers of the broken and unusual files an inbox receives (generated, never downloaded)."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np


def write_text_as_video(path: Path) -> None:
    path.write_text("not a video\n" * 50)


def write_jpeg_as_video(path: Path) -> None:
    picture = np.random.default_rng(0).integers(0, 256, (64, 48, 3), dtype=np.uint8)
    path.write_bytes(cv2.imencode(".jpg", picture)[1].tobytes())


def write_audio_only(path: Path) -> None:
    with av.open(str(path), "w", format="mp4" if path.suffix.lower() in {".mp4", ".m4a", ".mov"} else None) as container:
        stream = container.add_stream("aac", rate=48_000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 48_000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def truncate_copy(source: Path, target: Path, fraction: float = 0.5) -> None:
    """A half-uploaded file: the first ``fraction`` of the bytes (an MP4 then lacks its index)."""
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])


def garble_packets(source: Path, target: Path, garble: set[int] | None) -> None:
    """Copy ``source``'s video with the payload of packets ``garble`` (all when None) replaced by noise."""
    rng = np.random.default_rng(1)
    with av.open(str(source)) as reader, av.open(str(target), "w") as writer:
        original = reader.streams.video[0]
        copy = writer.add_stream_from_template(original)
        packets = (p for p in reader.demux(original) if p.dts is not None)
        for number, packet in enumerate(packets):
            if garble is None or number in garble:
                noise = av.Packet(rng.integers(0, 256, packet.size, dtype=np.uint8).tobytes())
                noise.pts, noise.dts, noise.time_base = packet.pts, packet.dts, packet.time_base
                noise.is_keyframe = packet.is_keyframe
                packet = noise
            packet.stream = copy
            writer.mux(packet)


def garble_bytes(source: Path, target: Path, start: float, stop: float) -> None:
    """Copy ``source`` with the bytes between fractions ``start`` and ``stop`` of its length replaced by noise."""
    data = bytearray(source.read_bytes())
    lo, hi = int(len(data) * start), int(len(data) * stop)
    data[lo:hi] = np.random.default_rng(2).integers(0, 256, hi - lo, dtype=np.uint8).tobytes()
    target.write_bytes(bytes(data))
