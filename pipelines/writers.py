"""Matte exports, one writer per format behind the same ``MatteWriter`` interface.

Every writer keeps the source's frame count and per-frame timestamps (output time base =
source time base, pts copied, so variable frame rate stays variable; WebM stores
milliseconds) and writes upright pictures at display size. The 4:2:0 videos (WebM, luma,
composite) are padded to even width/height by repeating the last column/row; ProRes 4444
and PNG keep the exact size. Encoded videos copy the source's colour primaries, transfer
and matrix tags and use video (limited) range. Their pictures are built plane by plane from
the decoded YUV (``FrameBatch.planes``) plus the matte as alpha: no round trip through
RGB, so colours are the source's own and the conversion costs a few milliseconds a frame
(through RGBA, swscale took ~47 ms for a 1080x1920 ProRes picture on one core).

Audio is muxed in step with the video (after each batch, up to its end time) so files
stay interleaved: ProRes stream-copies the source audio (AAC, ALAC, MP3, PCM; anything
else becomes 16-bit PCM), the other formats transcode it (Opus for WebM, AAC for MP4).

Files are written under a hidden temporary name in the destination folder and renamed
into place by ``close()``; ``abort()`` removes them, so final names never hold partial
output.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import ClassVar, Protocol

import av
import cv2
import numpy as np
from av.codec.context import Flags

from analytics.atomic import partial_path
from pipelines.video_io import VIDEO_RANGE, ClipInfo, FrameBatch, convert, error_reason, plane_arrays
from seg.composite import read_rgb
from seg.cores import core_share, usable_cores

COPIED_COLOR_TAGS = ("color_primaries", "color_trc", "colorspace")


class WriteError(Exception):
    """An output could not be written; the message is one line naming the file."""


@dataclass(frozen=True)
class WriterSettings:
    """Export options: composite background (solid RGB colour, or an image that wins when set)
    and encoder threads (0 = one per core)."""

    background_color: tuple[int, int, int] = (112, 136, 112)
    background: Path | None = None
    threads: int = 0


class MatteWriter(Protocol):
    """Writes one clip's mattes; ``outputs`` exist only after ``close()``."""

    outputs: list[Path]

    def write(self, batch: FrameBatch, alpha: np.ndarray) -> None:
        """Append frames; ``alpha`` is (N, H, W) uint8 at display size."""

    def close(self) -> None:
        """Finish the files and move them to their final names."""

    def abort(self) -> None:
        """Remove temporary files; final names never appear."""


@contextmanager
def reporting_errors(path: Path) -> Iterator[None]:
    """Turn OS and FFmpeg failures (e.g. ENOSPC) into a one-line ``WriteError`` naming ``path``."""
    try:
        yield
    except (OSError, av.FFmpegError) as exc:
        raise WriteError(f"cannot write {path.name}: {error_reason(exc)}") from exc


def require_matching(batch: FrameBatch, alpha: np.ndarray) -> None:
    """``ValueError`` (a caller bug) unless ``alpha`` is one matte per frame at frame size."""
    if alpha.shape != batch.shape:
        raise ValueError(f"alpha shape {alpha.shape} does not match frames {batch.shape}")


def filled_frame(pix_fmt: str, width: int, height: int, planes: list[np.ndarray | int]) -> av.VideoFrame:
    """A ``pix_fmt`` frame whose planes are copied from ``planes`` (arrays, or one value for a whole plane).

    An array smaller than its plane (an odd-sized picture in an even-sized frame) is
    extended by repeating its last row and column.
    """
    frame = av.VideoFrame(width, height, pix_fmt)
    for target, source in zip(plane_arrays(frame), planes, strict=True):
        if isinstance(source, int):
            target[:] = source
            continue
        rows, cols = source.shape
        target[:rows, :cols] = source
        target[:rows, cols:] = source[:, -1:]
        target[rows:] = target[rows - 1 : rows]
    return frame


def ten_bit(alpha: np.ndarray) -> np.ndarray:
    """8-bit alpha -> 10-bit (bit replication: 0 -> 0, 255 -> 1023, within 0.5 of the exact scaling)."""
    wide = alpha.astype(np.uint16)
    return (wide << 2) | (wide >> 6)


TEN_BIT = ten_bit(np.arange(256, dtype=np.uint8))  # ``ten_bit`` as a look-up table


class PartialOutput:
    """Base of the writers: output written under ``partial_path`` and renamed by ``close()``."""

    outputs: list[Path]

    def abort(self) -> None:
        raise NotImplementedError

    @contextmanager
    def _failing_cleanly(self) -> Iterator[None]:
        """Report failures as ``WriteError`` after removing the temporary output."""
        try:
            with reporting_errors(self.outputs[0]):
                yield
        except WriteError:
            self.abort()
            raise


class AudioTrack:
    """The source's first audio stream in ``output``, muxed in step with the video.

    Stream-copied when its codec is in ``copyable``, else transcoded to ``codec``.
    """

    def __init__(
        self, source: ClipInfo, output: av.container.OutputContainer, codec: str, copyable: frozenset[str]
    ) -> None:
        self._input = av.open(str(source.path))
        in_stream = self._input.streams.audio[0]
        self._packets = self._input.demux(in_stream)
        self._pending: av.Packet | None = None
        self._output = output
        self._copy = in_stream.codec_context.codec.canonical_name in copyable  # "mp3", not the decoder "mp3float"
        if self._copy:
            self.stream = output.add_stream_from_template(in_stream)
            return
        encoder = av.Codec(codec, "w")
        rate = in_stream.codec_context.sample_rate
        if encoder.audio_rates and rate not in encoder.audio_rates:
            rate = max(encoder.audio_rates)
        self.stream = output.add_stream(codec, rate=rate)
        self.stream.codec_context.layout = in_stream.codec_context.layout
        self.stream.codec_context.format = encoder.audio_formats[0]

    def mux_until(self, end_s: float) -> None:
        """Mux source audio that starts before ``end_s`` seconds (source timeline)."""
        while True:
            if self._pending is None:
                self._pending = next(self._packets, None)
            packet = self._pending
            if packet is None or (packet.pts is not None and packet.pts * packet.time_base >= end_s):
                return
            self._pending = None
            if self._copy:
                if packet.dts is not None:  # the demuxer's final empty packet is not muxed
                    packet.stream = self.stream
                    self._output.mux(packet)
                continue
            try:
                frames = packet.decode()
            except av.InvalidDataError:
                continue  # a damaged audio packet becomes a short gap, as with video
            for frame in frames:
                self._output.mux(self.stream.encode(in_samples(frame)))

    def finish(self) -> None:
        """Mux the rest of the source audio and flush the encoder."""
        self.mux_until(math.inf)
        if not self._copy:
            self._output.mux(self.stream.encode(None))

    def close(self) -> None:
        self._input.close()


def in_samples(frame: av.AudioFrame) -> av.AudioFrame:
    """``frame`` timed in samples (time base 1 / its sample rate), as the encoder's resampling expects: a
    frame timed in packets (MP3 in AVI: 1152 samples a tick) comes out of it with repeated timestamps."""
    if frame.pts is not None and frame.time_base != Fraction(1, frame.sample_rate):
        frame.pts = round(frame.pts * frame.time_base * frame.sample_rate)
        frame.time_base = Fraction(1, frame.sample_rate)
    return frame


class EncodedVideoWriter(PartialOutput):
    """One encoded video stream (picture made by ``picture``) plus the source audio, in one file."""

    suffix: ClassVar[str]
    container_format: ClassVar[str]
    codec: ClassVar[str]
    pix_fmt: ClassVar[str]
    codec_options: ClassVar[dict[str, str]] = {}
    audio_codec: ClassVar[str]
    audio_copyable: ClassVar[frozenset[str]] = frozenset()  # source codecs to stream-copy
    even_size: ClassVar[bool] = True  # 4:2:0 codecs: odd sizes padded by one row/column
    max_threads: ClassVar[int] = 0  # a cap on encoder threads for cheap encoders (0: none)

    def encoder(self) -> str:
        """The FFmpeg encoder for this source."""
        return self.codec

    def __init__(self, source: ClipInfo, folder: Path, stem: str, settings: WriterSettings) -> None:
        self.source = source
        self.outputs = [folder / f"{stem}{self.suffix}"]
        self._partial = partial_path(self.outputs[0])
        self._audio: AudioTrack | None = None
        self._frame_tags = {**{tag: source.color[tag] for tag in COPIED_COLOR_TAGS if tag in source.color},
                            "color_range": VIDEO_RANGE}
        with self._failing_cleanly():
            self._container = av.open(str(self._partial), "w", format=self.container_format)
            self._video = self._add_video_stream(settings.threads)
            if source.has_audio:
                self._audio = AudioTrack(source, self._container, self.audio_codec, self.audio_copyable)

    def _add_video_stream(self, threads: int) -> av.VideoStream:
        stream = self._container.add_stream(self.encoder(), rate=self.source.fps, options=self.codec_options)
        stream.width, stream.height = self.source.width, self.source.height
        if self.even_size:
            stream.width, stream.height = stream.width + stream.width % 2, stream.height + stream.height % 2
        stream.pix_fmt = self.pix_fmt
        stream.codec_context.time_base = self.source.time_base
        stream.time_base = self.source.time_base
        if self.max_threads:
            threads = min(threads or self.max_threads, self.max_threads)
        threads = threads or core_share() or 0  # 0: the encoder's own choice, about one thread per core
        stream.thread_count, stream.thread_type = threads, "AUTO"
        stream.codec_context.flags |= Flags.frame_duration  # else encoders drop frame.duration
        for tag, value in self._frame_tags.items():
            setattr(stream.codec_context, tag, value)
        return stream

    def planes(self, batch: FrameBatch, i: int, alpha: np.ndarray) -> list[np.ndarray | int]:
        """Frame ``i``'s planes in ``pix_fmt`` order at display size (``filled_frame`` pads them)."""
        raise NotImplementedError

    def picture(self, batch: FrameBatch, i: int, alpha: np.ndarray) -> av.VideoFrame:
        """Frame ``i`` as a ``pix_fmt`` frame of the stream's size."""
        return filled_frame(self.pix_fmt, self._video.width, self._video.height, self.planes(batch, i, alpha))

    def write(self, batch: FrameBatch, alpha: np.ndarray) -> None:
        require_matching(batch, alpha)
        with self._failing_cleanly():
            for i, (matte, pts, duration) in enumerate(zip(alpha, batch.pts, batch.durations)):
                frame = self.picture(batch, i, matte)
                for tag, value in self._frame_tags.items():  # ProRes writes them into every frame header
                    setattr(frame, tag, value)
                frame.pts, frame.duration = int(pts), int(duration)
                self._container.mux(self._video.encode(frame))
            if self._audio is not None:
                self._audio.mux_until(float((batch.pts[-1] + batch.durations[-1]) * self.source.time_base))

    def close(self) -> None:
        with self._failing_cleanly():
            self._container.mux(self._video.encode(None))
            if self._audio is not None:
                self._audio.finish()
                self._audio.close()
            self._container.close()
            os.replace(self._partial, self.outputs[0])

    def abort(self) -> None:
        for resource in (self._audio, getattr(self, "_container", None)):
            if resource is not None:
                try:
                    resource.close()
                except (OSError, av.FFmpegError):
                    pass  # the file is being thrown away
        self._partial.unlink(missing_ok=True)


class AlphaVideoWriter(EncodedVideoWriter):
    """A video whose colour is the source picture and whose alpha is the matte."""

    colour_format: ClassVar[str]  # ``pix_fmt`` without its alpha plane

    def planes(self, batch: FrameBatch, i: int, alpha: np.ndarray) -> list[np.ndarray | int]:
        return [*batch.planes(i, self.colour_format), ten_bit(alpha) if self.deep else alpha]

    @property
    def deep(self) -> bool:
        return av.VideoFormat(self.pix_fmt).components[0].bits > 8

    def picture(self, batch: FrameBatch, i: int, alpha: np.ndarray) -> av.VideoFrame:
        """The decoded picture converted straight to ``pix_fmt`` and its alpha plane overwritten with the matte.

        One swscale pass and no copy of the colour planes; a rotated or padded picture goes
        through ``planes`` instead.
        """
        if batch.rotation or (self._video.width, self._video.height) != (self.source.width, self.source.height):
            return super().picture(batch, i, alpha)
        frame = convert(batch.pictures[i], format=self.pix_fmt, dst_color_range=VIDEO_RANGE)
        alpha_plane = plane_arrays(frame)[3]
        if self.deep:
            cv2.LUT(alpha, TEN_BIT, dst=alpha_plane)
        else:
            alpha_plane[:] = alpha
        return frame


class ProResWriter(AlphaVideoWriter):
    """``<stem>.mov``: ProRes 4444 (10-bit 4:4:4 plus alpha), source audio stream-copied."""

    suffix, container_format = ".mov", "mov"
    codec, pix_fmt, colour_format = "prores_aw", "yuva444p10le", "yuv444p10le"
    codec_options = {"profile": "4"}  # 4 = ap4h, ProRes 4444
    even_size = False  # 4:4:4 keeps any size

    def encoder(self) -> str:
        """``prores_aw`` (about 3x faster) where it can: it refuses odd widths, ``prores_ks`` takes them."""
        return "prores_aw" if self.source.width % 2 == 0 else "prores_ks"
    audio_codec = "pcm_s16le"
    # What MOV and the editors take as is; anything else (e.g. Opus, which FFmpeg's MOV muxer refuses) becomes PCM.
    audio_copyable = frozenset({"aac", "alac", "mp3", "pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be"})


class WebmWriter(AlphaVideoWriter):
    """``<stem>.webm``: VP9 with alpha (kept beside each frame; decode with ``libvpx-vp9``), Opus audio."""

    suffix, container_format = ".webm", "webm"
    codec, pix_fmt, colour_format = "libvpx-vp9", "yuva420p", "yuv420p"
    codec_options = {"deadline": "realtime", "cpu-used": "8", "row-mt": "1", "crf": "24", "b": "0"}
    audio_codec = "libopus"


class LumaWriter(EncodedVideoWriter):
    """``<stem>.luma.mp4``: H.264 whose picture is the matte in grey (white = dancer), AAC audio."""

    suffix, container_format = ".luma.mp4", "mp4"
    codec, pix_fmt = "libx264", "yuv420p"
    # On mattes "ultrafast" is both faster and truer than "fast" (no deblocking to smear the edges):
    # measured 1080x1920, crf 16: 91 vs 22 fps, largest error 8 vs 32 grey levels, ~2x the bytes (~7 KB a frame).
    codec_options = {"preset": "ultrafast", "crf": "16"}
    audio_codec = "aac"
    # One thread encodes 1080x1920 mattes at ~125 fps; x264's threading costs 40% more CPU for
    # the same speed (13.5 vs 9.4 core-ms a frame), CPU the other stages need on a small machine.
    # With more than 4 cores (this process's share, ``seg.cores``) there are cores to spare, and one
    # thread would cap the pipeline.
    @property
    def max_threads(self) -> int:  # type: ignore[override]
        return 1 if usable_cores() <= 4 else 0

    # full-range grey 0..255 -> video-range luma 16..235; chroma stays neutral
    VIDEO_LUMA = np.round(16 + np.arange(256) * (219 / 255)).astype(np.uint8)

    def planes(self, batch: FrameBatch, i: int, alpha: np.ndarray) -> list[np.ndarray | int]:
        return [cv2.LUT(alpha, self.VIDEO_LUMA), 128, 128]


class CompositeWriter(EncodedVideoWriter):
    """``<stem>.composite.mp4``: H.264 of the dancer over a solid colour or an image, AAC audio.

    Blended in YUV (the same sum as in RGB, the colour matrix being linear), the matte
    area-averaged to chroma resolution for the chroma planes.
    """

    suffix, container_format = ".composite.mp4", "mp4"
    codec, pix_fmt = "libx264", "yuv420p"
    codec_options = {"preset": "fast", "crf": "18"}
    audio_codec = "aac"

    def __init__(self, source: ClipInfo, folder: Path, stem: str, settings: WriterSettings) -> None:
        picture = av.VideoFrame.from_ndarray(
            np.ascontiguousarray(background_picture(settings, source.width, source.height)), format="rgb24"
        )
        if "colorspace" in source.color:  # the matrix the output is tagged with (else swscale's default, as players)
            picture.colorspace = source.color["colorspace"]
        yuv = picture.reformat(format=self.pix_fmt, dst_color_range=VIDEO_RANGE)
        self._background = [plane.copy() for plane in plane_arrays(yuv)]
        super().__init__(source, folder, stem, settings)

    def planes(self, batch: FrameBatch, i: int, alpha: np.ndarray) -> list[np.ndarray | int]:
        weight = alpha.astype(np.float32) * (1 / 255)
        blended = []
        for plane, background in zip(batch.planes(i, self.pix_fmt), self._background):
            w = weight if plane.shape == weight.shape else cv2.resize(weight, plane.shape[::-1], interpolation=cv2.INTER_AREA)
            blended.append(cv2.blendLinear(plane, background, w, 1 - w))
        return blended


def background_picture(settings: WriterSettings, width: int, height: int) -> np.ndarray:
    """The composite background at display size: the image resized to cover, else the colour."""
    if settings.background is None:
        return np.broadcast_to(np.array(settings.background_color, np.uint8), (height, width, 3))
    try:
        image = read_rgb(settings.background)
    except ValueError as exc:
        raise WriteError(str(exc)) from exc
    scale = max(width / image.shape[1], height / image.shape[0])
    size = (max(width, round(image.shape[1] * scale)), max(height, round(image.shape[0] * scale)))
    covered = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    top, left = (covered.shape[0] - height) // 2, (covered.shape[1] - width) // 2
    return covered[top : top + height, left : left + width]


class PngSequenceWriter(PartialOutput):
    """``<stem>_png/``: RGBA PNG frames ``000000.png``... plus ``timestamps.txt``.

    ``timestamps.txt`` is in mkvmerge's "timestamp format v2" (each frame's time in
    milliseconds from the first), since an image sequence has no timing of its own. An
    existing folder of the same name is replaced on ``close()``. A batch's frames are
    compressed in parallel (``WriterSettings.threads``; OpenCV releases the GIL).
    """

    def __init__(self, source: ClipInfo, folder: Path, stem: str, settings: WriterSettings) -> None:
        self.outputs = [folder / f"{stem}_png"]
        self._partial = partial_path(self.outputs[0])
        self._times_ms: list[float] = []
        self._pool = ThreadPoolExecutor(settings.threads or usable_cores(), thread_name_prefix="png")
        with self._failing_cleanly():
            self._partial.mkdir()

    def _write_frame(self, rgb: np.ndarray, matte: np.ndarray, index: int) -> None:
        bgra = cv2.cvtColor(np.dstack((rgb, matte)), cv2.COLOR_RGBA2BGRA)
        encoded, data = cv2.imencode(".png", bgra, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        if not encoded:
            raise WriteError(f"{self.outputs[0].name}: PNG encoding failed at frame {index}")
        (self._partial / f"{index:06d}.png").write_bytes(data.tobytes())

    def write(self, batch: FrameBatch, alpha: np.ndarray) -> None:
        require_matching(batch, alpha)
        with self._failing_cleanly():
            for _ in self._pool.map(self._write_frame, batch.rgb, alpha, batch.index):
                pass
            self._times_ms.extend(batch.times_s * 1000)

    def close(self) -> None:
        self._pool.shutdown()
        with self._failing_cleanly():
            lines = ["# timestamp format v2", *(f"{t:.3f}" for t in self._times_ms)]
            (self._partial / "timestamps.txt").write_text("\n".join(lines) + "\n")
            if self.outputs[0].exists():
                shutil.rmtree(self.outputs[0])
            os.replace(self._partial, self.outputs[0])

    def abort(self) -> None:
        self._pool.shutdown(cancel_futures=True)
        shutil.rmtree(self._partial, ignore_errors=True)


_WRITERS: dict[str, type[EncodedVideoWriter] | type[PngSequenceWriter]] = {
    "prores": ProResWriter,
    "webm": WebmWriter,
    "luma": LumaWriter,
    "png": PngSequenceWriter,
    "composite": CompositeWriter,
}
FORMATS = tuple(_WRITERS)


def open_writer(fmt: str, source: ClipInfo, out_dir: Path, stem: str, settings: WriterSettings) -> MatteWriter:
    """A writer for ``fmt`` (one of ``FORMATS``) putting its output in ``out_dir/mattes``."""
    if fmt not in _WRITERS:
        raise WriteError(f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})")
    folder = out_dir / "mattes"
    with reporting_errors(folder):
        folder.mkdir(parents=True, exist_ok=True)
    return _WRITERS[fmt](source, folder, stem, settings)
