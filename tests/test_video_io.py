"""Probing and decoding source clips: timing, rotation, and damaged or non-video files."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from broken_files import garble_packets, write_audio_only, write_text_as_video
from pipelines.synthetic import TICKS_PER_FRAME, SyntheticClipSpec, frame_pts, make_clip, procedural_person
from pipelines.video_io import REORDER_WINDOW, ClipReader, VideoReadError, display_timestamps, probe

SMALL = SyntheticClipSpec(width=64, height=112, frames=12, fps=12)


def read_all(path: Path, batch_size: int = 5) -> tuple[list, ClipReader]:
    with ClipReader(path, batch_size=batch_size) as reader:
        return list(reader), reader


def synthetic(tmp_path: Path, name: str, spec: SyntheticClipSpec) -> tuple[Path, np.ndarray]:
    path = tmp_path / name
    return path, make_clip(path, [procedural_person(seed=spec.seed)], spec)


def test_probe_describes_the_clip(tmp_path: Path) -> None:
    path, _ = synthetic(tmp_path, "clip.mp4", SMALL)
    info = probe(path)
    assert (info.width, info.height, info.rotation) == (64, 112, 0)
    assert info.fps == 12 and info.frames == 12 and info.has_audio
    assert info.duration_s == pytest.approx(1.0)
    assert info.time_base == Fraction(1, 12 * TICKS_PER_FRAME)


def test_reader_yields_ordered_batches(tmp_path: Path) -> None:
    path, mattes = synthetic(tmp_path, "clip.mp4", SMALL)
    batches, _ = read_all(path)
    assert [len(b.index) for b in batches] == [5, 5, 2]
    assert all(b.rgb.shape[1:] == (112, 64, 3) and b.rgb.dtype == np.uint8 for b in batches)
    assert np.concatenate([b.index for b in batches]).tolist() == list(range(12))
    np.testing.assert_allclose(np.concatenate([b.times_s for b in batches]), np.arange(12) / 12)
    assert set(np.concatenate([b.durations for b in batches]).tolist()) == {TICKS_PER_FRAME}
    assert mattes.shape == (12, 112, 64)


def test_variable_frame_rate_timestamps_are_kept(tmp_path: Path) -> None:
    spec = SyntheticClipSpec(width=64, height=112, frames=12, fps=12, vfr=True, audio=False, seed=3)
    path, _ = synthetic(tmp_path, "vfr.mp4", spec)
    batches, _ = read_all(path)
    expected = frame_pts(spec)
    assert len(set(np.diff(expected).tolist())) > 1
    np.testing.assert_array_equal(np.concatenate([b.pts for b in batches]), expected)
    np.testing.assert_allclose(np.concatenate([b.times_s for b in batches]), expected / (12 * TICKS_PER_FRAME))
    np.testing.assert_array_equal(np.concatenate([b.durations for b in batches])[:-1], np.diff(expected))


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_clip_comes_out_upright(tmp_path: Path, rotation: int) -> None:
    upright_path, upright_mattes = synthetic(tmp_path, "upright.mp4", SMALL)
    rotated_path, rotated_mattes = synthetic(tmp_path, "rotated.mp4", dataclasses.replace(SMALL, rotation=rotation))
    with av.open(str(rotated_path)) as container:
        stored = container.streams.video[0]
        assert (stored.width, stored.height) == ((112, 64) if rotation % 180 else (64, 112))
    info = probe(rotated_path)
    assert (info.rotation, info.width, info.height) == (rotation, 64, 112)
    np.testing.assert_array_equal(rotated_mattes, upright_mattes)
    upright = np.concatenate([b.rgb for b in read_all(upright_path)[0]]).astype(int)
    rotated = np.concatenate([b.rgb for b in read_all(rotated_path)[0]]).astype(int)
    same = np.abs(rotated - upright).mean()  # compression noise only
    turned = np.abs(rotated - upright[:, ::-1, ::-1]).mean()  # had it come out upside down
    assert same < 6 and turned > 4 * same, (same, turned)


@pytest.mark.parametrize("rotation", [0, 90])
def test_each_view_of_a_batch_is_the_same_upright_picture(tmp_path: Path, rotation: int) -> None:
    """``frame_rgb``, ``scaled_rgb``, ``grey`` and ``planes`` come straight from the decoded YUV; they agree with ``rgb``."""
    path, _ = synthetic(tmp_path, "clip.mp4", dataclasses.replace(SMALL, rotation=rotation))
    batch = read_all(path)[0][0]
    one = batch.frame_rgb(3)  # converted alone, before the batch's rgb
    np.testing.assert_array_equal(one, batch.rgb[3])
    rgb = batch.rgb.astype(np.float32)
    assert batch.shape == rgb.shape[:3] == (5, 112, 64)
    small = batch.scaled_rgb(16, 28).astype(np.float32)
    assert small.shape == (5, 28, 16, 3)
    area = rgb.reshape(5, 28, 4, 16, 4, 3).mean(axis=(2, 4))  # a 4x4 box average of the full picture
    same, turned = np.abs(small - area).mean(), np.abs(small - area[:, ::-1, ::-1]).mean()
    assert same < 12 and turned > 2 * same, (same, turned)  # 4:2:0 chroma is scaled on its own grid
    grey = np.stack(batch.grey()).astype(np.float32)
    luma = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    assert np.corrcoef(grey.ravel(), luma.ravel())[0, 1] > 0.99  # video-range Y: an affine map of luma
    y, u, v = batch.planes(0, "yuv444p")
    assert y.shape == u.shape == v.shape == (112, 64)
    np.testing.assert_array_equal(y, batch.grey()[0])  # the same Y, 8 bits in, 8 bits out
    deep = batch.planes(0, "yuv444p10le")
    assert deep[0].dtype == np.uint16
    np.testing.assert_array_equal(deep[0], y.astype(np.uint16) * 4)


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("empty.mp4", lambda p: p.touch(), "zero-byte file"),
        ("notes.mp4", write_text_as_video, "not a video file"),
        ("missing.mp4", lambda p: None, "no such file or directory"),
        ("tone.m4a", write_audio_only, "no video stream"),
    ],
)
def test_unreadable_files_fail_with_one_line_naming_the_file(tmp_path: Path, name: str, make, reason: str) -> None:
    path = tmp_path / name
    make(path)
    with pytest.raises(VideoReadError) as raised:
        ClipReader(path)
    assert str(raised.value) == f"{name}: {reason}"


def test_corrupt_packets_mid_stream_are_skipped(tmp_path: Path) -> None:
    spec = SyntheticClipSpec(width=64, height=112, frames=24, fps=12, audio=False)
    path, _ = synthetic(tmp_path, "clip.mp4", spec)
    garble_packets(path, tmp_path / "damaged.mp4", {10, 11})
    batches, reader = read_all(tmp_path / "damaged.mp4")
    times = np.concatenate([b.times_s for b in batches])
    assert reader.skipped_packets >= 1
    assert len(times) + reader.skipped_packets == 24
    assert times[-1] == pytest.approx(23 / 12)  # decoding carried on to the end


def test_clip_without_a_decodable_frame_fails(tmp_path: Path) -> None:
    path, _ = synthetic(tmp_path, "clip.mp4", SMALL)
    garble_packets(path, tmp_path / "noise.mp4", None)
    with pytest.raises(VideoReadError, match=r"^noise\.mp4: no decodable video frame$"):
        read_all(tmp_path / "noise.mp4")


@dataclasses.dataclass
class StampedFrame:
    """A decoded frame as ``display_timestamps`` sees it: its pts (None: none) and which frame it is."""

    pts: int | None
    index: int = 0


def stamps(pts: list[int | None], frame_ticks: int = 10) -> tuple[list[int], list[int]]:
    timed = list(display_timestamps([StampedFrame(p, i) for i, p in enumerate(pts)], frame_ticks))
    return [t for t, _ in timed], [f.index for _, f in timed]


def test_frames_of_an_avi_with_packed_b_frames_get_their_display_times_in_order():
    """AVI stores no presentation times: a Xvid/DivX stream with B-frames decodes with pts in decode order."""
    decode_order = [1, 2, 4, 3, 5, 7, 6, 8, 10, 9, 11, 13, 12, 14]
    times, frames = stamps(decode_order)
    assert times == list(range(1, 15)) and frames == list(range(14)), "pictures keep their order, times are sorted"
    ordinary = [0, 5, 17, 18, 40]  # already increasing (variable frame rate): unchanged
    assert stamps(ordinary)[0] == ordinary


def test_frames_without_or_with_repeated_pts_still_get_increasing_times():
    assert stamps([None, None, 30, None])[0] == [0, 10, 30, 40], "no pts: one nominal frame after the previous one"
    assert stamps([0, 10, 10, 10, 50])[0] == [0, 10, 11, 12, 50], "a repeated pts: one tick after the previous one"
    late = [0] + list(range(100, 100 + REORDER_WINDOW + 1)) + [5]  # further out of order than the window reaches
    times = stamps(late)[0]
    assert len(times) == len(late) and all(b > a for a, b in zip(times, times[1:]))
