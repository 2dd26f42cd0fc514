"""Real-footage check: real clips, person-free photos and CCP validation, scored in one run.

    .venv/bin/python benchmarks/real_footage.py [--model NAME_OR_PATH] [--baseline NAME_OR_PATH]

CCP validation alone did not see the false positives real footage shows (graffiti, statues,
ramps, crowds, caption text), so a change is judged on all three at once, never one paid for
unseen on another:

- **Real clips**: IoU on the accepted frames of ``benchmarks/real_footage_frames.csv`` (teacher
  labels of the check clips looked at on contact sheets and accepted as truth; ``real_labels.py``),
  per clip, for the model's matte of everyone (``seg.evaluate.predicted_mask``, as ``eval`` scores
  it) and for the default main-dancer matte that ``dancematte process --format png`` writes (each
  clip processed whole, so the tracker sees every frame; ``--dancers all``: the matte of everyone it writes
  with ``--dancers all``, gated by the person detector, instead). Groups: the six dance clips
  (``mimicmotion__*``, check-only), the other check-only clips, and the check side of the
  ``train+check`` split. The labels keep one tracked person, so frames with a second person in view
  are rejected on review. Accepted frames with nobody labelled (a robot, a fence, an empty street)
  are scored apart, by the share of the picture each matte calls person: IoU there would be 0 for
  a single pixel.
- **Person-free photos**: the check side of ``data/splits/no-people.csv``, whole and as 9:16 crops
  (``seg.metrics.portrait_windows``); every pixel the product's matte calls person is wrong. The everyone matte is
  scored on both; the default main-dancer matte (gated by the person detector) on the crops, each held still as a
  1-second clip and processed as a user would. The human-like photos (statues, reliefs, a painted face) are
  reported apart.
- **CCP validation**: IoU of the product's matte on the validation photos (stems divisible by 10).

With ``--baseline`` a second model is scored on the same frames and photos in the same run; ``--no-zoom``,
``--no-mirror`` (and ``--no-baseline-zoom``, ``--no-baseline-mirror``) score a matte without those passes,
``--frame-long-side N`` (``--baseline-frame-long-side``) with whole frames seen at long side N instead of the
model's own (``seg.segmenter.frame_long_side``). ``--captions SEED`` scores every check clip with a burned-in caption
(``seg.captions``: style, font and place drawn from the seed and the clip's name, the same on every frame; re-encoded
losslessly), the truth losing what an opaque box hides: what captions beside the dancer cost. ``--no-main`` leaves out the matte ``process`` writes, which needs every
clip processed whole (most of a run's time): about a minute instead of ten to fifteen.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import zlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from pipelines.processor import ClipProcessor, ProcessSettings
from seg.captions import FONTS, STYLES, draw_caption
from seg.data import is_validation
from seg.evaluate import evaluate, predicted_mask
from seg.labels import label_mask
from seg.metrics import iou, person_share, portrait_windows
from seg.models import DEFAULT_MODEL
from seg.person_evidence import PersonDetector
from seg.refine import MatteRefiner
from seg.segmenter import Segmenter, SegmenterSettings
from seg.splits import NO_PEOPLE_SPLIT, read_split
from seg.zoom import PersonZoom

FRAMES_TABLE = Path(__file__).with_name("real_footage_frames.csv")
GROUPS = ("dance (check-only)", "dance, stock clips (check side)", "other check-only", "train+check, check side")
COLUMN = 15  # width of a score column
CAPTIONED = ".captioned.mkv"  # suffix of a check clip with a burned-in caption (--captions)
STILL_FPS, STILL_FRAMES = 12, 12  # a person-free photo held still as a 1-second clip for process


@dataclass(frozen=True)
class ClipScore:
    clip: str
    group: str
    person: list[tuple[float, float]]  # per accepted frame with someone labelled: IoU of the everyone and main mattes
    nobody: list[tuple[float, float]]  # per accepted frame with nobody: share each matte calls person


def accepted_frames(table: Path) -> dict[str, list[int]]:
    """Clip file -> its accepted frame indices, from the reviewed frame table."""
    accepted: dict[str, list[int]] = defaultdict(list)
    with table.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["accepted"] == "yes":
                accepted[row["clip"]].append(int(row["frame"]))
    return dict(accepted)


def clip_group(clip: str, uses: dict[str, str]) -> str:
    if clip.startswith("mimicmotion__") and uses[clip] == "check-only":
        return GROUPS[0]
    if clip.startswith("pexels"):
        return GROUPS[1]
    return GROUPS[2] if uses[clip] == "check-only" else GROUPS[3]


def clip_folders(folders: list[Path]) -> tuple[dict[str, Path], dict[str, str]]:
    """Each clip's path and ``use`` from the ``clips.csv`` of every folder; a folder without one is skipped, said once."""
    paths, uses = {}, {}
    for folder in folders:
        if not (folder / "clips.csv").is_file():
            print(f"no clips.csv in {folder}: its clips are left out")
            continue
        with (folder / "clips.csv").open(newline="") as handle:
            for row in csv.DictReader(handle):
                paths[row["file"]], uses[row["file"]] = folder / row["file"], row["use"]
    return paths, uses


def decoded_frames(path: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    """The RGB frames of ``path`` at the given indices (decode order, as ``process`` numbers them)."""
    frames = {}
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                frames[index] = frame.to_ndarray(format="rgb24")
            if index >= max(wanted):
                break
    return frames


def product_mattes(segmenter: Segmenter, clip: Path, frames: list[int], scratch: Path, zoom: bool,
                   pose_split: bool = True, dancers: str = "main") -> dict[int, np.ndarray]:
    """The alpha ``process --format png --dancers DANCERS`` writes for the given frames, at half opacity."""
    processor = ClipProcessor(segmenter, ProcessSettings(formats=("png",), dancers=dancers, zoom=zoom, pose_split=pose_split,
                                                         timeout_s=None, max_duration_s=None))
    processor.process(clip, scratch, "clip", show_progress=False)
    mattes = {}
    for index in frames:
        rgba = cv2.imread(str(scratch / "mattes" / "clip_png" / f"{index:06d}.png"), cv2.IMREAD_UNCHANGED)
        mattes[index] = rgba[..., 3] >= 128
    shutil.rmtree(scratch)
    return mattes


def captioned_clip(clip: Path, out: Path, seed: int) -> tuple[Path, np.ndarray]:
    """``clip`` with one burned-in caption on every frame (style, font and place from ``seed`` and the clip's name),
    written losslessly (FFV1) to ``out``; and the pixels its box hides, if opaque (bool)."""
    key = [seed, zlib.crc32(clip.name.encode())]
    pick = np.random.default_rng(key)
    style, font = STYLES[int(pick.integers(len(STYLES)))], FONTS[int(pick.integers(len(FONTS)))]
    out.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(clip)) as source, av.open(str(out), "w") as target:
        rate = source.streams.video[0].average_rate or 25
        stream = target.add_stream("ffv1", rate=rate)
        stream.pix_fmt = "bgr0"
        for index, frame in enumerate(source.decode(video=0)):
            caption = draw_caption(frame.to_ndarray(format="rgb24"), np.random.default_rng(key), style, font)
            if index == 0:
                stream.height, stream.width = caption.image.shape[:2]
                hidden = caption.hidden
            target.mux(stream.encode(av.VideoFrame.from_ndarray(caption.image, format="rgb24")))
        target.mux(stream.encode())
    return out, hidden


def score_clip(segmenter: Segmenter, refiner: MatteRefiner, zoom: PersonZoom | None, clip: Path, frames: list[int],
               labels: Path, group: str, scratch: Path | None, dancers: str, hidden: np.ndarray | None = None) -> ClipScore:
    """IoU (or the share called person) of the everyone matte and, unless ``scratch`` is None, the one ``process
    --dancers DANCERS`` writes (else nan); ``hidden``: pixels a burned-in caption box hides, not person whatever the
    label says."""
    name = clip.name.removesuffix(CAPTIONED)  # the clip's own file name
    rgb = decoded_frames(clip, set(frames))
    main = product_mattes(segmenter, clip, frames, scratch, zoom is not None, dancers=dancers) if scratch else {}
    person, nobody = [], []
    for index in frames:
        truth = label_mask(cv2.imread(str(labels / f"{Path(name).stem}_{index:05d}.png"), cv2.IMREAD_GRAYSCALE))
        truth = truth if hidden is None else truth & ~hidden
        everyone = predicted_mask(rgb[index], segmenter, refiner, zoom)
        if truth.any():
            person.append((iou(everyone, truth), iou(main[index], truth) if main else np.nan))
        else:  # IoU would be 0 for a single pixel called person: the share called person says how much
            nobody.append((person_share(everyone), person_share(main[index]) if main else np.nan))
    return ClipScore(name, group, person, nobody)


@dataclass(frozen=True)
class PersonFreeScore:
    photo: str
    human_like: bool
    whole: float  # share of the whole photo called person
    crops: float  # mean share over its 9:16 crops
    product_crops: float  # mean share of the product's matte (--dancers) over its 9:16 crops held as still clips (nan: not scored)


def still_clip(rgb: np.ndarray, path: Path) -> Path:
    """``rgb`` held for ``STILL_FRAMES`` frames as an H.264 clip (cut to even sides): a scene filmed with nobody in it."""
    picture = np.ascontiguousarray(rgb[: rgb.shape[0] // 2 * 2, : rgb.shape[1] // 2 * 2])
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=STILL_FPS, options={"crf": "16"})
        stream.height, stream.width = picture.shape[:2]
        stream.pix_fmt = "yuv420p"
        for _ in range(STILL_FRAMES):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode())
    return path


def product_share_of_still(segmenter: Segmenter, rgb: np.ndarray, scratch: Path, zoom: bool, dancers: str = "main") -> float:
    """Mean share of the frames' pictures the product's matte (``process --dancers DANCERS``) covers on ``rgb`` held still."""
    scratch.mkdir(parents=True, exist_ok=True)
    clip = still_clip(rgb, scratch / "still.mp4")
    mattes = product_mattes(segmenter, clip, list(range(STILL_FRAMES)), scratch / "out", zoom, dancers=dancers)
    return float(np.mean([person_share(matte) for matte in mattes.values()]))


def score_person_free(segmenter: Segmenter, refiner: MatteRefiner, zoom: PersonZoom | None, photos: Path,
                      scratch: Path | None, dancers: str) -> list[PersonFreeScore]:
    """Shares called person on the check photos: the everyone matte whole and on 9:16 crops, and unless ``scratch``
    is None the product's matte (``process --dancers DANCERS``) on the crops held as still clips, as a user runs it."""
    scores = []
    for entry in read_split(NO_PEOPLE_SPLIT):
        if entry.side != "check":
            continue
        rgb = cv2.cvtColor(cv2.imread(str(photos / entry.file)), cv2.COLOR_BGR2RGB)
        whole = person_share(predicted_mask(rgb, segmenter, refiner, zoom))
        windows = [np.ascontiguousarray(rgb[window]) for window in portrait_windows(*rgb.shape[:2])]
        crops = [person_share(predicted_mask(window, segmenter, refiner, zoom)) for window in windows]
        main = [product_share_of_still(segmenter, window, scratch, zoom is not None, dancers) for window in windows] if scratch else [np.nan]
        scores.append(PersonFreeScore(entry.file, entry.human_like, whole, float(np.mean(crops)), float(np.mean(main))))
    return scores


@dataclass(frozen=True)
class ModelReport:
    clips: list[ClipScore]
    person_free: list[PersonFreeScore]
    ccp_iou: float


@dataclass(frozen=True)
class MatteMaker:
    """One scored column: a model and the product's passes around it."""

    model: str
    zoom: bool  # the closer look at small people (seg.zoom)
    mirror: bool  # each frame also seen mirrored (SegmenterSettings.mirror)
    frame_long_side: int | None = None  # whole frames at this long side; None: the model's own


def score_model(maker: MatteMaker, args: argparse.Namespace, accepted: dict[str, list[int]],
                paths: dict[str, Path], uses: dict[str, str]) -> ModelReport:
    model = maker.model
    segmenter = Segmenter(SegmenterSettings(model=model, mirror=maker.mirror, long_side=maker.frame_long_side))
    refiner = MatteRefiner()
    zoom = PersonZoom(segmenter, PersonDetector()) if maker.zoom else None
    clips = []
    for name, frames in sorted(accepted.items()):
        if name not in paths:
            print(f"  {name}: not in any --clips folder, left out", flush=True)
            continue
        clip, hidden = paths[name], None
        if args.captions is not None:
            clip, hidden = captioned_clip(clip, args.work / "captioned" / (clip.name + CAPTIONED), args.captions)
        clips.append(score_clip(segmenter, refiner, zoom, clip, sorted(frames), args.labels,
                                clip_group(name, uses), args.work / "scratch" if args.main else None, args.dancers, hidden))
        print(f"  {model}: {name} done", flush=True)
    person_free = score_person_free(segmenter, refiner, zoom, args.no_people / "photos", args.work / "stills" if args.main else None,
                                    args.dancers)
    ccp = evaluate(args.ccp / "images", args.ccp / "masks", segmenter, refiner, zoom=zoom, progress=False, only=is_validation)
    return ModelReport(clips, person_free, ccp.iou)


def means(rows: list[tuple[float, float]]) -> str:
    """Two columns: the mean of each score over the rows, blank when there are none."""
    if not rows:
        return " " * 2 * COLUMN
    return "".join(f"{value:{COLUMN}.3f}" for value in np.mean(rows, axis=0))


def clip_line(label: str, scores: list[list[ClipScore]]) -> str:
    """One row: per model the IoUs over frames with someone, then the shares called person over frames with nobody."""
    person = [sum((s.person for s in model), []) for model in scores]
    nobody = [sum((s.nobody for s in model), []) for model in scores]
    return (f"{label:52s}{len(person[0]):7d}" + "".join(means(rows) for rows in person)
            + f"{len(nobody[0]):8d}" + "".join(means(rows) for rows in nobody))


def print_reports(reports: dict[str, ModelReport], dancers: str) -> None:
    names = list(reports)
    pairs = "".join(f"{name[:8] + ':net':>{COLUMN}s}{name[:8] + ':' + dancers:>{COLUMN}s}" for name in names)
    print(f"\nreal clips, accepted teacher-labelled frames: IoU of the network's matte of everyone (net) and of what"
          f" process --dancers {dancers} writes ({dancers})\nwhere someone is labelled; share of the picture called person"
          f" where nobody is (0 is right)")
    print(f"{'clip':52s}{'frames':>7s}{pairs}{'nobody':>8s}{pairs}")
    for group in GROUPS:
        rows = [row for row in zip(*(reports[n].clips for n in names)) if row[0].group == group]
        if not rows:
            continue
        print(f"-- {group}")
        for row in rows:
            print(clip_line(row[0].clip, [[score] for score in row]))
        print(clip_line(f"   all frames of the {len(rows)} clips", [list(model) for model in zip(*rows)]))
    print(clip_line("all accepted frames", [reports[n].clips for n in names]))
    print(f"\nperson-free photos (check side): share called person, 0 is right (the network's matte of everyone, whole"
          f" photo and 9:16 crops;\n{dancers}: what process --dancers {dancers} writes on the 9:16 crops held still as"
          f" 1-second clips)\n{'photos':40s}{'count':>7s}"
          + "".join(f"{name + ' whole':>18s}{name + ' 9:16':>18s}{name + ' ' + dancers + ' 9:16':>18s}" for name in names))
    for label, human_like in (("ordinary", False), ("human-like (statues, reliefs, a face)", True)):
        chosen = {n: [s for s in reports[n].person_free if s.human_like == human_like] for n in names}
        cells = "".join(f"{np.mean([s.whole for s in chosen[n]]):18.4f}{np.mean([s.crops for s in chosen[n]]):18.4f}"
                        f"{np.mean([s.product_crops for s in chosen[n]]):18.4f}" for n in names)
        print(f"{label:40s}{len(chosen[names[0]]):7d}{cells}")
    for name in names:
        worst = sorted(reports[name].person_free, key=lambda s: -s.whole)[:5]
        print(f"  {name}, most called person: " + ", ".join(f"{s.photo} {s.whole:.3f}" for s in worst))
    print("\nCCP validation IoU (product matte): " + ", ".join(f"{n} {reports[n].ccp_iou:.4f}" for n in names))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--baseline", help="a second model scored on the same frames and photos")
    parser.add_argument("--zoom", action=argparse.BooleanOptionalAction, default=True,
                        help="the model's mattes with the closer look at small people (seg.zoom), as process makes them")
    parser.add_argument("--baseline-zoom", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=True,
                        help="each frame also seen mirrored, the two passes averaged (SegmenterSettings.mirror), as process does")
    parser.add_argument("--baseline-mirror", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--frame-long-side", type=int, help="whole frames seen at this long side (default: the model's own)")
    parser.add_argument("--baseline-frame-long-side", type=int)
    parser.add_argument("--main", action=argparse.BooleanOptionalAction, default=True,
                        help="also the product's matte as process writes it (each clip processed whole: most of a run's time)")
    parser.add_argument("--dancers", choices=("main", "all"), default="main",
                        help="which matte of process is scored beside the network's: the main dancer (default) or everyone")
    parser.add_argument("--captions", type=int, metavar="SEED",
                        help="score the check clips with a burned-in caption drawn from this seed (seg.captions)")
    parser.add_argument("--frames", type=Path, default=FRAMES_TABLE, help="the reviewed frame table")
    parser.add_argument("--labels", type=Path, default=Path("build/real-labels/check/labels"))
    parser.add_argument("--clips", type=Path, nargs="+", default=[Path("../shared/data/real-clips"), Path("data/stock-clips")],
                        help="folders of clips, each with its clips.csv")
    parser.add_argument("--no-people", type=Path, default=Path("../shared/data/no-people"))
    parser.add_argument("--ccp", type=Path, default=Path("../shared/data/ccp-person"))
    parser.add_argument("--work", type=Path, default=Path("build/real-footage"), help="scratch folder for process outputs")
    args = parser.parse_args()
    accepted = accepted_frames(args.frames)
    paths, uses = clip_folders(args.clips)
    makers = {"model": MatteMaker(args.model, args.zoom, args.mirror, args.frame_long_side)}
    if args.baseline:
        makers["baseline"] = MatteMaker(args.baseline, args.baseline_zoom, args.baseline_mirror, args.baseline_frame_long_side)
    reports = {name: score_model(maker, args, accepted, paths, uses) for name, maker in makers.items()}
    print_reports(reports, args.dancers)


if __name__ == "__main__":
    main()
