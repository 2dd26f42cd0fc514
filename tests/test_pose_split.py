"""Telling the main dancer from the people standing by: the split rule on made-up mattes with a stand-in pose
finder that returns stick figures, and the shipped MoveNet model on committed photos."""

from __future__ import annotations

import numpy as np
import pytest

from seg.composite import Placement, paste
from seg.dancers import DancerBatch
from seg.pose_split import Backdrop, PoseSplit, PoseSplitSettings, skeletons
from seg.poses import KEYPOINTS, PoseFinder, Poses

H, W = 128, 96  # the matte
SCALE = 2  # picture pixels per matte pixel
FPS = 25.0
BODY_H, BODY_W = 80, 20  # a person's box in matte pixels


def stick(x: float, top: float) -> np.ndarray:
    """(17, 2) COCO keypoints of an upright figure whose box (matte pixels) starts at x, top, in picture pixels."""
    cx, u = x + BODY_W / 2, BODY_H / 8
    head = [(cx, top + u / 2)] * 5
    arms = [(cx - 6, top + 1.5 * u), (cx + 6, top + 1.5 * u), (cx - 8, top + 3 * u), (cx + 8, top + 3 * u),
            (cx - 8, top + 4.2 * u), (cx + 8, top + 4.2 * u)]
    legs = [(cx - 4, top + 4.3 * u), (cx + 4, top + 4.3 * u), (cx - 5, top + 6 * u), (cx + 5, top + 6 * u),
            (cx - 5, top + 7.8 * u), (cx + 5, top + 7.8 * u)]
    return np.array(head + arms + legs, np.float32) * SCALE


def body(x: float, top: float) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[int(top) : int(top) + BODY_H, int(x) : int(x) + BODY_W] = True
    return mask


class StickFinder:
    """Stands in for ``PoseFinder``: the figures set for the next look (the crop is the whole picture, see ``finder``);
    a figure's NaN keypoints are not found."""

    def __init__(self) -> None:
        self.figures: list[np.ndarray] = []

    def __call__(self, rgb: np.ndarray) -> Poses:
        if not self.figures:
            return Poses.none()
        points = np.stack(self.figures)
        found = ~np.isnan(points).any(axis=-1)
        return Poses(np.nan_to_num(points), np.where(found, 0.9, 0.0).astype(np.float32), np.full(len(points), 0.8, np.float32))


def frames_with(finder: StickFinder, split: PoseSplit, people: list[tuple[float, float] | None], seen: list[bool],
                time_s: float, cut: bool = False, tracks: list[int] | None = None,
                figures: list[np.ndarray] | None = None, colours: list[tuple[int, int, int]] | None = None,
                owner: np.ndarray | None = None) -> np.ndarray:
    """One frame with ``people`` (box x, top; None: not there) on ``tracks`` (default: all merged into track 1; or the
    (H, W) ``owner`` given), track 1 the tracker's main dancer; ``seen`` says whom the finder finds (as whole figures,
    or the given ``figures``); the picture is black, or each person painted in their ``colours``, the later in front.
    Returns the main matte's pixels after the split."""
    picture = np.zeros((H, W, 3), np.uint8)
    for where, colour in zip(people, colours or []):
        if where is not None:
            picture[body(*where)] = colour
    picture = picture.repeat(SCALE, axis=0).repeat(SCALE, axis=1)
    if owner is None:
        owner = np.zeros((H, W), np.int16)
        for where, track in zip(people, tracks or [1] * len(people)):
            if where is not None:
                owner[body(*where)] = track
    owner = owner[None]
    finder.figures = [stick(*where) for where, found in zip(people, seen) if where is not None and found] + (figures or [])
    batch = DancerBatch(owner, np.ones(1, np.int16), (1,))
    out = split(batch, (owner > 0).astype(np.float32), lambda i: picture, np.array([time_s]), np.array([cut]))
    return out.owner[0] == 1


@pytest.fixture
def finder(monkeypatch) -> StickFinder:
    """The stand-in finder, with the crop fixed to the whole picture so the figures keep their coordinates."""
    import seg.pose_split as pose_split

    monkeypatch.setattr(pose_split, "crop_around", lambda mask, scale, margin, shape: (0, 0, shape[1], shape[0]))
    return StickFinder()


def dancer_at(i: int) -> tuple[float, float]:
    """Where the dancer of ``dance_beside`` is on frame ``i``: stepping to and fro beside the bystander."""
    return 38 + 14 * abs(np.sin(i / 4)), 30 + 6 * np.sin(i / 3)


def dance_beside(finder: StickFinder, split: PoseSplit, frames: int, dancer_seen=lambda i: True) -> list[np.ndarray]:
    """A bystander standing at x=20 and a dancer stepping to and fro beside them, touching: one region."""
    return [frames_with(finder, split, [(20, 30), dancer_at(i)], [True, dancer_seen(i)], i / FPS) for i in range(frames)]


def test_a_bystander_leaves_the_main_matte_once_seen_still_while_the_dancer_moves(finder):
    split = PoseSplit(finder)
    kept = dance_beside(finder, split, 40)
    bystander = body(20, 30)
    assert kept[0][bystander].all()  # too soon to tell who stands still: nothing cut
    last = kept[-1]
    dancer = body(*dancer_at(39))
    only_bystander = bystander & ~dancer
    assert last[only_bystander].mean() < 0.2  # at most the edge the two bodies share
    assert last[dancer].mean() > 0.9


def test_a_dancer_the_model_misses_keeps_what_is_not_the_bystander_s(finder):
    split = PoseSplit(finder)
    kept = dance_beside(finder, split, 40, dancer_seen=lambda i: i < 25)  # floor moves from frame 25: not found
    last = kept[-1]
    bystander = body(20, 30)
    dancer = body(*dancer_at(39)) & ~bystander
    assert last[bystander].mean() < 0.2
    assert last[dancer].mean() > 0.7  # the bystander's body reaches a little beyond their skeleton


def test_the_backdrop_learns_the_picture_but_not_the_dancer():
    backdrop = Backdrop(memory_s=1.0, level=40.0)
    grey = np.full((20, 20, 3), 100, np.float32)
    nobody = np.zeros((20, 20), bool)
    assert backdrop.changed(grey) is None
    backdrop.remember(grey, nobody, 0.0)
    now, patch = grey.copy(), np.zeros((20, 20), bool)
    patch[5:10, 5:10] = True
    now[patch] = 200
    now[15, 15] = 200  # a lone pixel: an edge, noise
    assert (backdrop.changed(now) == patch).all()
    backdrop.remember(now, patch, 10.0)  # long after, the patch the dancer's
    assert (backdrop.changed(now) == patch).all()
    backdrop.remember(now, nobody, 20.0)
    assert not backdrop.changed(now).any()


def test_a_missed_dancer_in_front_of_a_bystander_keeps_the_pixels_in_front(finder):
    """The dancer, missed by the model (floor moves), moves in front of someone standing by: where the bystander's
    colours gave way to the dancer's, the pixels are the dancer's, though they lie within the bystander's body."""
    split = PoseSplit(finder)
    colours = [(200, 60, 60), (60, 200, 60)]  # the bystander, the dancer in front
    for i in range(30):
        frames_with(finder, split, [(20, 30), dancer_at(i)], [True, True], i / FPS, colours=colours)
    for i in range(30, 45):
        dancer = (35 + 1 * np.sin(i / 3), 30)  # over a quarter of the bystander (x 20 to 40)
        kept = frames_with(finder, split, [(20, 30), dancer], [True, False], i / FPS, colours=colours)
    in_front, bystander = body(*dancer) & body(20, 30), body(20, 30) & ~body(*dancer)
    assert kept[in_front].mean() > 0.9
    assert kept[bystander].mean() < 0.2


@pytest.mark.parametrize("turned_share", [PoseSplitSettings().turned_share, 1.0])
def test_a_bystander_who_turns_round_beside_a_missed_dancer_stays_out_of_the_main_matte(finder, turned_share):
    """Someone standing by turns round (all their colours change) while the dancer, missed, dances beside them: their
    pixels changed, but not because the dancer is in front of them. (With ``turned_share`` 1.0 the rule is off and
    they join the main matte: the test can fail.)"""
    split = PoseSplit(finder, PoseSplitSettings(turned_share=turned_share))
    for i in range(30):
        frames_with(finder, split, [(20, 30), dancer_at(i)], [True, True], i / FPS, colours=[(200, 60, 60), (60, 200, 60)])
    for i in range(30, 45):
        kept = frames_with(finder, split, [(20, 30), dancer_at(i)], [True, False], i / FPS, colours=[(60, 60, 200), (60, 200, 60)])
    bystander = body(20, 30) & ~body(*dancer_at(44))
    assert (kept[bystander].mean() < 0.2) == (turned_share < 1.0)


def test_where_the_tracker_gave_half_the_dancer_to_a_bystander_s_region_the_main_matte_keeps_it(finder):
    """The dancer's legs are the tracker's main track (1), their upper body one region (2) with the bystander they
    touch, whom the model finds standing by: the main matte is the dancer's whole body, not the main track."""
    split = PoseSplit(finder)
    for i in range(40):
        dancer = dancer_at(i)
        owner = np.where(body(20, 30) | body(*dancer), 2, 0).astype(np.int16)
        owner[int(dancer[1]) + BODY_H // 2 :][body(*dancer)[int(dancer[1]) + BODY_H // 2 :]] = 1
        kept = frames_with(finder, split, [(20, 30), dancer], [True, True], i / FPS, owner=owner)
    upper = body(*dancer) & ~body(20, 30)
    upper[int(dancer[1]) + BODY_H // 2 :] = False
    assert kept[upper].mean() > 0.9
    assert kept[body(20, 30) & ~body(*dancer)].mean() < 0.2


def test_a_dancer_joined_to_a_bystander_far_off_keeps_what_the_tracker_gave_the_bystander(finder):
    """The dancer (main track 1) stretches a leg along the floor to the feet of a bystander standing well away (their
    centres further apart than the bystander's size), and the tracker gives the leg to the bystander's region (2): one
    blob of everyone, so the leg's pixels nearer the dancer stay the dancer's."""
    split = PoseSplit(finder)
    leg = np.zeros((H, W), bool)
    leg[100:108, 20:76] = True
    for i in range(40):
        dancer = (76, 24 + 14 * abs(np.sin(i / 4)))
        owner = np.where(body(0, 30) | leg, 2, 0).astype(np.int16)
        owner[body(*dancer)] = 1
        kept = frames_with(finder, split, [(0, 30), dancer], [True, True], i / FPS, owner=owner)
    near_dancer = leg.copy()
    near_dancer[:, :56] = False
    assert kept[near_dancer].mean() > 0.9
    assert kept[body(*dancer)].mean() > 0.9
    assert kept[body(0, 30)].mean() < 0.1


def test_the_main_matte_follows_the_dancer_when_the_tracker_s_main_track_keeps_a_bystander(finder):
    """In a crowd the tracker's regions swap people: its main track (1) ends on the bystander, the dancer on track 2."""
    split = PoseSplit(finder)
    dance_beside(finder, split, 30)
    for i in range(30, 60):
        kept = frames_with(finder, split, [(20, 30), dancer_at(i)], [True, True], i / FPS, tracks=[1, 2])
    dancer, bystander = body(*dancer_at(59)), body(20, 30)
    assert kept[dancer & ~bystander].mean() > 0.9
    assert kept[bystander & ~dancer].mean() < 0.2


def test_the_main_matte_stays_on_the_dancer_when_the_tracker_s_main_track_swaps_onto_a_bystander(finder):
    """Once someone has been seen standing by and the dancer moving, the main matte follows the dancer's skeleton, not
    the tracker's ids: when the main track (1) swaps onto the bystander it does not flip, not even for a few frames."""
    split = PoseSplit(finder)
    dance_beside(finder, split, 30)
    for i in range(30, 45):
        kept = frames_with(finder, split, [(20, 30), dancer_at(i)], [True, True], i / FPS, tracks=[1, 2])
        dancer, bystander = body(*dancer_at(i)), body(20, 30)
        assert kept[dancer & ~bystander].mean() > 0.9
        assert kept[bystander & ~dancer].mean() < 0.2


def test_someone_apart_from_the_dancer_among_bystanders_stays_out_of_the_main_matte(finder):
    """Someone the pose model does not find (a walker, a statue), on a track of their own and not touching the dancer,
    is nearer the dancer's skeleton than the bystander's but is not the dancer: only the pixels joined to the dancer's
    skeleton (missed: to the last frame's matte) stay."""
    split = PoseSplit(finder)
    dance_beside(finder, split, 30)
    for i in range(30, 60):
        walker = (76, 10 + i / 3)
        kept = frames_with(finder, split, [(20, 30), dancer_at(i), walker], [True, i < 45, False], i / FPS, tracks=[1, 2, 3])
        assert not kept[body(*walker) & ~body(*dancer_at(i))].any()
    assert kept[body(*dancer_at(59)) & ~body(20, 30) & ~body(*walker)].mean() > 0.7


def test_the_dancer_missed_on_another_track_keeps_what_is_not_the_bystander_s(finder):
    split = PoseSplit(finder)
    dance_beside(finder, split, 30)
    for i in range(30, 60):
        kept = frames_with(finder, split, [(20, 30), dancer_at(i)], [True, i < 40], i / FPS, tracks=[1, 2])
    dancer, bystander = body(*dancer_at(59)), body(20, 30)
    assert kept[bystander].mean() < 0.2
    assert kept[dancer & ~bystander].mean() > 0.7


def test_the_missed_dancer_is_followed_by_their_pixels_when_the_tracker_s_ids_change(finder):
    """MoveNet misses the dancer (floor moves) while the tracker's main track (1) is the bystander and its ids for the
    dancer change (track 2, then a new track 3)."""
    split = PoseSplit(finder)
    dance_beside(finder, split, 30)
    for i in range(30, 60):
        tracks = [1, 2] if i < 45 else [1, 3]
        kept = frames_with(finder, split, [(20, 30), dancer_at(i)], [True, False], i / FPS, tracks=tracks)
    dancer, bystander = body(*dancer_at(59)), body(20, 30)
    assert kept[bystander].mean() < 0.2
    assert kept[dancer & ~bystander].mean() > 0.7


def test_the_dancer_is_found_on_another_track_when_the_tracker_chose_someone_standing_in_full_view(finder):
    """From the start the tracker's main track (1) is a spectator standing still, the dancer is on track 2."""
    split = PoseSplit(finder)
    for i in range(40):
        kept = frames_with(finder, split, [(20, 30), dancer_at(i)], [True, True], i / FPS, tracks=[1, 2])
    dancer, bystander = body(*dancer_at(39)), body(20, 30)
    assert kept[dancer & ~bystander].mean() > 0.9
    assert kept[bystander & ~dancer].mean() < 0.2


def test_the_main_matte_stays_on_the_tracker_s_main_walker_among_other_walkers(finder):
    """Nobody stands by (a street of walkers): whoever the skeletons follow, the main matte is the tracker's choice."""
    split = PoseSplit(finder)
    for i in range(40):
        walkers = [(10 + i / 2, 30), (30 + i / 2, 36)]
        kept = frames_with(finder, split, walkers, [True, True], i / FPS, tracks=[1, 2])
    first, second = body(*walkers[0]), body(*walkers[1])
    assert kept[first & ~second].all()
    assert not kept[second & ~first].any()


def test_someone_moving_on_another_track_is_not_taken_for_a_main_dancer_seen_from_the_waist_up(finder):
    """The main dancer, hips out of the picture, stands still (a talking head) while a walker on a track of their own
    moves."""
    split = PoseSplit(finder)
    for i in range(40):
        waist_up = stick(20, 30)
        waist_up[11:] = np.nan  # hips, knees and ankles
        kept = frames_with(finder, split, [(20, 30), (40 + i, 30)], [False, True], i / FPS, tracks=[1, 2], figures=[waist_up])
    assert kept[body(20, 30)].all()
    assert not kept[body(40 + 39, 30) & ~body(20, 30)].any()


def test_a_dancer_holding_a_pose_stays_the_dancer(finder):
    split = PoseSplit(finder)
    dance_beside(finder, split, 30)
    frozen = dancer_at(29)  # a freeze: where the dancer last was, for 1 s
    for i in range(30, 55):
        kept = frames_with(finder, split, [(20, 30), frozen], [True, True], i / FPS)
    dancer = body(*frozen) & ~body(20, 30)
    assert kept[dancer].mean() > 0.9
    assert kept[body(20, 30) & ~body(*frozen)].mean() < 0.2


def test_someone_who_stops_where_the_model_lost_them_stays_the_dancer(finder):
    """A walker alone in the frame stops; the model misses them for longer than ``hold_s``, then finds them standing
    where it lost them, the legs hidden (knees and ankles not found): that is the dancer, not someone standing by
    whose legs would be all the dancer left."""
    split = PoseSplit(finder)
    for i in range(30):
        frames_with(finder, split, [(10 + i, 30)], [True], i / FPS)
    waist_up = stick(40, 30)
    waist_up[13:] = np.nan  # knees and ankles
    settings = split.settings
    found_again = 30 + int(FPS * (settings.hold_s + settings.missed_s) / 2)
    for i in range(30, found_again + 40):
        kept = frames_with(finder, split, [(40, 30)], [False], i / FPS, figures=[waist_up] if i >= found_again else [])
        assert kept[body(40, 30)].all(), i


def test_someone_moving_on_the_background_a_lone_dancer_owns_is_not_on_the_dancer(finder):
    """Alone in the frame, a dancer owns every pixel (``seg.dancers``); a walker the matte missed is there too."""
    split = PoseSplit(finder)
    owner = np.ones((1, H, W), np.int16)
    probs = body(20, 30).astype(np.float32)[None]  # the matte: the dancer standing still, nobody else
    batch = DancerBatch(owner, np.ones(1, np.int16), (1,))
    picture = np.zeros((H * SCALE, W * SCALE, 3), np.uint8)
    for i in range(40):
        finder.figures = [stick(20, 30), stick(50 + i, 30)]
        kept = split(batch, probs, lambda i: picture, np.array([i / FPS]))
    assert (kept.owner == 1).all()


def test_people_standing_still_together_are_not_told_apart(finder):
    split = PoseSplit(finder)
    for i in range(40):
        kept = frames_with(finder, split, [(20, 30), (38, 30)], [True, True], i / FPS)
    assert kept[body(20, 30) | body(38, 30)].all()


def test_a_cut_forgets_who_stood_by(finder):
    split = PoseSplit(finder)
    dance_beside(finder, split, 40)
    after = frames_with(finder, split, [(20, 30), (50, 30)], [True, True], 40 / FPS, cut=True)
    assert after[body(20, 30)].all()


def test_the_shipped_pose_model_finds_each_of_two_people_on_their_own_body(validation_people):
    canvas = np.full((640, 480, 3), 120, np.uint8)
    left, right = validation_people[0], validation_people[1]
    canvas, alpha_left = paste(canvas, left, Placement(150, 330, 520))
    canvas, alpha_right = paste(canvas, right, Placement(330, 330, 520))
    poses = PoseFinder()(canvas)
    assert len(poses) >= 2
    on = []
    for alpha in (alpha_left, alpha_right):
        shares = []
        for k in range(len(poses)):
            xy = np.clip(np.rint(poses.keypoints[k]).astype(int), 0, [canvas.shape[1] - 1, canvas.shape[0] - 1])
            sure = poses.confidence[k] >= 0.3
            shares.append((alpha[xy[sure, 1], xy[sure, 0]] > 0.5).mean() if sure.sum() >= 5 else 0.0)
        on.append(int(np.argmax(shares)))
        assert max(shares) >= 0.7  # keypoints fall on the person's own matte (joints sit inside the body)
    assert on[0] != on[1]
    assert poses.keypoints.shape[1:] == (KEYPOINTS, 2)


def test_a_find_of_part_of_a_person_joins_the_whole_person_and_fills_in_their_keypoints():
    whole = stick(40, 20)
    legs = whole.copy()
    legs[:11] += 3.0  # the part's own guesses of the upper body, unsure
    confidence = np.full((2, KEYPOINTS), 0.9, np.float32)
    confidence[0, 13:] = 0.1  # the whole find is unsure of its knees and ankles...
    confidence[1, :11] = 0.1  # ...the legs-only find sure of nothing but the hips down
    other = stick(5, 20)
    poses = Poses(np.stack([whole, legs, other]), np.vstack([confidence, np.full((1, KEYPOINTS), 0.9, np.float32)]),
                  np.array([0.8, 0.5, 0.7], np.float32))
    found = skeletons(poses, PoseSplitSettings())
    assert len(found) == 2  # the legs are the first person's, the person beside is someone else
    first = next(k for k in found if np.allclose(k.keypoints[0], whole[0]))
    assert first.confident.all()
    np.testing.assert_array_equal(first.keypoints[13:], legs[13:])
