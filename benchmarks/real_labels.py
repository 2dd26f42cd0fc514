"""Label sampled frames of the real clips with the two teachers, and draw contact sheets of them.

    .venv/bin/python benchmarks/real_labels.py label --side train [--out build/real-labels]
    .venv/bin/python benchmarks/real_labels.py label --side check
    .venv/bin/python benchmarks/real_labels.py sheets --side check

Sides: ``train`` is the train side of ``data/splits/real-clips.csv`` (``train+check`` clips only);
``check`` is its check side plus every ``check-only`` clip of ``clips.csv`` (never trained on).
``--clips`` is a folder of clips with its ``clips.csv``: the shared real clips (the default) or
``data/stock-clips`` (licensed stock dance clips, committed with their provenance table).
Frames are sampled about every ``--every`` seconds, at most ``--max-frames`` a clip, spread over
the whole clip. The pose teacher runs on every frame (every n-th of a fast clip, so that about
``--pose-fps`` frames a second, and every sampled frame) so that it tracks the person from frame
to frame as MediaPipe does; ISNet runs on the sampled frames only. Per sampled frame, under ``OUT/<side>/``:

- ``images/<clip>_<frame>.jpg``: the decoded frame (frame index in decode order, as ``process`` numbers them);
- ``labels/<clip>_<frame>.png``: the label (``seg.labels``), 8-bit probability;
- ``teachers/<clip>_<frame>.isnet.png`` and ``.pose.png``: each teacher's probability, and
  ``meta/<clip>_<frame>.json``: agreement, pose box, pose flag, areas;
- ``clips/<clip>.json`` once a clip is complete (a rerun skips complete clips).

``sheets`` draws ``sheets/<clip>.png``: each sampled frame with the label in green, what ISNet
alone takes in magenta and the pose box in yellow, to accept or reject labels by eye.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from seg.labels import combine_teachers, label_mask, label_to_png
from seg.splits import REAL_CLIPS_SPLIT, files_on
from teachers import ISNet, PoseTracker, Roi

REAL_CLIPS = Path("../shared/data/real-clips")


@dataclass(frozen=True)
class ClipPlan:
    """Which frames of one clip are labelled, and on which the pose teacher runs."""

    sampled: tuple[int, ...]
    pose_stride: int


def clips_of_side(side: str, clips_dir: Path) -> list[str]:
    """Clip files of one side found in ``clips_dir`` (its ``clips.csv``): the split's side, plus the
    check-only clips on the check side."""
    with (clips_dir / "clips.csv").open(newline="") as handle:
        uses = {row["file"]: row["use"] for row in csv.DictReader(handle)}
    files = [name for name in files_on(side, REAL_CLIPS_SPLIT) if name in uses]
    return files + [name for name, use in uses.items() if use == "check-only"] if side == "check" else files


def frame_times(path: Path) -> list[float]:
    """Presentation time of every frame in decode order, from the packets alone (no decoding)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = [float(p.pts * p.time_base) for p in container.demux(stream) if p.size and p.pts is not None]
    return sorted(times)


def plan_clip(times: list[float], every: float, max_frames: int, pose_fps: float) -> ClipPlan:
    """Frames spread evenly over the clip, about ``every`` s apart, at most ``max_frames``."""
    if not times:
        return ClipPlan((), 1)
    start, span = times[0], max(times[-1] - times[0], 1e-6)
    spacing = max(every, span / max_frames)
    targets = start + spacing * (np.arange(int(span // spacing) + 1) + 0.5)
    targets = targets[targets <= times[-1]] if len(targets) > 1 else np.array([start + span / 2])
    stamps = np.asarray(times)
    sampled = sorted({int(np.argmin(np.abs(stamps - t))) for t in targets})
    fps = (len(times) - 1) / span if len(times) > 1 else pose_fps
    return ClipPlan(tuple(sampled), max(1, round(fps / pose_fps)))


def label_clip(path: Path, plan: ClipPlan, side_dir: Path, tracker: PoseTracker, isnet: ISNet) -> list[dict]:
    """Run both teachers over one clip and write the sampled frames' images, labels and metadata."""
    tracker.reset()
    wanted, rows = set(plan.sampled), []
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index > plan.sampled[-1]:
                break
            if index % plan.pose_stride and index not in wanted:
                continue
            rgb = frame.to_ndarray(format="rgb24")
            pose = tracker(rgb)
            if index not in wanted:
                continue
            salient = isnet(rgb)
            label = combine_teachers(salient, pose.mask, pose.inside)
            stem = f"{path.stem}_{index:05d}"
            cv2.imwrite(str(side_dir / "images" / f"{stem}.jpg"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
            cv2.imwrite(str(side_dir / "labels" / f"{stem}.png"), label_to_png(label.probability))
            cv2.imwrite(str(side_dir / "teachers" / f"{stem}.isnet.png"), label_to_png(salient))
            cv2.imwrite(str(side_dir / "teachers" / f"{stem}.pose.png"), label_to_png(pose.mask))
            row = {
                "clip": path.name, "frame": index, "time_s": frame.time, "width": rgb.shape[1], "height": rgb.shape[0],
                "agreement": label.agreement, "pose_presence": pose.presence, "pose_detected": pose.detected,
                "pose_box": None if pose.roi is None else [pose.roi.cx, pose.roi.cy, pose.roi.side, pose.roi.rotation],
                "label_area": float(label_mask(label_to_png(label.probability)).mean()),
                "isnet_area": float((salient > 0.5).mean()), "pose_area": float((pose.mask > 0.5).mean()),
                "isnet": isnet.variant,
            }
            (side_dir / "meta" / f"{stem}.json").write_text(json.dumps(row, indent=1))
            rows.append(row)
    return rows


def label_side(side: str, clips_dir: Path, out: Path, every: float, max_frames: int, pose_fps: float, variant: str) -> None:
    side_dir = out / side
    for folder in ("images", "labels", "teachers", "meta", "clips"):
        (side_dir / folder).mkdir(parents=True, exist_ok=True)
    tracker, isnet = PoseTracker(), ISNet(variant)
    files = clips_of_side(side, clips_dir)
    for number, name in enumerate(files, 1):
        done = side_dir / "clips" / f"{Path(name).stem}.json"
        if done.is_file():
            continue
        started = time.perf_counter()
        plan = plan_clip(frame_times(clips_dir / name), every, max_frames, pose_fps)
        rows = label_clip(clips_dir / name, plan, side_dir, tracker, isnet) if plan.sampled else []
        done.write_text(json.dumps({"clip": name, "frames": [r["frame"] for r in rows], "pose_stride": plan.pose_stride}))
        agreement = np.mean([r["agreement"] for r in rows]) if rows else float("nan")
        print(f"[{number}/{len(files)}] {name}: {len(rows)} frames, mean agreement {agreement:.2f}, "
              f"{time.perf_counter() - started:.0f} s", flush=True)
    print(f"{side}: {len(list((side_dir / 'labels').glob('*.png')))} labelled frames in {side_dir}")


def overlay(rgb: np.ndarray, label: np.ndarray, salient: np.ndarray, box: list[float] | None) -> np.ndarray:
    """The frame with the label in green, ISNet-only pixels in magenta and the pose box in yellow."""
    out = rgb.astype(np.float32)
    person, salient_only = label_mask(label), (salient >= 128) & ~label_mask(label)
    out[person] = out[person] * 0.45 + np.array([0, 255, 0]) * 0.55
    out[salient_only] = out[salient_only] * 0.55 + np.array([255, 0, 255]) * 0.45
    out = out.astype(np.uint8)
    if box is not None:
        cv2.polylines(out, [Roi(*box).corners().round().astype(np.int32)], True, (255, 255, 0), max(1, rgb.shape[0] // 200))
    return out


def draw_sheets(side: str, out: Path, tile_height: int = 220, columns: int = 4) -> None:
    side_dir = out / side
    (side_dir / "sheets").mkdir(exist_ok=True)
    for done in sorted((side_dir / "clips").glob("*.json")):
        record = json.loads(done.read_text())
        tiles = []
        for index in record["frames"]:
            stem = f"{done.stem}_{index:05d}"
            rgb = cv2.cvtColor(cv2.imread(str(side_dir / "images" / f"{stem}.jpg")), cv2.COLOR_BGR2RGB)
            label = cv2.imread(str(side_dir / "labels" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
            salient = cv2.imread(str(side_dir / "teachers" / f"{stem}.isnet.png"), cv2.IMREAD_GRAYSCALE)
            meta = json.loads((side_dir / "meta" / f"{stem}.json").read_text())
            tile = overlay(rgb, label, salient, meta["pose_box"])
            tile = cv2.resize(tile, (max(1, round(tile.shape[1] * tile_height / tile.shape[0])), tile_height), interpolation=cv2.INTER_AREA)
            text = f"{index} a={meta['agreement']:.2f}"
            cv2.putText(tile, text, (4, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3)
            cv2.putText(tile, text, (4, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1)
            tiles.append(tile)
        if not tiles:
            continue
        width = max(t.shape[1] for t in tiles)
        tiles = [np.pad(t, ((0, 0), (0, width - t.shape[1]), (0, 0))) for t in tiles]
        tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % columns)
        rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
        cv2.imwrite(str(side_dir / "sheets" / f"{done.stem}.png"), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))
    print(f"contact sheets in {side_dir / 'sheets'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    label = commands.add_parser("label", help="run the teachers over one side's clips")
    sheets = commands.add_parser("sheets", help="draw contact sheets of one side's labels")
    for command in (label, sheets):
        command.add_argument("--side", choices=("train", "check"), required=True)
        command.add_argument("--out", type=Path, default=Path("build/real-labels"))
    label.add_argument("--clips", type=Path, default=REAL_CLIPS)
    label.add_argument("--every", type=float, default=0.5, help="seconds between sampled frames")
    label.add_argument("--max-frames", type=int, default=12, help="sampled frames a clip at most")
    label.add_argument("--pose-fps", type=float, default=15.0, help="frames a second the pose teacher tracks (every frame of slower clips)")
    label.add_argument("--isnet", choices=("small", "medium"), default="medium")
    args = parser.parse_args()
    if args.command == "label":
        label_side(args.side, args.clips, args.out, args.every, args.max_frames, args.pose_fps, args.isnet)
    else:
        draw_sheets(args.side, args.out)


if __name__ == "__main__":
    main()
