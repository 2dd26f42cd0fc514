"""The main dancer told apart from the people standing by, by skeletons.

``seg.dancers`` tracks regions of the matte; a dancer touching spectators is one region with them, so the main
matte took the spectators too. ``PoseSplit`` looks for skeletons (``seg.poses``) on the main dancer's pixels and
gives the bystanders' pixels back to nobody.

- Looking. Every ``scan_every_s`` while nobody stands by, on every frame while someone does (and ``hold_s``
  after), on a crop around the main dancer's body (``margin`` of their box on each side): a crop keeps the
  model's six people to those near the dancer and shows them bigger.
- Standing by. A skeleton stands on the main dancer when at least ``on_share`` of its confident keypoints
  (``keypoint_min``) lie on the main dancer's body (its pixels the matte calls person: not the soft edges, nor the
  background the tracker gives a dancer alone in the frame). It is *still* when any look ``still_s`` to twice that ago
  found a skeleton at the same place (keypoints within ``still_share`` of its size, median): spectators stand, a
  dancer moves. It is *moving* when those looks found it nearby (centres within ``near_share`` of its size) but not
  at the same place; one those looks did not find nearby (the crop moved, the model missed it) is neither. No
  identities are kept: the model's people are matched by place only, which a dancer's fast
  moves do not confuse.
- The dancer. A moving skeleton on the main dancer; with several, the one nearest where the dancer was last
  seen (within ``hold_s``), else the one that moved most. A still skeleton where the dancer was last seen is the
  dancer holding a pose (a freeze). The other still ones with a whole torso (both shoulders and hips: the model
  also finds a person's legs alone beside the whole person) are bystanders.
- Pixels. With the dancer's skeleton found, a pixel stays the dancer's when it is at least as near to it as to
  every bystander's (skeletons drawn at the matte's resolution: bones, joints, the torso filled). With the
  dancer missed by the model (floor moves), the pixels outside the bystanders' bodies (their skeletons widened
  by ``reach_share`` of their size) stay,
  provided a dancer has been seen moving in the shot and they are at least ``rest_share`` of the main dancer's
  (else they are slivers round the bystanders, not a dancer); with nobody seen moving, nothing is cut (people
  standing together are not told apart).
- A cut (``pipelines.shots``) forgets what was seen.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from seg.dancers import SILHOUETTE_THRESHOLD, DancerBatch
from seg.poses import HIPS, LIMBS, SHOULDERS, PoseFinder, Poses


@dataclass(frozen=True)
class PoseSplitSettings:
    """When to look for skeletons and what counts as standing by (see the module docstring)."""

    scan_every_s: float = 0.2
    hold_s: float = 0.5
    margin: float = 0.15
    keypoint_min: float = 0.3
    min_keypoints: int = 5  # a skeleton with fewer confident keypoints says too little to split by
    same_share: float = 0.1  # two finds of one look whose shared keypoints are this near (share of size) are one person
    on_share: float = 0.3
    still_s: float = 0.4
    still_share: float = 0.1
    near_share: float = 1.0  # a skeleton of an earlier look this near (centres, share of size) may be the same person
    match_share: float = 0.15  # a still skeleton this near the dancer's last one (share of its size) is the dancer in a freeze
    rest_share: float = 0.2  # with the dancer missed, less than this share of the pixels left is no dancer but slivers
    reach_share: float = 0.08
    bone_share: float = 0.05  # bones are drawn this thick, as a share of the skeleton's size


@dataclass(frozen=True)
class Skeleton:
    """One person found by a look, in picture pixels."""

    keypoints: np.ndarray  # (17, 2) x, y
    confident: np.ndarray  # (17,) bool

    @property
    def centre(self) -> np.ndarray:
        return self.keypoints[self.confident].mean(axis=0)

    @property
    def size(self) -> float:
        """The long side of its confident keypoints' box, pixels."""
        return float(max(np.ptp(self.keypoints[self.confident], axis=0).max(), 1.0))

    def same_person(self, other: Skeleton, share: float) -> bool:
        """Whether the keypoints both are sure of (at least two) lie within ``share`` of the bigger one's size,
        or, with fewer in common, the centres do."""
        both = self.confident & other.confident
        size = max(self.size, other.size)
        if both.sum() >= 2:
            return float(np.linalg.norm(self.keypoints[both] - other.keypoints[both], axis=1).mean()) <= share * size
        return float(np.linalg.norm(self.centre - other.centre)) <= share * size

    def near(self, other: Skeleton, share: float) -> bool:
        """Whether the centres are within ``share`` of this skeleton's size."""
        return float(np.linalg.norm(self.centre - other.centre)) <= share * self.size

    def apart(self, other: Skeleton) -> float:
        """Median distance between the keypoints both are sure of, in this skeleton's sizes (a few keypoints the model
        puts on someone passing in front do not move a standing person); inf with fewer than 3."""
        both = self.confident & other.confident
        if both.sum() < 3:
            return float("inf")
        return float(np.median(np.linalg.norm(self.keypoints[both] - other.keypoints[both], axis=1))) / self.size


class PoseSplit:
    """Cuts each frame's main dancer down to the dancer's own pixels; one per clip, fed its batches in order."""

    def __init__(self, find_poses: PoseFinder | Callable[[np.ndarray], Poses], settings: PoseSplitSettings = PoseSplitSettings()) -> None:
        self.find_poses = find_poses
        self.settings = settings
        self._looks: list[tuple[float, list[Skeleton]]] = []  # the last 2 * still_s of looks
        self._dancer: tuple[float, Skeleton] | None = None  # when and how the dancer was last seen
        self._moved = False  # a dancer has been seen moving in this shot
        self._looked_s: float | None = None
        self._bystanders_s: float | None = None  # when a look last found someone standing by

    def __call__(self, dancers: DancerBatch, probs: np.ndarray, picture: Callable[[int], np.ndarray], times_s: np.ndarray,
                 cuts: np.ndarray | None = None) -> DancerBatch:
        """``dancers`` with each frame's main dancer cut to the dancer's pixels; ``probs`` (N, h, w) are the matte
        ``dancers`` was tracked on, ``picture(i)`` gives frame i as (H, W, 3) uint8 RGB (any size: the matte's pixels
        are scaled to it)."""
        owner = dancers.owner.copy()
        for i, time_s in enumerate(np.asarray(times_s, np.float64)):
            if cuts is not None and cuts[i]:
                self._looks, self._dancer, self._moved, self._looked_s, self._bystanders_s = [], None, False, None, None
            main = int(dancers.main[i])
            mine = owner[i] == main
            if main == 0 or not self._due(time_s):
                continue
            self._looked_s = time_s
            body = mine & (probs[i] > SILHOUETTE_THRESHOLD)  # the main dancer's pixels without its soft edges
            if not body.any():
                continue
            keep = self._dancer_pixels(picture(i), mine, body, time_s)
            owner[i][mine & ~keep] = 0
        return dataclasses.replace(dancers, owner=owner)

    def _due(self, time_s: float) -> bool:
        s = self.settings
        standing_by = self._bystanders_s is not None and time_s - self._bystanders_s <= s.hold_s
        return standing_by or self._looked_s is None or time_s - self._looked_s >= s.scan_every_s

    def _dancer_pixels(self, picture: np.ndarray, mine: np.ndarray, body: np.ndarray, time_s: float) -> np.ndarray:
        """(h, w) bool the main dancer's pixels ``mine`` (with the soft edges and, alone in the frame, the
        background the tracker gives it) that are not a bystander's; ``body`` is where the matte calls it person."""
        s = self.settings
        scale = picture.shape[1] / mine.shape[1]  # picture pixels per matte pixel
        x0, y0, x1, y1 = crop_around(body, scale, s.margin, picture.shape)
        found = skeletons(self.find_poses(picture[y0:y1, x0:x1]).transformed(1.0, x0, y0), s)
        past = [k for t, look in self._looks if s.still_s <= time_s - t <= 2 * s.still_s for k in look]
        self._looks = [(t, look) for t, look in self._looks if time_s - t < 2 * s.still_s] + [(time_s, found)]
        standing = [k for k in found if stands_on(k.keypoints[k.confident] / scale, body, s.on_share)]
        if not any(s.still_s <= time_s - t for t, _ in self._looks[:-1]):
            return mine  # too soon to tell who stands still
        moved = [min((k.apart(old) for old in past if k.near(old, s.near_share)), default=float("inf")) for k in standing]
        still = [k for k, m in zip(standing, moved) if m <= s.still_share]
        moving = [(m, k) for k, m in zip(standing, moved) if s.still_share < m < float("inf")]  # inf: not seen before
        dancer = self._choose_dancer(moving, still, time_s)
        bystanders = [k for k in still if k is not dancer and k.confident[[*SHOULDERS, *HIPS]].all()]
        if not bystanders or (dancer is None and not self._moved):
            return mine  # nobody standing by, or nobody seen dancing in this shot to keep apart from them
        self._bystanders_s = time_s
        near = [skeleton_distance(k, scale, mine.shape, s.bone_share) for k in bystanders]
        if dancer is not None:
            return mine & (skeleton_distance(dancer, scale, mine.shape, s.bone_share) <= np.min(near, axis=0))
        bodies = np.min([d - s.reach_share * k.size / scale for d, k in zip(near, bystanders)], axis=0)
        rest = mine & (bodies > 0)  # the dancer is on the pixels but the model missed them: what is not the bystanders'
        return rest if np.count_nonzero(rest & body) >= s.rest_share * np.count_nonzero(body) else mine

    def _choose_dancer(self, moving: list[tuple[float, Skeleton]], still: list[Skeleton], time_s: float) -> Skeleton | None:
        """The dancer: moving, near where the dancer was, else the most moving; a still one where the dancer was."""
        s = self.settings
        last = self._dancer[1] if self._dancer is not None and time_s - self._dancer[0] <= s.hold_s else None
        dancer = None
        if moving:
            self._moved = True
            dancer = (min(moving, key=lambda mk: float(np.linalg.norm(mk[1].centre - last.centre)))[1] if last is not None
                      else max(moving, key=lambda mk: mk[0])[1])
        elif last is not None:
            dancer = min(still, key=last.apart, default=None)
            if dancer is not None and last.apart(dancer) > s.match_share:
                dancer = None
        if dancer is not None:
            self._dancer = (time_s, dancer)
        return dancer


def skeletons(poses: Poses, settings: PoseSplitSettings) -> list[Skeleton]:
    """The people of a look with enough confident keypoints, best first. The model also finds parts of a person
    (the legs, the upper body) beside the whole: a find whose keypoints lie where a better one's are is the same
    person, and fills in the keypoints that one is not sure of."""
    kept: list[Skeleton] = []
    for k in np.argsort(-poses.scores):
        found = Skeleton(poses.keypoints[k], poses.confidence[k] >= settings.keypoint_min)
        if found.confident.sum() < settings.min_keypoints:
            continue
        same = next((i for i, other in enumerate(kept) if other.same_person(found, settings.same_share)), None)
        if same is None:
            kept.append(found)
        else:
            other, more = kept[same], found.confident & ~kept[same].confident
            kept[same] = Skeleton(np.where(more[:, None], found.keypoints, other.keypoints), other.confident | more)
    return kept


def crop_around(mask: np.ndarray, scale: float, margin: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 in picture pixels (``scale`` of the mask's) of the box around ``mask`` with ``margin`` of it
    added on each side, within the picture of ``shape``."""
    ys, xs = np.nonzero(mask)
    pad_x, pad_y = margin * (np.ptp(xs) + 1) * scale, margin * (np.ptp(ys) + 1) * scale
    return (max(0, int(xs.min() * scale - pad_x)), max(0, int(ys.min() * scale - pad_y)),
            min(shape[1], int((xs.max() + 1) * scale + pad_x)), min(shape[0], int((ys.max() + 1) * scale + pad_y)))


def stands_on(points: np.ndarray, mask: np.ndarray, share: float) -> bool:
    """Whether at least ``share`` of (K, 2) x, y ``points`` (mask pixels) lie on ``mask``."""
    xy = np.rint(points).astype(int)
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < mask.shape[1]) & (xy[:, 1] >= 0) & (xy[:, 1] < mask.shape[0])
    on = np.zeros(len(xy), bool)
    on[inside] = mask[xy[inside, 1], xy[inside, 0]]
    return len(xy) > 0 and on.mean() >= share


def skeleton_distance(skeleton: Skeleton, scale: float, shape: tuple[int, int], bone_share: float) -> np.ndarray:
    """(h, w) float32 distance in mask pixels (picture pixels / ``scale``) from each pixel to the skeleton drawn
    from its confident keypoints: bones, joints and the torso filled."""
    drawn = np.zeros(shape, np.uint8)
    points = np.rint(skeleton.keypoints / scale).astype(np.int32)
    confident = skeleton.confident
    thickness = max(1, round(bone_share * skeleton.size / scale))
    torso = [j for j in (SHOULDERS[0], SHOULDERS[1], HIPS[1], HIPS[0]) if confident[j]]
    if len(torso) >= 3:
        cv2.fillPoly(drawn, [points[torso]], 1)
    bones = [*LIMBS, SHOULDERS, HIPS, (SHOULDERS[0], HIPS[0]), (SHOULDERS[1], HIPS[1])]
    for a, b in bones:
        if confident[a] and confident[b]:
            cv2.line(drawn, tuple(map(int, points[a])), tuple(map(int, points[b])), 1, thickness)
    for j in np.flatnonzero(confident):
        cv2.circle(drawn, tuple(map(int, points[j])), thickness, 1, -1)
    return cv2.distanceTransform(1 - drawn, cv2.DIST_L2, 3)
