"""Where the people are, from a detector trained on people: the evidence behind the main dancer.

The segmentation network also calls some things "person" that are not (graffiti, statues, a fence
panel, a ramp); a tracked region of those must never become the main dancer. MediaPipe's BlazePose
person detector (``weights/mediapipe-pose-detection``, Apache-2.0), run with ``ai-edge-litert``,
makes other mistakes. ``PersonEvidence`` runs it on a square crop around one tracked region (a
whole frame shrunk to the detector's 224 pixels loses people a region's crop shows) and gives each
person found to the region under their torso; ``seg.dancers`` lets only regions found a person be
the main dancer, and shows nobody in the other mattes before someone has been found in the shot.

The detector is an SSD over 2254 fixed anchors on a 224x224 letterboxed picture (MediaPipe's
``pose_detection_cpu.pbtxt``): per anchor a score logit and 12 numbers, a box and four keypoints
relative to the anchor's centre. Keypoint 0 is the hips' centre, keypoint 1 a point whose distance
from it is the radius of the circle around the whole body, keypoint 2 the shoulders' centre.
Overlapping candidates are merged by score-weighted non-maximum suppression.

A face close-up shows too little of the torso to place it (the detector puts it below the picture), so
``PeopleAndFaces`` also asks MediaPipe's BlazeFace (``weights/mediapipe-face-detection``, Apache-2.0, short
range: selfies and talking heads): the same kind of SSD, on 128x128 over 896 anchors, with six keypoints
(eyes, nose tip, mouth, ears). A face found stands for a person whose axis, the mouth to between the eyes,
takes the torso's place. Its threshold is higher than MediaPipe's 0.5: the faces of the shared real clips score
0.8-0.95, while murals, statues and rock faces of person-free photos reach 0.67.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.special import expit

WEIGHTS = Path(__file__).resolve().parent / "weights"
DETECTOR_PATH = WEIGHTS / "mediapipe-pose-detection" / "pose_detection.tflite"
DETECTOR_SIZE = 224
ANCHOR_STRIDES = (8, 16, 32, 32, 32)
FACE_DETECTOR_PATH = WEIGHTS / "mediapipe-face-detection" / "face_detection_short_range.tflite"
FACE_MIN_SCORE = 0.75  # see the module docstring
SCORE_CLIP = 100.0  # MediaPipe's score_clipping_thresh on the logits
HIPS, BODY_RADIUS, SHOULDERS = 0, 1, 2  # the detector's keypoints
RIGHT_EYE, LEFT_EYE, MOUTH = 0, 1, 3  # the face detector's keypoints
FACE_REACH = 1.5  # a face's circle: this many times the mouth-to-eyes distance
TORSO_SAMPLES = 33  # points checked along each detected torso, hips to shoulders
MIN_TORSO_IN_PICTURE = 4  # of those points (a close-up shows only the top of the torso)


class PersonDetectorError(RuntimeError):
    """The person or face detector cannot run: its model file or ``ai-edge-litert`` is missing."""


@dataclass(frozen=True)
class DetectorSettings:
    """What counts as a detected person."""

    min_score: float = 0.5  # MediaPipe's min_score_thresh for pose detection
    merge_iou: float = 0.3  # candidates overlapping the best one more than this are merged into it
    threads: int = 1


@dataclass(frozen=True)
class PersonDetections:
    """The people found in one picture, in its pixel coordinates (x right, y down)."""

    hips: np.ndarray  # (K, 2) float32 centre of the hips
    shoulders: np.ndarray  # (K, 2) float32 centre of the shoulders
    radius: np.ndarray  # (K,) float32 radius of the circle around the whole body, centred on the hips
    scores: np.ndarray  # (K,) float32 detector confidence

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def none(cls) -> PersonDetections:
        """Nobody found."""
        empty = np.zeros((0, 2), np.float32)
        return cls(empty, empty, np.zeros(0, np.float32), np.zeros(0, np.float32))

    @classmethod
    def joined(cls, *found: PersonDetections) -> PersonDetections:
        """The people of each in turn."""
        return cls(*(np.concatenate([getattr(f, name) for f in found]) for name in ("hips", "shoulders", "radius", "scores")))

    def moved(self, dx: float, dy: float) -> PersonDetections:
        """The same people with the picture's origin moved to (-dx, -dy): from a crop's pixels to the whole picture's."""
        shift = np.array([dx, dy], np.float32)
        return PersonDetections(self.hips + shift, self.shoulders + shift, self.radius, self.scores)


PeopleFinder = Callable[[np.ndarray], PersonDetections]  # the people in an (H, W, 3) uint8 RGB picture


@dataclass(frozen=True)
class SsdModel:
    """A MediaPipe SSD detector's file and how to read it."""

    name: str  # for messages
    path: Path
    size: int  # the square input's side
    strides: tuple[int, ...]  # of the anchor layers
    raw_output: str  # the (1, anchors, 4 + 2 * keypoints) boxes and keypoints
    logits_output: str  # the (1, anchors, 1) score logits


POSE_DETECTOR = SsdModel("person detector", DETECTOR_PATH, DETECTOR_SIZE, ANCHOR_STRIDES, "Identity", "Identity_1")
FACE_DETECTOR = SsdModel("face detector", FACE_DETECTOR_PATH, 128, (8, 16, 16, 16), "regressors", "classificators")


def ssd_anchor_centres(input_size: int = DETECTOR_SIZE, strides: tuple[int, ...] = ANCHOR_STRIDES) -> np.ndarray:
    """(anchors, 2) x, y anchor centres in [0, 1], 2254 for the person detector (MediaPipe's SsdAnchorsCalculator with fixed anchor size: two
    anchors per cell and layer, aspect ratio 1 and the interpolated scale; equal strides in a row share a grid)."""
    centres = []
    layer = 0
    while layer < len(strides):
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            last += 1
        per_cell = 2 * (last - layer)
        cells = int(np.ceil(input_size / strides[layer]))
        ys, xs = np.mgrid[0:cells, 0:cells]
        grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(grid, per_cell, axis=1).reshape(-1, 2))
        layer = last
    return np.concatenate(centres)


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (x0, y0, x1, y1) box with each row of ``boxes``."""
    x0, y0 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    x1, y1 = np.minimum(box[2], boxes[:, 2]), np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area - inter, 1e-12)


@dataclass(frozen=True)
class Letterbox:
    """How a picture sits in the detector's square input: scaled to fit, centred, zero padding."""

    scale: float
    pad_x: int
    pad_y: int

    @classmethod
    def fit(cls, height: int, width: int, size: int = DETECTOR_SIZE) -> Letterbox:
        """How a ``height`` x ``width`` picture fits a ``size`` square."""
        scale = size / max(height, width)
        return cls(scale, (size - round(width * scale)) // 2, (size - round(height * scale)) // 2)

    def tensor(self, rgb: np.ndarray, size: int = DETECTOR_SIZE) -> np.ndarray:
        """(1, size, size, 3) float32 in [-1, 1]: the picture letterboxed."""
        height, width = rgb.shape[:2]
        new_w, new_h = round(width * self.scale), round(height * self.scale)
        canvas = np.zeros((size, size, 3), np.uint8)
        canvas[self.pad_y : self.pad_y + new_h, self.pad_x : self.pad_x + new_w] = cv2.resize(
            rgb, (new_w, new_h), interpolation=cv2.INTER_AREA)
        return canvas.astype(np.float32)[None] / 127.5 - 1.0

    def to_picture(self, points: np.ndarray, size: int = DETECTOR_SIZE) -> np.ndarray:
        """Points in [0, 1] of the square input -> the picture's pixels."""
        return (points * size - [self.pad_x, self.pad_y]) / self.scale


def decode_detections(raw: np.ndarray, logits: np.ndarray, anchors: np.ndarray,
                      settings: DetectorSettings = DetectorSettings(), size: int = DETECTOR_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """An SSD's (anchors, 4 + 2 * n) ``raw`` outputs and (anchors,) ``logits`` -> ((K, n, 2) keypoints in [0, 1] of
    the ``size`` square input, (K,) scores), one row per detection after weighted non-maximum suppression (best first)."""
    scores = expit(np.clip(logits, -SCORE_CLIP, SCORE_CLIP))
    keep = scores >= settings.min_score
    raw, scores, anchors = raw[keep] / size, scores[keep], anchors[keep]
    centres = raw[:, :2] + anchors
    boxes = np.hstack([centres - raw[:, 2:4] / 2, centres + raw[:, 2:4] / 2])
    keypoints = (raw.shape[1] - 4) // 2
    points = raw[:, 4:].reshape(len(raw), keypoints, 2) + anchors[:, None]
    found, found_scores = [], []
    left = np.argsort(-scores)
    while len(left):
        merged = left[box_iou(boxes[left[0]], boxes[left]) > settings.merge_iou]
        weights = scores[merged] / scores[merged].sum()
        found.append(np.tensordot(weights, points[merged], axes=1))
        found_scores.append(scores[left[0]])
        left = left[~np.isin(left, merged)]
    return np.array(found, np.float32).reshape(-1, keypoints, 2), np.array(found_scores, np.float32)


class SsdDetector:
    """One of MediaPipe's SSD detectors run with ``ai-edge-litert`` on RGB pictures of any size (letterboxed)."""

    def __init__(self, model: SsdModel, settings: DetectorSettings) -> None:
        if not model.path.is_file():
            raise PersonDetectorError(f"{model.path}: the {model.name}'s model file is missing")
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise PersonDetectorError(f"the {model.name} needs ai-edge-litert (pip install ai-edge-litert)") from None
        self.model, self.settings = model, settings
        self._interpreter = Interpreter(model_path=str(model.path), num_threads=settings.threads)
        with native_stderr_silenced():  # LiteRT prints an INFO line as it makes its CPU (XNNPACK) delegate
            self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = {d["name"]: d["index"] for d in self._interpreter.get_output_details()}
        self._raw, self._logits = outputs[model.raw_output], outputs[model.logits_output]
        self._anchors = ssd_anchor_centres(model.size, model.strides)

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(K, n, 2) float32 keypoints in the (H, W, 3) uint8 picture's pixels and (K,) scores, best first."""
        size = self.model.size
        letterbox = Letterbox.fit(*rgb.shape[:2], size=size)
        self._interpreter.set_tensor(self._input, letterbox.tensor(rgb, size=size))
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._raw)[0]
        logits = self._interpreter.get_tensor(self._logits)[0, :, 0]
        keypoints, scores = decode_detections(raw, logits, self._anchors, self.settings, size)
        return letterbox.to_picture(keypoints, size=size).astype(np.float32), scores


class PersonDetector:
    """MediaPipe's BlazePose person detector on RGB pictures of any size; call it with one (H, W, 3) uint8 picture."""

    MODEL = POSE_DETECTOR
    SETTINGS = DetectorSettings()

    def __init__(self, settings: DetectorSettings | None = None, model_path: Path | None = None) -> None:
        self.settings = settings or self.SETTINGS
        self._detect = SsdDetector(dataclasses.replace(self.MODEL, path=model_path or self.MODEL.path), self.settings)

    def __call__(self, rgb: np.ndarray) -> PersonDetections:
        pixels, scores = self._detect(rgb)
        return self.people(pixels, scores) if len(scores) else PersonDetections.none()

    @staticmethod
    def people(pixels: np.ndarray, scores: np.ndarray) -> PersonDetections:
        """The detections' (K, 4, 2) keypoints in picture pixels as people."""
        radius = np.linalg.norm(pixels[:, BODY_RADIUS] - pixels[:, HIPS], axis=1)
        return PersonDetections(pixels[:, HIPS], pixels[:, SHOULDERS], radius.astype(np.float32), scores)


class FaceDetector(PersonDetector):
    """MediaPipe's BlazeFace (short range): people found by their faces, each face's axis, the mouth to between the
    eyes, standing for the torso (``PersonDetections.hips`` the mouth, ``shoulders`` between the eyes)."""

    MODEL = FACE_DETECTOR
    SETTINGS = DetectorSettings(min_score=FACE_MIN_SCORE)

    @staticmethod
    def people(pixels: np.ndarray, scores: np.ndarray) -> PersonDetections:
        """The detections' (K, 6, 2) keypoints in picture pixels as people."""
        mouth, eyes = pixels[:, MOUTH], (pixels[:, RIGHT_EYE] + pixels[:, LEFT_EYE]) / 2
        radius = FACE_REACH * np.linalg.norm(eyes - mouth, axis=1)
        return PersonDetections(mouth, eyes, radius.astype(np.float32), scores)


class PeopleAndFaces:
    """The people ``find_people`` finds in a picture by their bodies, then those ``find_faces`` finds by their faces."""

    def __init__(self, find_people: PeopleFinder, find_faces: PeopleFinder) -> None:
        self.find_people, self.find_faces = find_people, find_faces

    def __call__(self, rgb: np.ndarray) -> PersonDetections:
        return PersonDetections.joined(self.find_people(rgb), self.find_faces(rgb))


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 sent to /dev/null meanwhile: C++ libraries log there past ``sys.stderr``."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)



@dataclass(frozen=True)
class EvidenceSettings:
    """When a tracked dancer is checked for a person, and how long a positive check counts."""

    check_every_s: float = 0.33  # a track in view is checked again after this long
    max_checks: int = 3  # tracks checked in one frame at most, best main-dancer score first
    crop_margin: float = 1.4  # the detector sees a square this many times the long side of the track's box
    min_crop: float = 0.5  # ...and at least this share of the picture's long side (the rest of a body split apart)
    torso_reach: float = 0.05  # a torso point this close to the track (fraction of its box's long side) is on it
    hold_s: float = 2.0  # a track found a person counts as one this long (a spin, a turned back, motion blur)
    require_person: bool = True  # the main matte stays empty until a person is found (False: any track until then)


class PersonEvidence:
    """Finds which tracked regions are people: runs ``find_people`` on a square crop of the picture around one
    region and gives each person found to the region their torso (hips to shoulders) lies on."""

    def __init__(self, find_people: PeopleFinder, settings: EvidenceSettings = EvidenceSettings()) -> None:
        self.find_people = find_people
        self.settings = settings

    def people_on(self, picture: np.ndarray, owner: np.ndarray, track_id: int) -> set[int]:
        """The ids of (h, w) int16 ``owner`` (0: nobody) that people found around ``track_id`` lie on, in the
        (h, w, 3) ``picture``."""
        x, y, width, height = cv2.boundingRect((owner == track_id).view(np.uint8))
        if width == 0:
            return set()
        s = self.settings
        side = max(s.crop_margin * max(width, height), s.min_crop * max(owner.shape))
        x0, y0, x1, y1 = square_around(x + width / 2, y + height / 2, side, owner.shape)
        people = self.find_people(np.ascontiguousarray(picture[y0:y1, x0:x1])).moved(x0, y0)
        reach_px = max(1, round(s.torso_reach * max(width, height)))
        near = cv2.dilate(owner, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach_px + 1,) * 2))
        near = np.where(owner > 0, owner, near)  # each region reaches a little beyond its edge
        return {found for k in range(len(people)) if (found := person_owner(people, k, near))}


def square_around(cx: float, cy: float, side: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 of a ``side`` square centred on (cx, cy), clipped to a picture of ``shape`` (h, w, ...)."""
    height, width = shape[:2]
    x0, y0 = max(0, round(cx - side / 2)), max(0, round(cy - side / 2))
    return x0, y0, min(width, round(cx + side / 2)), min(height, round(cy + side / 2))


def person_owner(people: PersonDetections, k: int, owner: np.ndarray) -> int:
    """The id of (h, w) int ``owner`` that person ``k`` lies on, 0 for none: the id under most of the torso's
    points in the picture (at least ``MIN_TORSO_IN_PICTURE`` of them: a close-up's hips are below its edge);
    where most of the torso is on nobody (the network missed the shirt), the id with most pixels within
    the body's circle; where the torso is split between ids, none."""
    steps = np.linspace(0, 1, TORSO_SAMPLES)[:, None]
    points = np.rint(people.hips[k] + steps * (people.shoulders[k] - people.hips[k])).astype(int)
    height, width = owner.shape
    inside = (points[:, 0] >= 0) & (points[:, 0] < width) & (points[:, 1] >= 0) & (points[:, 1] < height)
    if inside.sum() < MIN_TORSO_IN_PICTURE:
        return 0
    under = owner[points[inside, 1], points[inside, 0]]
    ids, counts = np.unique(under, return_counts=True)
    top = int(np.argmax(counts))
    if 2 * counts[top] <= len(under):
        return 0
    if ids[top] != 0:
        return int(ids[top])
    body = np.zeros(owner.shape, np.uint8)
    cv2.circle(body, tuple(int(v) for v in np.rint(people.hips[k])), int(round(float(people.radius[k]))), 1, -1)
    inside_body = np.bincount(owner[body.view(bool)].astype(np.int64))
    return int(np.argmax(inside_body[1:]) + 1) if len(inside_body) > 1 and inside_body[1:].any() else 0
