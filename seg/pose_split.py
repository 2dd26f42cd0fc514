"""The main dancer told apart from the people standing by, by skeletons.

``seg.dancers`` tracks regions of the matte; a dancer touching spectators is one region with them, so the main
matte took the spectators too, and as the dancer moves among them the regions swap people: the tracker's main track
can end on a spectator while the dancer goes on in another track. ``PoseSplit`` looks for skeletons (``seg.poses``)
on everyone's pixels, follows the dancer's skeleton by place and gives the main matte the dancer's pixels only.

- Looking. Every ``scan_every_s`` while nobody stands by, on every frame while someone does (and ``hold_s``
  after), on a crop around everyone the matte calls person (``margin`` of their box on each side): a crop keeps the
  model's six people to those in the matte and shows them bigger; a dancer alone in the frame is looked at as before,
  on a crop around them.
- Standing by. A skeleton stands on someone when at least ``on_share`` of its confident keypoints
  (``keypoint_min``) lie on the pixels the matte calls person (not the soft edges, nor the background the tracker
  gives a dancer alone in the frame). It is *still* when any look ``still_s`` to twice that ago found a skeleton at
  the same place (keypoints within ``still_share`` of its size, median): spectators stand, a dancer moves. It is
  *moving* when those looks found it nearby (centres within ``near_share`` of its size) but not at the same place;
  one those looks did not find nearby (the crop moved, the model missed it) is neither.
- The dancer. Found first as the most moving skeleton on the tracker's main dancer; then followed by place from look
  to look (the moving skeleton nearest where the dancer was, within ``near_share`` of their size, within
  ``hold_s``), whichever track of the tracker it lies on now. A still skeleton where the dancer was last seen is the
  dancer holding a pose (a freeze), also when the model missed them meanwhile (within ``missed_s``): someone who
  stops and is found again where they were lost is no bystander of their own. Once lost for longer than ``hold_s``
  and found nowhere near, the dancer is found again as at first, on the main track or on the dancer's tracks (see
  Pixels). Before any dancer has been seen in the shot, someone moving on another track is taken for the dancer
  only while the main track holds someone standing still in full view (the tracker chose a spectator) and nobody
  moving: a walker behind a talking head is not. The other
  still skeletons with a whole torso (both shoulders and hips: the model also finds a person's legs alone beside the
  whole person) are people standing by; those on the main matte's tracks are its bystanders.
- Among bystanders. Once a dancer has been seen moving in the shot, while people stand by on the main matte's tracks
  (the dancer found there, or missed), or next to the dancer found there (within ``near_share`` of a bystander's
  size, on whichever track: the tracker may have given half the dancer to a bystander's region), or on the dancer's
  connected pixels however far (a limb stretched to a bystander's feet, which the tracker gave to the bystander's
  region), or the main track is a spectator's, the main matte leaves the tracker's ids alone: it is everyone's pixels nearer the dancer's
  skeleton than any bystander's (the dancer missed: outside the bystanders' bodies), the connected parts touching the
  dancer's skeleton (missed: the last frame's main matte), grown by the pixels of the bystanders' bodies whose colour
  has changed from how they looked over the last ``backdrop_s`` (``Backdrop``: people standing by keep their
  colours, so a change there is the dancer in front of them; unless more than ``turned_share`` of a bystander's body
  outside those parts changed: they turned round). So it does not wait ``follow_after_s`` to leave a spectator's track, nor take the
  spectators merged into the dancer's, nor leave the dancer's limbs in front of a spectator to them.
  Where those parts are under ``rest_share`` of a bystander's pixels (slivers, or a find of a few keypoints that is
  no dancer), or the dancer is found elsewhere while the main track is no spectator's, the rule below holds.
- Pixels. The main matte is the tracker's main track, unless that track is a spectator (a look found someone
  standing by on it, not the dancer, and no look since found anyone moving on it) and the dancer has been on other
  tracks for ``follow_after_s``: then it is those tracks (under the dancer's skeleton when the look found it; else,
  between looks and while the model misses the dancer, those holding the last frame's main matte: the tracker's ids
  swap people in a crowd, the dancer's pixels move little from frame to frame), given the main track's id. Among
  walkers, or with a walker behind a talking head, it stays the tracker's choice. With the dancer's skeleton found,
  a pixel stays when it is at least as near to it as to every bystander's (skeletons drawn at the matte's
  resolution: bones, joints, the torso filled). With the dancer missed by the model (floor moves), the pixels
  outside the bystanders' bodies (their skeletons widened by ``reach_share`` of their size) stay, provided a dancer
  has been seen moving in the shot and they are at least ``rest_share`` of the body (else they are slivers round the
  bystanders, not a dancer); with nobody seen moving, nothing is cut (people standing together are not told apart).
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
    missed_s: float = 4.0  # a dancer the model has missed this long is no longer followed by their pixels, nor found in a freeze
    follow_after_s: float = 1.0  # the main matte leaves a spectator's track for the dancer's once they have been apart this long
    rest_share: float = 0.2  # with the dancer missed, less than this share of the pixels left is no dancer but slivers
    reach_share: float = 0.08
    backdrop_s: float = 1.0  # how long the backdrop (``Backdrop``) remembers how the picture looked
    change_level: float = 40.0  # RGB distance (0-255) from the backdrop that is someone in front of whoever stood there
    turned_share: float = 0.5  # a bystander more of whose body than this changed moved themselves (turned round): no dancer
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

    @property
    def whole_torso(self) -> bool:
        """Both shoulders and both hips found: a whole person (the model also finds a person's legs alone)."""
        return bool(self.confident[[*SHOULDERS, *HIPS]].all())

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
        self._scale = 1.0  # picture pixels per matte pixel
        self._kept: np.ndarray | None = None  # the main matte's body pixels on the last frame
        self._spectators: frozenset[int] = frozenset()  # tracks found someone standing by on since, and nobody moving
        self._apart_since_s: float | None = None  # since when the main track has been a spectator's, the dancer elsewhere
        self._waiting: np.ndarray | None = None  # meanwhile, the dancer's pixels on this frame (the matte not yet theirs)
        self._moved = False  # a dancer has been seen moving in this shot
        self._looked_s: float | None = None
        self._bystanders_s: float | None = None  # when a look last found someone standing by
        self._backdrop = Backdrop(settings.backdrop_s, settings.change_level)
        self._changed: np.ndarray | None = None  # on this look, the pixels that differ from the backdrop

    def __call__(self, dancers: DancerBatch, probs: np.ndarray, picture: Callable[[int], np.ndarray], times_s: np.ndarray,
                 cuts: np.ndarray | None = None) -> DancerBatch:
        """``dancers`` with each frame's main matte cut to the dancer's pixels (which may lie on tracks other than the
        tracker's main one: they are given its id); ``probs`` (N, h, w) are the matte ``dancers`` was tracked on,
        ``picture(i)`` gives frame i as (H, W, 3) uint8 RGB (any size: the matte's pixels are scaled to it)."""
        owner = dancers.owner.copy()
        for i, time_s in enumerate(np.asarray(times_s, np.float64)):
            if cuts is not None and cuts[i]:
                self._looks, self._dancer, self._moved, self._looked_s, self._bystanders_s = [], None, False, None, None
                self._kept, self._spectators, self._apart_since_s, self._waiting = None, frozenset(), None, None
                self._backdrop = Backdrop(self.settings.backdrop_s, self.settings.change_level)
            main = int(dancers.main[i])
            body = (owner[i] > 0) & (probs[i] > SILHOUETTE_THRESHOLD)  # everyone's pixels without the soft edges
            if main == 0 or not body.any():
                continue
            if self._due(time_s):
                self._looked_s = time_s
                frame = picture(i)
                small = cv2.resize(frame, owner[i].shape[::-1], interpolation=cv2.INTER_AREA).astype(np.float32)
                self._changed = self._backdrop.changed(small)
                keep = self._dancer_pixels(frame, owner[i], main, body, time_s)
                self._backdrop.remember(small, keep & body, time_s)
            else:
                keep = self._dancer_tracks(owner[i], body, main, time_s)  # between looks: the dancer's tracks, uncut
            self._kept = keep & body if self._waiting is None else self._waiting
            owner[i][(owner[i] == main) & ~keep] = 0
            owner[i][keep] = main
        return dataclasses.replace(dancers, owner=owner)

    def _due(self, time_s: float) -> bool:
        s = self.settings
        standing_by = self._bystanders_s is not None and time_s - self._bystanders_s <= s.hold_s
        return standing_by or self._looked_s is None or time_s - self._looked_s >= s.scan_every_s

    def _dancer_pixels(self, picture: np.ndarray, owner: np.ndarray, main: int, body: np.ndarray, time_s: float) -> np.ndarray:
        """(h, w) bool the main matte's pixels: those of the main track, or of the dancer's tracks when it is a spectator
        (``owner``: track ids with the soft edges and, alone in the frame, the background the tracker gives a dancer),
        that are not a bystander's; ``body`` is where the matte calls anyone person."""
        s = self.settings
        mine = owner == main
        scale = self._scale = picture.shape[1] / owner.shape[1]  # picture pixels per matte pixel
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
        home = self._dancer_ids(owner, body, time_s) | {main}
        dancer = self._choose_dancer(moving, still, home, owner, body, scale, time_s)
        standing_by = [tracks_under(k, owner, body, scale) for k in still if k is not dancer and k.whole_torso]
        movers = [tracks_under(k, owner, body, scale) for _, k in moving]
        self._spectators = (self._spectators.union(*standing_by).difference(*movers)
                            - self._dancer_ids(owner, body, time_s))
        tracks = self._dancer_tracks(owner, body, main, time_s)
        crowd = [k for k in still if k is not dancer and k.whole_torso]
        on_main = any(stands_on(k.keypoints[k.confident] / scale, body & tracks, s.on_share) for k in crowd)
        dancer_here = dancer is not None and stands_on(dancer.keypoints[dancer.confident] / scale, body & tracks, s.on_share)
        beside = dancer_here and any(k.near(dancer, s.near_share) for k in crowd)  # next to the dancer, on any track
        joined = self._joined(crowd, dancer, body, scale, time_s)
        if crowd and (dancer is not None or self._moved) and (beside or joined or main in self._spectators or (on_main and (dancer is None or dancer_here))):
            apart = self._apart_from(crowd, dancer, owner, body, scale, time_s)
            if apart is not None:
                self._bystanders_s, self._waiting = time_s, None
                return apart
        if dancer is not None and not stands_on(dancer.keypoints[dancer.confident] / scale, body & tracks, s.on_share):
            return tracks  # the dancer is elsewhere: the main matte is someone else's, nothing of theirs to keep apart
        bystanders = [k for k in still if k is not dancer and k.whole_torso
                      and stands_on(k.keypoints[k.confident] / scale, body & tracks, s.on_share)]
        if not bystanders or (dancer is None and not self._moved):
            return tracks  # nobody standing by, or nobody seen dancing in this shot (the main track then)
        self._bystanders_s = time_s
        near = [skeleton_distance(k, scale, owner.shape, s.bone_share) for k in bystanders]
        if dancer is not None:
            return tracks & (skeleton_distance(dancer, scale, owner.shape, s.bone_share) <= np.min(near, axis=0))
        bodies = np.min([d - s.reach_share * k.size / scale for d, k in zip(near, bystanders)], axis=0)
        rest = tracks & (bodies > 0)  # the dancer is on the pixels but the model missed them: what is not the bystanders'
        return rest if np.count_nonzero(rest & body) >= s.rest_share * np.count_nonzero(tracks & body) else tracks

    def _apart_from(self, crowd: list[Skeleton], dancer: Skeleton | None, owner: np.ndarray, body: np.ndarray,
                    scale: float, time_s: float) -> np.ndarray | None:
        """The dancer's pixels among people standing by, whichever tracks they are on: everyone's pixels nearer the
        dancer's skeleton than any bystander's (with the dancer missed, those outside the bystanders' bodies), the
        connected parts touching the dancer's skeleton (missed, for at most ``missed_s``: the last frame's main
        matte), grown by the changed pixels (``Backdrop``) of the bystanders who did not turn round. None when none
        does, or
        when they are under ``rest_share`` of a bystander's pixels (the mean): slivers round a bystander, or a find of
        a few keypoints that is no dancer."""
        s = self.settings
        near = [skeleton_distance(k, scale, owner.shape, s.bone_share) for k in crowd]
        if dancer is not None:
            own = skeleton_distance(dancer, scale, owner.shape, s.bone_share)
            free, anchor = own <= np.min(near, axis=0), own <= 1.0
        elif self._kept is not None and self._dancer is not None and time_s - self._dancer[0] <= s.missed_s:
            free = np.min([d - s.reach_share * k.size / scale for d, k in zip(near, crowd)], axis=0) > 0
            anchor = self._kept
        else:
            return None
        _, parts = cv2.connectedComponents((body & free).astype(np.uint8), connectivity=8)
        touched = np.setdiff1d(parts[anchor & body & free], [0])
        if not len(touched):
            return None
        keep = np.isin(parts, touched)
        if np.count_nonzero(keep) < s.rest_share * np.count_nonzero(body & ~free) / len(crowd):
            return None
        if self._changed is not None:  # the dancer in front of a bystander: it extends the dancer's parts, finds none
            changed = self._changed.copy()
            for d, k in zip(near, crowd):
                own = body & ~keep & (d <= s.reach_share * k.size / scale)
                if own.any() and changed[own].mean() > s.turned_share:
                    changed[own] = False  # they moved themselves
            free = free | changed
            _, parts = cv2.connectedComponents((body & free).astype(np.uint8), connectivity=8)
            keep = np.isin(parts, np.setdiff1d(parts[keep], [0]))
        rim = cv2.dilate(keep.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        return (owner > 0) & free & (keep | (rim & ~body))

    def _joined(self, crowd: list[Skeleton], dancer: Skeleton | None, body: np.ndarray, scale: float,
                time_s: float) -> bool:
        """Whether a bystander stands on the same connected pixels as the dancer (their skeleton; missed, for at most
        ``missed_s``, the last frame's main matte): one blob of everyone, however the tracker's regions cut it."""
        if dancer is not None:
            anchor = skeleton_distance(dancer, scale, body.shape, self.settings.bone_share) <= 1.0
        elif self._kept is not None and self._dancer is not None and time_s - self._dancer[0] <= self.settings.missed_s:
            anchor = self._kept
        else:
            return False
        _, parts = cv2.connectedComponents(body.astype(np.uint8), connectivity=8)
        blob = np.isin(parts, np.setdiff1d(parts[anchor & body], [0]))
        return any(stands_on(k.keypoints[k.confident] / scale, blob, self.settings.on_share) for k in crowd)

    def _dancer_ids(self, owner: np.ndarray, body: np.ndarray, time_s: float) -> frozenset[int]:
        """The dancer's tracks: under the dancer's skeleton when this look found it, else those holding the last frame's
        main matte (the tracker's ids swap people in a crowd, the dancer's pixels move little from frame to frame); none
        before a dancer has been seen in the shot."""
        if self._dancer is None:
            return frozenset()
        if self._dancer[0] == time_s:
            return tracks_under(self._dancer[1], owner, body, self._scale)
        return frozenset() if self._kept is None else holding(owner[body & self._kept])

    def _dancer_tracks(self, owner: np.ndarray, body: np.ndarray, main: int, time_s: float) -> np.ndarray:
        """(h, w) bool the pixels of the main track; of the dancer's tracks (``_dancer_ids``) instead once the dancer has
        been elsewhere for ``follow_after_s`` while the main track is a spectator (found someone standing by on, and
        nobody moving since): a moment's doubt about who is who does not flip the matte between people. Called once a
        frame, in order."""
        ids = self._dancer_ids(owner, body, time_s) if main in self._spectators else frozenset()
        self._waiting = None
        if not ids or main in ids:
            self._apart_since_s = None
            return owner == main
        self._apart_since_s = time_s if self._apart_since_s is None else self._apart_since_s
        dancer = np.isin(owner, list(ids))
        if time_s - self._apart_since_s >= self.settings.follow_after_s:
            return dancer
        self._waiting = dancer & body
        return owner == main

    def _choose_dancer(self, moving: list[tuple[float, Skeleton]], still: list[Skeleton], home: frozenset[int],
                       owner: np.ndarray, body: np.ndarray, scale: float, time_s: float) -> Skeleton | None:
        """The dancer: a moving skeleton near where the dancer was (followed by place, whichever track it is on), else
        the most moving one on ``home`` (the main track and the dancer's tracks), or anywhere when no
        dancer has been seen in the shot yet and ``home`` holds someone standing still in full view and nobody moving; a
        still one where the dancer was last seen, within ``missed_s`` (a freeze)."""
        s = self.settings
        seen = self._dancer[1] if self._dancer is not None and time_s - self._dancer[0] <= s.missed_s else None
        last = seen if self._dancer is not None and time_s - self._dancer[0] <= s.hold_s else None
        dancer = None
        if last is not None:
            near = [(float(np.linalg.norm(k.centre - last.centre)), k) for _, k in moving if last.near(k, s.near_share)]
            dancer = min(near, key=lambda dk: dk[0])[1] if near else None
        if dancer is None and seen is not None:
            dancer = min(still, key=seen.apart, default=None)
            if dancer is not None and seen.apart(dancer) > s.match_share:
                dancer = None
        if dancer is None and last is None:
            on_home = [(m, k) for m, k in moving if tracks_under(k, owner, body, scale) & home]
            if (not on_home and self._dancer is None
                    and any(k.whole_torso and tracks_under(k, owner, body, scale) & home for k in still)):
                on_home = moving  # the main track is someone standing still in full view: the one who moves dances
            dancer = max(on_home, key=lambda mk: mk[0])[1] if on_home else None
        if dancer is not None:
            self._moved = self._moved or any(dancer is k for _, k in moving)
            self._dancer = (time_s, dancer)
        return dancer


class Backdrop:
    """How the picture has looked over the last ``memory_s`` where the main matte was not, at the matte's size: people
    standing by keep their colours (they are still, the camera too, or they would not count as standing by), so where
    the picture now differs from it by more than ``level`` (RGB distance) someone is in front of them."""

    def __init__(self, memory_s: float, level: float) -> None:
        self.memory_s, self.level = memory_s, level
        self._picture: np.ndarray | None = None  # (h, w, 3) float32
        self._time_s = 0.0

    def changed(self, picture: np.ndarray) -> np.ndarray | None:
        """(h, w) bool where ``picture`` (h, w, 3) float32 differs, lone pixels left out (edges of a swaying person);
        None before anything is remembered."""
        if self._picture is None:
            return None
        far = (np.linalg.norm(picture - self._picture, axis=2) > self.level).astype(np.uint8)
        return cv2.morphologyEx(far, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0

    def remember(self, picture: np.ndarray, dancer: np.ndarray, time_s: float) -> None:
        """Blend ``picture`` in outside ``dancer`` (its pixels and their neighbours), weighted by the time since the
        last call."""
        if self._picture is None:
            self._picture, self._time_s = picture.copy(), time_s
            return
        weight = 1.0 - np.exp(-(time_s - self._time_s) / self.memory_s)
        self._time_s = time_s
        rest = cv2.dilate(dancer.astype(np.uint8), np.ones((3, 3), np.uint8)) == 0
        self._picture[rest] += weight * (picture[rest] - self._picture[rest])


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


def tracks_under(skeleton: Skeleton, owner: np.ndarray, body: np.ndarray, scale: float) -> frozenset[int]:
    """The tracks a skeleton (picture pixels, ``scale`` times the matte's) is on: those of ``owner`` holding the most of
    its confident keypoints that lie on ``body``, or at least a third of them; none when none lie on it."""
    xy = np.rint(skeleton.keypoints[skeleton.confident] / scale).astype(int)
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < owner.shape[1]) & (xy[:, 1] >= 0) & (xy[:, 1] < owner.shape[0])
    xy = xy[inside]
    return holding(owner[xy[:, 1], xy[:, 0]][body[xy[:, 1], xy[:, 0]]])


def holding(ids: np.ndarray) -> frozenset[int]:
    """The track ids that hold the most of some pixels (``ids``: the owner of each), or at least a third of them."""
    if not len(ids):
        return frozenset()
    values, counts = np.unique(ids, return_counts=True)
    return frozenset(int(v) for v, c in zip(values, counts) if c == counts.max() or c >= len(ids) / 3)


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
