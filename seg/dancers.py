"""Several people in one matte: separate them into tracked dancers and pick the main one.

Works on the low-resolution matte alone (network resolution, e.g. 144x256), in one pass, batch
by batch: ``DancerTracker`` keeps its state across the batches of a clip.

Separation. Each frame's silhouette (p > 0.5) is cut into 8-connected regions. Every live track
keeps its *whole body*: its mask from the last frame it had a region to itself and was seen whole,
and predicts where that body is now from its velocity. A track seen shrunk below ``steady_area``
of its body is partly missed (a gap in the matte where the network doubts the torso, something in
front): its body stays whole and is fitted to what is seen, as for a shared region below, so the
parts that come back in the next frames are where the track expects them. The velocity comes from
the centroid only between bodies of comparable size (a part lost or found is no motion).

- A region is the *home* of each track whose predicted body overlaps it more than any other region.
- A region that is one track's home goes to that track whole.
- A region that is home to several tracks (dancers touching, or one passing in front of another)
  is shared out. Each body is first moved to where it fits best inside the region, within
  ``search_frac`` of its prediction (a partly hidden dancer still fits whole: the hidden part lies
  under the other dancer); then each pixel goes to the fitted body it lies deepest inside (signed
  distance to the body's edge, from distance transforms). The fitted moves give the velocities,
  so dancers can pass through each other or hold each other for seconds and keep their ids; a
  hand reaching into the partner's body goes to the partner for those frames. A track given
  less than ``hidden_share`` of its body is hidden behind the others: it gets nothing and coasts
  on its velocity. A region the fitted bodies cover less than ``contact_cover`` of is no contact but
  one body they do not explain (someone fading in over a few small tracks in a dissolve, pieces of
  one dancer joining up): it goes whole to one of them (the main dancer, else the best score), and
  the others end, merged into it.
- The regions that are nobody's home, biggest first, join the nearest track: within ``join_frac``
  of the frame's long side of its predicted body or of its home region (a limb cut off by a matte
  gap, a dancer coming out from behind someone), or, for a region smaller than ``part_share`` of
  that track's body and at most twice what the track has lately lost (its most pixels seen within
  ``max_unseen_s`` less what it has in this frame so far), within ``part_reach`` of the body's
  length (a head or a hand the network lost for a few frames, back but apart from the body); else a
  region starts a new track when it covers at least ``min_area_frac`` of the frame (the smaller
  regions after it may join it); else it belongs to nobody. So someone small turning up beside a
  dancer who has lost nothing is someone else, but one turning up as the dancer loses a part of
  that size is taken for it, and stays with the dancer (see Limits). A track given a region
  to itself of at least ``reappear_share`` of its body leaves any region it shared (it has come
  out from behind someone).
- Soft edge pixels (p <= 0.5) within ``edge_px`` of a track's pixels are that track's (the higher id
  where two are that close); with one track and nothing left to nobody, the whole frame is its.
- A track unseen for ``max_unseen_s`` ends. Ids count up from 1 in order of appearance and are
  never reused: a dancer hidden longer than that comes back under a new id.

Cuts. At the first frame of a new shot (``cuts``, from ``pipelines.shots``) every track keeps
its id and score but loses its body: where it was says nothing about the new shot. Until a lost
track is seen again, the new shot's regions that nobody expected (and that are big enough to
start a track) are handed to the lost tracks, the biggest region to the main dancer, the next to
the highest score, and so on; a lost track not seen again within ``max_unseen_s`` ends. So a
dancer filmed from another angle keeps their id and the main matte goes on across the cut; with
several dancers the ids across a cut are a guess by size.

Limits: people who already touch when they first appear are one region, hence one track, and
stay one as they part (the new region overlaps that track's body). In contact, a body is the one
from before the contact, so a big change of shape meanwhile (a lift, a floor move) cuts the
shared region less well; the ids usually survive, the cut between the two is rougher.

Main dancer. Every frame each seen track gets a salience in [0, 1]:
``size_weight * area share of all tracked pixels + centre_weight * (1 - |2 x / width - 1|)``
(horizontal centroid: 1 mid-frame, 0 at the edges) ``+ motion_weight * motion / max(the most
moving track's motion, motion_floor)``, motion being ``|M_t xor M_t-1| / |M_t|`` of the track's
own mask (held while it shares a region). A track's score is its exponentially decayed
cumulative salience (half-life ``half_life_s``; unseen frames add 0), so continuity counts: a
dancer present all along has banked more than a newcomer, and a few frames of crouching or
spinning barely move it. During the first ``switch_after_s`` after anyone is tracked the main
dancer is the best score; after that another track takes over only once its score has beaten
the main one's by ``switch_margin`` (relative) for ``switch_after_s`` without a break, or at once
when the main track ends.

Person evidence. The network also calls some things "person" that are not (a statue, graffiti, a
fence panel); with ``evidence`` (``seg.person_evidence``: a person detector, and a face detector for
close-ups) the main dancer must be a person. Each track in view is checked when found and then every ``check_every_s``, or on every
frame while no track qualifies and the main matte is empty (at most ``max_checks`` tracks a frame, best
score first; at a cut every track is due again and loses its evidence): the detector looks at a crop around the track, and each person it finds goes to the track
under their torso (where the network missed the torso, to the track filling most of their body's
circle). Once the clip has had a person found, the choice above is made among the tracks found a
person within ``hold_s``. While no track is, the main dancer keeps its place if it has been found a
person since the last cut (a dancer the detector misses for a while, spinning or turned away); but
a main track found nobody on for ``hold_s`` while someone is found on another track has drifted
off its dancer (onto a spectator it touched) and gives way at once. With no candidate the main
matte is empty. A clip's start is like a cut: until a person is found the main matte is empty (a scene
without people, a statue), and a clip where none is ever found (a tiny or far-away figure, a view from
above) has none; with ``require_person`` off, every track may be the main dancer until then.
``person_confirmed`` tells on how much of the frames showing someone the main dancer was a person found.
Evidence is about a track, not its pixels: a track that is a person merged with clutter passes whole.
The other outputs are gated by the shot, not by the track: with evidence, the matte of everyone
(``--dancers all``) and each dancer's (``--dancers each``) stay empty until a person has been found on some
track since the last cut, so a scene without people, a statue or a mural shows nobody; once someone has been
found they show everything the network calls person, because the detector misses real dancers among others
(dark, smoke, a group in one crop) more often than it finds statues beside them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from seg.choices import DANCER_MODES
from seg.person_evidence import PersonEvidence

SILHOUETTE_THRESHOLD = 0.5


class UnknownDancersModeError(ValueError):
    """A ``--dancers`` mode that is not one of ``DANCER_MODES``."""

    def __init__(self, mode: str) -> None:
        super().__init__(f"unknown dancers mode {mode!r} (choose from {', '.join(DANCER_MODES)})")


@dataclass(frozen=True)
class TrackerSettings:
    """Separation, track life and main-dancer choice (see the module docstring)."""

    min_area_frac: float = 0.003  # least region area, as a fraction of the frame, that starts a track
    join_frac: float = 0.03  # a region this close to a track (fraction of the long side) joins it
    part_share: float = 0.25  # a region smaller than this share of a track's body may be a part of it...
    part_reach: float = 0.15  # ...when this close to it (fraction of the body's length)
    edge_px: int = 3  # soft edge pixels this close to a dancer's silhouette are the dancer's
    hidden_share: float = 0.15  # a track given less than this share of its body is hidden
    reappear_share: float = 0.5  # a track given a region of its own this large leaves any shared region
    max_unseen_s: float = 1.0  # a track unseen this long ends
    velocity_smoothing: float = 0.5  # weight of the previous velocity in each update
    steady_area: float = 0.7  # a body seen shrunk below this share of its whole body is partly missed (fitted, kept whole)
    search_frac: float = 0.04  # a shared body is fitted this far (fraction of the long side) around its prediction
    contact_cover: float = 0.5  # a shared region its fitted bodies cover less of is one body: they merge
    size_weight: float = 0.4
    centre_weight: float = 0.3
    motion_weight: float = 0.3
    motion_floor: float = 0.05  # motion below this counts as standing still
    half_life_s: float = 2.0  # of the cumulative main-dancer score
    switch_margin: float = 0.25  # a challenger must beat the main score by this fraction...
    switch_after_s: float = 1.0  # ...for this long
    min_seen_s: float = 0.5  # a track seen over at least this long counts in dancers_seen


@dataclass(frozen=True)
class DancerLayer:
    """A matte to write: ``key`` 0 is the clip's single matte (``main``, ``all``), else a dancer id (``each``)."""

    key: int
    dancer: np.ndarray  # (N,) int16 the dancer each frame shows, for the statistics
    matte: np.ndarray  # (N, h, w) float32


@dataclass(frozen=True)
class DancerBatch:
    """Who is where in one batch of frames."""

    owner: np.ndarray  # (N, h, w) int16 the dancer id of each pixel, 0 for nobody
    main: np.ndarray  # (N,) int16 the main dancer of each frame, 0 while nobody is tracked
    dancers: tuple[int, ...]  # every dancer id started so far in the clip (with evidence: once anyone was found a person)
    found: np.ndarray | None = None  # (N,) bool a person found on some dancer since the last cut; None: no evidence

    def shown(self, probs: np.ndarray) -> np.ndarray:
        """(N, h, w) ``probs`` on the frames that may show anyone: with evidence, once a person has been found in the shot."""
        return probs if self.found is None else probs * self.found[:, None, None]

    def matte(self, probs: np.ndarray, dancer: int) -> np.ndarray:
        """(N, h, w) ``probs`` on one dancer's pixels (on the frames that may show anyone), 0 elsewhere."""
        return self.shown(probs) * (self.owner == dancer)

    def main_matte(self, probs: np.ndarray) -> np.ndarray:
        """(N, h, w) ``probs`` on each frame's main dancer's pixels, 0 elsewhere."""
        main = self.main[:, None, None]
        return probs * ((self.owner == main) & (main > 0))

    def layers(self, probs: np.ndarray, mode: str) -> list[DancerLayer]:
        """The mattes ``--dancers mode`` writes: everyone, the main dancer, or each dancer."""
        if mode == "all":
            return [DancerLayer(0, np.zeros(len(probs), np.int16), self.shown(probs))]
        if mode == "main":
            return [DancerLayer(0, self.main, self.main_matte(probs))]
        if mode == "each":
            return [DancerLayer(d, np.full(len(probs), d, np.int16), self.matte(probs, d)) for d in self.dancers]
        raise UnknownDancersModeError(mode)


@dataclass(eq=False)
class _Track:
    """One dancer's state between frames."""

    id: int
    mask: np.ndarray  # (h, w) bool its whole body when last seen sharing no region
    centroid: np.ndarray  # (2,) x, y pixels of ``mask``
    mask_s: float  # when ``mask`` was seen
    first_seen_s: float
    last_seen_s: float  # last frame with any pixels
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # pixels per second
    moved: np.ndarray = field(default_factory=lambda: np.zeros(2))  # where ``mask`` was at last_seen_s, pixels
    motion: float = 0.0  # of the last frame it was seen alone
    score: float = 0.0
    lost: bool = False  # its body is from before a cut: it waits for a region of the new shot
    seen_px: list[tuple[float, int]] = field(default_factory=list)  # (time, pixels seen) over the last max_unseen_s
    checked_s: float | None = None  # when it was last checked for a person (PersonEvidence); None: due
    person_s: float | None = None  # when a check last found a person on it

    @property
    def area(self) -> int:
        """Pixels of its whole body."""
        return np.count_nonzero(self.mask)

    @property
    def length(self) -> int:
        """The long side of its whole body's bounding box, pixels."""
        return max(cv2.boundingRect(self.mask.view(np.uint8))[2:])

    def expected_shift(self, time_s: float) -> np.ndarray:
        """(2,) int how far ``mask`` should have moved by ``time_s``: as far as it coasted, then on its velocity."""
        return np.rint(self.moved + self.velocity * (time_s - self.last_seen_s)).astype(int)

    def predicted(self, time_s: float) -> np.ndarray:
        """Where the track should be at ``time_s``."""
        return shifted(self.mask, self.expected_shift(time_s))

    def fitted_shift(self, region: np.ndarray, time_s: float, search_px: int) -> np.ndarray:
        """(2,) int the shift near the expected one that puts most of ``mask`` inside ``region``.

        A dancer partly hidden behind another still fits whole: its hidden part lies under the other.
        Ties go to the shift nearest the expectation (a penalty of 10% of the body at ``search_px``)."""
        guess = self.expected_shift(time_s)
        x, y, width, height = cv2.boundingRect(self.mask.view(np.uint8))
        body = self.mask[y : y + height, x : x + width].astype(np.float32)
        window = crop(region.astype(np.float32), x + guess[0] - search_px, y + guess[1] - search_px,
                      width + 2 * search_px, height + 2 * search_px)
        inside = cv2.matchTemplate(window, body, cv2.TM_CCORR)
        offsets = np.arange(-search_px, search_px + 1) ** 2
        penalty = 0.1 * body.sum() * (offsets[:, None] + offsets[None, :]) / search_px**2
        dy, dx = np.unravel_index(np.argmax(inside - penalty), inside.shape)
        return guess + (dx - search_px, dy - search_px)


class DancerTracker:
    """Tracks the dancers of one clip; feed consecutive batches to ``update`` in order. With ``evidence``
    (and the pictures given to ``update``) the main dancer is a checked person (module docstring)."""

    def __init__(self, settings: TrackerSettings = TrackerSettings(), evidence: PersonEvidence | None = None) -> None:
        self.settings = settings
        self.evidence = evidence
        self._person_found = False  # a check has found a person in this clip
        self._found_in_shot = False  # ...since the last cut
        self._seen_frames = 0  # frames in which the matte showed someone so far
        self._confirmed_frames = 0  # ...of which the main dancer had been found a person since the last cut
        self._tracks: list[_Track] = []
        self._ended_seen_s: list[float] = []  # how long each ended track was seen
        self._next_id = 1
        self._main = 0
        self._first_s: float | None = None  # when anyone was first tracked
        self._ahead_since_s: float | None = None  # since when a challenger beats the main dancer
        self._last_s: float | None = None
        self._fitted: dict[int, np.ndarray] = {}  # where the body of each track sharing a region fitted now
        self._merged: dict[int, int] = {}  # track id -> the track it merged into in this frame

    @property
    def dancers_seen(self) -> int:
        """Tracks seen over at least ``min_seen_s`` so far."""
        spans = self._ended_seen_s + [t.last_seen_s - t.first_seen_s for t in self._tracks]
        return sum(span >= self.settings.min_seen_s for span in spans)

    @property
    def person_confirmed(self) -> float:
        """Share of the frames in which the matte showed someone whose main dancer had been found a person since the
        last cut: low when the main matte is left empty (or, with ``require_person`` off, may follow something that
        is not a person); NaN without ``evidence`` or before the matte showed anyone."""
        if self.evidence is None or not self._seen_frames:
            return float("nan")
        return self._confirmed_frames / self._seen_frames

    def update(
        self, probs: np.ndarray, times_s: np.ndarray, cuts: np.ndarray | None = None, pictures: np.ndarray | None = None
    ) -> DancerBatch:
        """Separate and track the dancers of (N, h, w) probabilities with their timestamps; ``cuts`` (N,)
        bool marks the frames that start a new shot; ``pictures`` (N, h, w, 3) uint8 RGB are the frames the
        probabilities come from, where ``evidence`` looks for people."""
        owner = np.zeros(probs.shape, np.int16)
        main = np.zeros(len(probs), np.int16)
        cuts = np.zeros(len(probs), bool) if cuts is None else np.asarray(cuts, bool)
        found = np.zeros(len(probs), bool)
        for i, (p, time_s) in enumerate(zip(probs, np.asarray(times_s, np.float64))):
            if cuts[i]:
                self._found_in_shot = False
                for track in self._tracks:
                    track.lost, track.checked_s, track.person_s = True, None, None  # a check of the new shot decides
            silhouette = p > SILHOUETTE_THRESHOLD
            hard = self._assign(silhouette, time_s)
            self._follow(hard, time_s)
            if self.evidence is not None and pictures is not None:
                self._check_people(pictures[i], hard, time_s)
            owner[i] = with_soft_edges(hard, silhouette, self.settings.edge_px)
            found[i] = self._found_in_shot
            main[i] = self._choose_main(time_s)
            self._count_confirmed(int(main[i]), bool(hard.any()))
            self._last_s = time_s
        if self.evidence is None:
            return DancerBatch(owner, main, tuple(range(1, self._next_id)))
        return DancerBatch(owner, main, tuple(range(1, self._next_id)) if self._person_found else (), found)

    def _assign(self, silhouette: np.ndarray, time_s: float) -> np.ndarray:
        """(h, w) int16 track id of each silhouette pixel, 0 for nobody; starts new tracks."""
        count, labels = cv2.connectedComponents(silhouette.view(np.uint8), connectivity=8, ltype=cv2.CV_16U)
        regions = [labels == region for region in range(1, count)]
        tracks = [track for track in self._tracks if not track.lost]
        predicted = [track.predicted(time_s) for track in tracks]
        homes: dict[int, list[_Track]] = {}  # region -> the tracks it is home to
        for track, mask in zip(tracks, predicted):
            overlap = [np.count_nonzero(region & mask) for region in regions]
            if overlap and max(overlap) > 0:
                homes.setdefault(int(np.argmax(overlap)), []).append(track)
        home_of = {track.id: r for r, members in homes.items() for track in members}
        anchors = [regions[home_of[t.id]] | mask if t.id in home_of else mask for t, mask in zip(tracks, predicted)]
        found = self._found_after_cut([r for r in range(len(regions)) if r not in homes], regions, time_s)
        areas = [np.count_nonzero(region) for region in regions]
        owner = np.zeros(silhouette.shape, np.int16)
        came_out = set()  # tracks given a region to themselves of at least reappear_share of their body
        given: dict[int, int] = {}  # pixels given to each track so far in this frame

        def give(r: int, track_id: int) -> None:
            owner[regions[r]] = track_id
            given[track_id] = given.get(track_id, 0) + areas[r]
            body_px = next((t.area for t in tracks if t.id == track_id), None)
            if body_px is not None and areas[r] >= self.settings.reappear_share * body_px:
                came_out.add(track_id)

        for r, members in homes.items():
            if len(members) == 1:
                give(r, members[0].id)
        for r, track_id in found.items():
            give(r, track_id)
        for r in sorted((r for r in range(len(regions)) if r not in homes and r not in found), key=lambda r: -areas[r]):
            give(r, self._orphan_owner(regions[r], tracks, anchors, time_s, given))  # biggest first: the parts join their body
        self._fitted, self._merged = {}, {}
        for r, members in homes.items():
            staying = [track for track in members if track.id not in came_out]
            if len(members) > 1:
                owner[regions[r]] = (
                    self._share(regions[r], staying, time_s)
                    if staying
                    else self._orphan_owner(regions[r], tracks, anchors, time_s)
                )
        for track_id, keeper in self._merged.items():
            owner[owner == track_id] = keeper
        return owner

    def _found_after_cut(self, orphans: list[int], regions: list[np.ndarray], time_s: float) -> dict[int, int]:
        """Region -> lost track id: the biggest regions nobody expected go to the tracks lost at a cut,
        main dancer first, then by score; each found track starts afresh on its region."""
        lost = sorted((t for t in self._tracks if t.lost), key=lambda t: (t.id != self._main, -t.score))
        areas = {r: np.count_nonzero(regions[r]) for r in orphans}
        big = [r for r in sorted(orphans, key=lambda r: -areas[r]) if areas[r] >= self.settings.min_area_frac * regions[r].size]
        found = {}
        for r, track in zip(big, lost):
            track.mask, track.centroid, track.mask_s = regions[r], centroid(regions[r], areas[r]), time_s
            track.velocity, track.moved, track.lost, track.seen_px = np.zeros(2), np.zeros(2), False, []
            found[r] = track.id
        return found

    def _share(self, region: np.ndarray, tracks: list[_Track], time_s: float) -> np.ndarray | int:
        """Track id of each pixel of a region home to ``tracks``: fit each body, the deepest one wins;
        or one id for the whole region when the fitted bodies cover too little of it (they merge)."""
        if len(tracks) == 1:
            return tracks[0].id
        for track in tracks:
            self._fitted[track.id] = track.fitted_shift(region, time_s, search_px(self.settings, region.shape))
        bodies = [shifted(t.mask, self._fitted[t.id]) for t in tracks]
        if np.count_nonzero(region & np.logical_or.reduce(bodies)) < self.settings.contact_cover * np.count_nonzero(region):
            keeper = min(tracks, key=lambda t: (t.id != self._main, -t.score))
            for track in tracks:
                del self._fitted[track.id]
                if track is not keeper:
                    self._merged[track.id] = keeper.id
            return keeper.id
        depth = np.stack([signed_distance(body)[region] for body in bodies])
        body_px = np.array([track.area for track in tracks])
        active = np.arange(len(tracks))
        while True:
            choice = depth[active].argmin(axis=0)
            share = np.bincount(choice, minlength=len(active)) / body_px[active]
            if len(active) == 1 or share.min() >= self.settings.hidden_share:
                break
            active = np.delete(active, share.argmin())  # hidden behind the others: coasts
        ids = np.array([track.id for track in tracks], np.int16)
        return ids[active][choice]

    def _orphan_owner(
        self, region: np.ndarray, tracks: list[_Track], anchors: list[np.ndarray], time_s: float, given: dict[int, int] | None = None
    ) -> int:
        """The track a region nobody expected joins: the nearest close one, else a new one, else none (0).

        ``anchors`` are where each track may be in this frame: its predicted body and its home region;
        ``given`` the pixels each track has been given so far in this frame. A new track is added to
        ``tracks`` and ``anchors``."""
        s = self.settings
        area = np.count_nonzero(region)
        if tracks:
            gap = cv2.distanceTransform((~region).view(np.uint8), cv2.DIST_L2, 3)
            distances = [gap[anchor].min() if anchor.any() else np.inf for anchor in anchors]
            nearest = int(np.argmin(distances))
            reach = s.join_frac * max(region.shape)
            track = tracks[nearest]
            missing = max(px for _, px in track.seen_px) - (given or {}).get(track.id, 0) if track.seen_px else 0
            if area < s.part_share * track.area and area <= 2 * missing:  # a part it lost lately, coming back
                reach = max(reach, s.part_reach * track.length)
            if distances[nearest] <= reach:
                return tracks[nearest].id
        if area < s.min_area_frac * region.size:
            return 0
        track = _Track(self._next_id, region, centroid(region, area), time_s, time_s, time_s)
        self._tracks.append(track)
        tracks.append(track)  # the smaller regions after this one may be its parts
        anchors.append(region)
        self._next_id += 1
        self._first_s = time_s if self._first_s is None else self._first_s
        return track.id

    def _follow(self, owner: np.ndarray, time_s: float) -> None:
        """Move the seen tracks to their new masks, score every track, end the long-unseen ones."""
        s = self.settings
        seen: list[tuple[_Track, int, float, float]] = []  # track, area, centroid x, motion
        for track in self._tracks:
            mask = owner == track.id
            area = np.count_nonzero(mask)
            if area == 0:
                continue
            position = centroid(mask, area)
            if track.id not in self._fitted and area < s.steady_area * track.area:  # partly missed: fit the whole body
                self._fitted[track.id] = track.fitted_shift(mask, time_s, search_px(s, owner.shape))
            if track.id in self._fitted:  # a cut body: keep the whole mask, moved where it fitted
                step_s = time_s - track.last_seen_s
                if step_s > 0:
                    step_velocity = (self._fitted[track.id] - track.moved) / step_s
                    track.velocity = s.velocity_smoothing * track.velocity + (1 - s.velocity_smoothing) * step_velocity
                track.moved = self._fitted[track.id].astype(float)
            else:
                step_s = time_s - track.mask_s
                if step_s > 0 and s.steady_area * area <= track.area:  # parts coming back are no motion
                    step_velocity = (position - track.centroid) / step_s
                    track.velocity = s.velocity_smoothing * track.velocity + (1 - s.velocity_smoothing) * step_velocity
                track.motion = np.count_nonzero(mask ^ track.mask) / area
                track.mask, track.centroid, track.mask_s, track.moved = mask, position, time_s, np.zeros(2)
            track.last_seen_s = time_s
            track.seen_px = [(t, px) for t, px in track.seen_px if time_s - t <= s.max_unseen_s] + [(time_s, area)]
            seen.append((track, area, position[0], track.motion))

        decay = 1.0 if self._last_s is None else 0.5 ** ((time_s - self._last_s) / s.half_life_s)
        for track in self._tracks:
            track.score *= decay
        if seen:
            total_area = sum(area for _, area, _, _ in seen)
            most_motion = max(s.motion_floor, *(motion for *_, motion in seen))
            width = owner.shape[1]
            for track, area, x, motion in seen:
                track.score += (
                    s.size_weight * area / total_area
                    + s.centre_weight * (1 - abs(2 * x / width - 1))
                    + s.motion_weight * min(motion / most_motion, 1.0)
                )

        ended = [t for t in self._tracks if time_s - t.last_seen_s > s.max_unseen_s or t.id in self._merged]
        self._ended_seen_s += [t.last_seen_s - t.first_seen_s for t in ended]
        self._tracks = [t for t in self._tracks if t not in ended]

    def _check_people(self, picture: np.ndarray, owner: np.ndarray, time_s: float) -> None:
        """Look for people around the tracks in view that are due (never checked since found, or not for
        ``check_every_s``; every frame while the gate leaves the main matte empty, as after a cut or a
        dissolve into a new shot), best score first, at most ``max_checks``; a person found on any track checks it."""
        s = self.evidence.settings
        every_s = 0.0 if not self._candidates(time_s) else s.check_every_s
        due = [t for t in self._tracks
               if t.last_seen_s == time_s and (t.checked_s is None or time_s - t.checked_s >= every_s)]
        for track in sorted(due, key=lambda t: -t.score)[: s.max_checks]:
            if track.checked_s == time_s:
                continue  # a person found around another track this frame lies on it
            track.checked_s = time_s
            found = self.evidence.people_on(picture, owner, track.id)
            for person in (t for t in self._tracks if t.id in found):
                person.checked_s, person.person_s, self._person_found, self._found_in_shot = time_s, time_s, True, True

    def _count_confirmed(self, main: int, anyone: bool) -> None:
        if anyone:
            self._seen_frames += 1
            self._confirmed_frames += main > 0 and any(t.id == main and t.person_s is not None for t in self._tracks)

    def _candidates(self, time_s: float) -> list[_Track]:
        """The tracks that may be the main dancer: those found a person within ``hold_s``; with none, the main
        dancer if it has been found a person since the last cut; none before a person has been found in the clip
        (all with ``require_person`` off)."""
        if self.evidence is None or not (self._person_found or self.evidence.settings.require_person):
            return self._tracks
        hold_s = self.evidence.settings.hold_s
        fresh = [t for t in self._tracks if t.person_s is not None and time_s - t.person_s <= hold_s]
        if fresh:
            return fresh
        return [t for t in self._tracks if t.id == self._main and t.person_s is not None]

    def _choose_main(self, time_s: float) -> int:
        """The main dancer at ``time_s``, with hysteresis (module docstring)."""
        s = self.settings
        candidates = self._candidates(time_s)
        if not candidates:
            self._main, self._ahead_since_s = 0, None
            return 0
        best = max(candidates, key=lambda t: t.score)
        current = next((t for t in candidates if t.id == self._main), None)
        warming_up = self._first_s is not None and time_s - self._first_s < s.switch_after_s
        if current is None or warming_up:
            self._main, self._ahead_since_s = best.id, None
        elif best is not current and best.score > (1 + s.switch_margin) * current.score:
            self._ahead_since_s = time_s if self._ahead_since_s is None else self._ahead_since_s
            if time_s - self._ahead_since_s >= s.switch_after_s:
                self._main, self._ahead_since_s = best.id, None
        else:
            self._ahead_since_s = None
        return self._main


def search_px(settings: TrackerSettings, shape: tuple[int, ...]) -> int:
    """How far around its prediction a body is fitted, pixels."""
    return max(1, round(settings.search_frac * max(shape)))


def shifted(mask: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``mask`` moved by whole pixels (dx, dy); what moves out of the frame is lost."""
    if not shift.any():
        return mask
    height, width = mask.shape
    move = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
    return cv2.warpAffine(mask.view(np.uint8), move, (width, height), flags=cv2.INTER_NEAREST).view(bool)


def crop(image: np.ndarray, x: int, y: int, width: int, height: int) -> np.ndarray:
    """``image[y : y + height, x : x + width]``, zero where that reaches outside the image."""
    out = np.zeros((height, width), image.dtype)
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + width, image.shape[1]), min(y + height, image.shape[0])
    if x0 < x1 and y0 < y1:
        out[y0 - y : y1 - y, x0 - x : x1 - x] = image[y0:y1, x0:x1]
    return out


def centroid(mask: np.ndarray, area: int) -> np.ndarray:
    """(2,) x, y centroid in pixels (pixel centres at +0.5) of a mask of ``area`` > 0 pixels."""
    pixels = mask.view(np.uint8)
    columns = cv2.reduce(pixels, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()
    rows = cv2.reduce(pixels, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()
    return np.array([columns @ np.arange(len(columns)), rows @ np.arange(len(rows))]) / area + 0.5


def signed_distance(mask: np.ndarray) -> np.ndarray:
    """Distance to ``mask`` outside it, minus the depth below its edge inside it (pixels, float32)."""
    outside = cv2.distanceTransform((~mask).view(np.uint8), cv2.DIST_L2, 3)
    inside = cv2.distanceTransform(mask.view(np.uint8), cv2.DIST_L2, 3)
    return outside - inside


def with_soft_edges(owner: np.ndarray, silhouette: np.ndarray, edge_px: int) -> np.ndarray:
    """``owner`` extended to the pixels outside the silhouette within ``edge_px`` of an owned pixel (the
    higher id where two dancers are that close); the whole frame when one track owns the whole
    silhouette (the usual single dancer: nothing to separate)."""
    owned = owner > 0
    if not owned.any():
        return owner
    top = owner.max()
    if np.count_nonzero(owned) == np.count_nonzero(silhouette) and owner[owned].min() == top:
        return np.full(owner.shape, top, np.int16)
    near = cv2.dilate(owner, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * edge_px + 1, 2 * edge_px + 1)))
    return np.where(silhouette, owner, near)
