"""Matte exports: alpha, frame count, timing, audio, odd sizes, colour tags and clean failure."""

from __future__ import annotations

import errno
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from pipelines import writers
from pipelines.synthetic import SyntheticClipSpec, make_clip, procedural_person
from pipelines.video_io import ClipReader, plane_arrays, probe, read_alpha
from pipelines.writers import FORMATS, WriteError, WriterSettings, open_writer

VIDEO_FORMATS = tuple(f for f in FORMATS if f != "png")
SOURCE = SyntheticClipSpec(width=96, height=160, frames=12, fps=12)


def as_uint8(mattes: np.ndarray) -> np.ndarray:
    return (mattes * 255 + 0.5).astype(np.uint8)


def make_source(folder: Path, spec: SyntheticClipSpec) -> tuple[Path, np.ndarray]:
    """A synthetic clip and its ground-truth matte as uint8."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "source.mp4"
    return path, as_uint8(make_clip(path, [procedural_person(seed=spec.seed)], spec))


def export(
    fmt: str, source: Path, alpha: np.ndarray, out_dir: Path, settings: WriterSettings = WriterSettings()
) -> Path:
    """Write ``alpha`` for ``source`` as ``fmt``; checks the final name only appears on close."""
    writer = open_writer(fmt, probe(source), out_dir, "clip", settings)
    with ClipReader(source, batch_size=5) as reader:
        for batch in reader:
            writer.write(batch, alpha[batch.index])
    assert not writer.outputs[0].exists()
    writer.close()
    (output,) = writer.outputs
    assert output.exists() and output.parent == out_dir / "mattes"
    return output


def frame_times(path: Path) -> np.ndarray:
    """Decoded frame times in seconds from the first frame."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pts = np.array([frame.pts for frame in container.decode(stream)])
        return (pts - pts[0]) * float(stream.time_base)


def video_duration(path: Path) -> float:
    """The video track's duration as players see it (MP4/MOV track length, WebM DURATION tag)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.duration:
            return float(stream.duration * stream.time_base)
        hours, minutes, seconds = stream.metadata["DURATION"].split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def audio_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return sum(frame.samples for frame in container.decode(stream)) / stream.codec_context.sample_rate


def decoded_rgb(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def source_rgb(path: Path) -> np.ndarray:
    with ClipReader(path) as reader:
        return np.concatenate([batch.rgb for batch in reader])


def yuv444(path: Path) -> np.ndarray:
    """Every frame as 10-bit 4:4:4 video-range planes (N, 3, H, W): colours compared without a trip through RGB."""
    with av.open(str(path)) as container:
        frames = [f.reformat(format="yuv444p10le", dst_color_range=1) for f in container.decode(video=0)]
        return np.stack([np.stack(plane_arrays(f)[:3]) for f in frames]).astype(int)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    return make_source(tmp_path_factory.mktemp("source"), SOURCE)


@pytest.fixture(scope="module")
def exported(source, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out_dir = tmp_path_factory.mktemp("out")
    return {fmt: export(fmt, *source, out_dir) for fmt in FORMATS}


def test_output_names(exported) -> None:
    assert {fmt: path.name for fmt, path in exported.items()} == {
        "prores": "clip.mov",
        "webm": "clip.webm",
        "luma": "clip.luma.mp4",
        "png": "clip_png",
        "composite": "clip.composite.mp4",
    }


@pytest.mark.parametrize("fmt", VIDEO_FORMATS)
def test_video_keeps_frames_timing_and_audio(source, exported, fmt: str) -> None:
    np.testing.assert_allclose(frame_times(exported[fmt]), frame_times(source[0]), atol=1e-3)  # WebM: milliseconds
    assert video_duration(exported[fmt]) == pytest.approx(video_duration(source[0]), abs=1e-3)
    assert audio_seconds(exported[fmt]) == pytest.approx(audio_seconds(source[0]), abs=1e-3)


def test_prores_is_4444_with_the_matte_as_alpha(source, exported) -> None:
    path, alpha = source
    with av.open(str(exported["prores"])) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.profile) == ("prores", "4444")
        assert container.streams.audio[0].codec_context.name == "aac"  # stream copy
    stored = read_alpha(exported["prores"])
    assert stored.shape == alpha.shape
    assert np.abs(stored.astype(int) - alpha).max() <= 1
    error = np.abs(yuv444(exported["prores"]) - yuv444(path))  # the source's own YUV, 10-bit levels
    assert error.mean() < 2 and error.max() < 24


def test_webm_alpha_survives(source, exported) -> None:
    stored = read_alpha(exported["webm"]).astype(int)
    error = np.abs(stored - source[1])
    assert error.mean() < 1.5 and np.percentile(error, 99.9) < 40  # lossy VP9 alpha
    with av.open(str(exported["webm"])) as container:
        assert container.streams.audio[0].codec_context.name == "opus"


def test_luma_picture_is_the_matte(source, exported) -> None:
    grey = decoded_rgb(exported["luma"]).astype(int)
    assert np.abs(grey - source[1][..., None]).mean() < 1.5


def test_composite_over_colour_and_image(source, exported, tmp_path: Path) -> None:
    path, alpha = source
    empty = alpha == 0
    colour = decoded_rgb(exported["composite"])[empty].mean(axis=0)
    np.testing.assert_allclose(colour, WriterSettings().background_color, atol=3)
    image = np.zeros((40, 30, 3), np.uint8)
    image[:, :15] = (255, 255, 255)  # left half white, right half black (BGR or RGB alike)
    cv2.imwrite(str(tmp_path / "bg.png"), image)
    over_image = decoded_rgb(export("composite", path, alpha, tmp_path, WriterSettings(background=tmp_path / "bg.png")))
    left, right = over_image[:, :, :40], over_image[:, :, 56:]
    assert left[empty[:, :, :40]].mean() > 230 and right[empty[:, :, 56:]].mean() < 25


def test_png_sequence_is_rgba_with_timestamps(source, exported) -> None:
    path, alpha = source
    frames = sorted(exported["png"].glob("*.png"))
    assert [f.name for f in frames] == [f"{i:06d}.png" for i in range(12)]
    bgra = np.stack([cv2.imread(str(f), cv2.IMREAD_UNCHANGED) for f in frames])
    np.testing.assert_array_equal(bgra[..., 3], alpha)
    np.testing.assert_array_equal(bgra[..., 2::-1], source_rgb(path))
    lines = (exported["png"] / "timestamps.txt").read_text().splitlines()
    assert lines[0] == "# timestamp format v2"
    np.testing.assert_allclose([float(t) for t in lines[1:]], frame_times(path) * 1000, atol=1e-3)


@pytest.mark.parametrize("fmt", FORMATS)
def test_odd_sized_source_keeps_its_size_or_is_padded_for_4_2_0(tmp_path: Path, fmt: str) -> None:
    odd = SyntheticClipSpec(width=85, height=151, frames=6, pix_fmt="yuv444p", audio=False)  # x264 4:4:4 allows odd
    path, alpha = make_source(tmp_path, odd)
    output = export(fmt, path, alpha, tmp_path)
    if fmt == "png":
        assert cv2.imread(str(output / "000000.png"), cv2.IMREAD_UNCHANGED).shape == (151, 85, 4)
        return
    if fmt == "prores":  # 4:4:4: exact size (prores_ks, as prores_aw refuses odd widths)
        assert decoded_rgb(output).shape == (6, 151, 85, 3)
        assert np.abs(read_alpha(output).astype(int) - alpha).max() <= 1
        return
    assert decoded_rgb(output).shape == (6, 152, 86, 3)
    if fmt == "webm":
        stored = read_alpha(output).astype(int)
        np.testing.assert_array_equal(stored[:, 151, :85], stored[:, 150, :85])  # edge row repeated


@pytest.mark.parametrize("fmt", FORMATS)
def test_variable_frame_rate_is_kept(tmp_path: Path, fmt: str) -> None:
    path, alpha = make_source(tmp_path, SyntheticClipSpec(width=64, height=112, frames=10, vfr=True, seed=5))
    source_times = frame_times(path)
    assert len(set(np.round(np.diff(source_times), 6))) > 1
    output = export(fmt, path, alpha, tmp_path)
    if fmt == "png":
        lines = (output / "timestamps.txt").read_text().splitlines()[1:]
        np.testing.assert_allclose([float(t) / 1000 for t in lines], source_times, atol=1e-6)
        return
    np.testing.assert_allclose(frame_times(output), source_times, atol=1e-3)
    assert video_duration(output) == pytest.approx(video_duration(path), abs=1e-3)


def test_rotated_source_is_written_upright(tmp_path: Path) -> None:
    path, alpha = make_source(tmp_path, SyntheticClipSpec(width=64, height=112, frames=4, rotation=90))
    output = export("prores", path, alpha, tmp_path)
    with av.open(str(output)) as container:
        frame = next(container.decode(video=0))
        assert (frame.width, frame.height, frame.rotation) == (64, 112, 0)
    assert np.abs(read_alpha(output).astype(int) - alpha).max() <= 1


def test_colour_tags_are_copied_and_colours_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "bt709.mp4"
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=12, options={"crf": "0"})
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv444p"
        for tag in ("color_primaries", "color_trc", "colorspace"):
            setattr(stream.codec_context, tag, 1)  # BT.709
        for index in range(3):
            rgb = np.repeat(np.repeat(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8), 16, 0), 16, 1)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.colorspace = 1
            frame = frame.reformat(format="yuv444p", dst_color_range=1)
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    assert probe(path).color == {"color_primaries": 1, "color_trc": 1, "colorspace": 1, "color_range": 1}
    output = export("prores", path, np.full((3, 64, 64), 255, np.uint8), tmp_path)
    with av.open(str(output)) as container:
        context = container.streams.video[0].codec_context
        assert (context.color_primaries, context.color_trc, context.colorspace) == (1, 1, 1)
    assert np.abs(decoded_rgb(output).astype(int) - source_rgb(path)).max() <= 3


@pytest.mark.parametrize("fmt", FORMATS)
def test_abort_leaves_nothing(source, tmp_path: Path, fmt: str) -> None:
    path, alpha = source
    writer = open_writer(fmt, probe(path), tmp_path, "clip", WriterSettings())
    with ClipReader(path, batch_size=4) as reader:
        batch = next(iter(reader))
    writer.write(batch, alpha[batch.index])
    writer.abort()
    assert list((tmp_path / "mattes").iterdir()) == []


def test_no_space_left_becomes_one_line_write_error(source, tmp_path: Path, monkeypatch) -> None:
    def full_disk(src: str, dst: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writers.os, "replace", full_disk)
    with pytest.raises(WriteError, match=r"^cannot write clip\.mov: no space left on device$"):
        export("prores", *source, tmp_path)
    assert list((tmp_path / "mattes").iterdir()) == []


def test_unknown_format_is_refused(source, tmp_path: Path) -> None:
    with pytest.raises(WriteError, match="unknown export format 'gif'"):
        open_writer("gif", probe(source[0]), tmp_path, "clip", WriterSettings())


@pytest.mark.parametrize("fmt", ["prores", "webm"])
def test_alpha_picture_converted_in_one_pass_equals_the_planes_copied(source, tmp_path: Path, fmt: str) -> None:
    """The fast path (source converted straight to the output format, alpha overwritten) changes no sample."""
    path, alpha = source
    writer = open_writer(fmt, probe(path), tmp_path, "clip", WriterSettings())
    try:
        with ClipReader(path, batch_size=4) as reader:
            batch = next(iter(reader))
        for i in range(len(batch.index)):
            fast = writer.picture(batch, i, alpha[i])
            copied = writers.filled_frame(writer.pix_fmt, fast.width, fast.height, writer.planes(batch, i, alpha[i]))
            assert fast.format.name == writer.pix_fmt
            for got, expected in zip(plane_arrays(fast), plane_arrays(copied), strict=True):
                assert np.array_equal(got, expected)
    finally:
        writer.abort()
