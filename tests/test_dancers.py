"""Several people in frame: the tracker on ground-truth mattes, then `process --dancers` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from analytics import FrameStatistics, load_clips, load_frames
from pipelines.cli import main
from pipelines.synthetic import BAR_S, SyntheticClipSpec, make_clip, procedural_person
from pipelines.video_io import read_alpha
from seg.composite import Person, Placement, paste
from seg.dancers import DancerTracker
from seg.metrics import iou

HEIGHT, WIDTH = 256, 144  # a vertical clip at network resolution
FPS = 24
MIN_VISIBLE_PX = 30  # a person smaller than this in a frame is not scored


def scene(people: list[Person], placements: list[list[Placement]]) -> np.ndarray:
    """(people, frames, h, w) each person's visible matte; later people in front."""
    blank = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    visible = np.zeros((len(people), len(placements[0]), HEIGHT, WIDTH), np.float32)
    for i in range(visible.shape[1]):
        for k, (person, where) in enumerate(zip(people, placements)):
            alpha = paste(blank, person, where[i])[1]
            visible[:k, i] *= 1 - alpha
            visible[k, i] = alpha
    return visible


def track(visible: np.ndarray, batch: int = 8) -> tuple[np.ndarray, np.ndarray, DancerTracker]:
    """Owner maps (frames, h, w) and main dancers (frames,) of the mattes' union, fed in batches."""
    union = 1 - np.prod(1 - visible, axis=0)
    times_s = np.arange(len(union)) / FPS
    tracker = DancerTracker()
    parts = [tracker.update(union[a : a + batch], times_s[a : a + batch]) for a in range(0, len(union), batch)]
    return np.concatenate([p.owner for p in parts]), np.concatenate([p.main for p in parts]), tracker


def identities(visible: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """(people, frames) the track id covering most of each person, 0 where the person is (nearly) hidden."""
    ids = np.zeros(visible.shape[:2], np.int16)
    for k, person in enumerate(visible > 0.5):
        for i, pixels in enumerate(person):
            if pixels.sum() >= MIN_VISIBLE_PX:
                ids[k, i] = np.bincount(owner[i][pixels]).argmax()
    return ids


def id_switches_per_100_frames(ids: np.ndarray) -> float:
    """Changes of a person's track id between the frames where the person is seen."""
    switches = sum(int(np.count_nonzero(np.diff(row[row != 0]))) for row in ids)
    return 100 * switches / ids.shape[1]


def contact_frames(visible: np.ndarray) -> int:
    """Frames where two people's silhouettes form one connected region."""
    both = (visible > 0.5).sum(axis=(2, 3)).min(axis=0) >= MIN_VISIBLE_PX
    union = (visible > 0.5).any(axis=0)
    return sum(int(ndimage.label(u, np.ones((3, 3)))[1] == 1) for u, b in zip(union, both) if b)


def glide(frames: int, start: tuple[float, float], end: tuple[float, float], height: float,
          begin: int = 0, finish: int | None = None, sway_deg: float = 6.0) -> list[Placement]:
    """Moving from ``start`` to ``end`` (x, y) between frames ``begin`` and ``finish``, tilting as it goes."""
    finish = frames - 1 if finish is None else finish
    progress = np.clip((np.arange(frames) - begin) / max(finish - begin, 1), 0, 1)
    return [Placement(start[0] + p * (end[0] - start[0]), start[1] + p * (end[1] - start[1]), height,
                      sway_deg * np.sin(i / 3)) for i, p in enumerate(progress)]


def people(count: int) -> list[Person]:
    return [procedural_person(160, 56, seed=seed) for seed in range(count)]


def test_crossing_paths_without_contact_keeps_every_id():
    frames = 36
    swap = scene(people(2), [glide(frames, (20, 62), (124, 62), 100), glide(frames, (124, 192), (20, 192), 100)])
    diagonal = scene(people(2), [glide(frames, (20, 60), (124, 196), 70, 0, 23),
                                 glide(frames, (20, 196), (124, 60), 70, 12, 35)])
    for visible in (swap, diagonal):
        assert contact_frames(visible) == 0
        owner, _, tracker = track(visible)
        ids = identities(visible, owner)
        assert (ids > 0).all(), "a visible person was left without a track"
        assert id_switches_per_100_frames(ids) == 0
        assert len(set(ids.ravel())) == 2 and tracker.dancers_seen == 2


def meeting(progress: list[float], sway_px: float = 0.0) -> list[list[Placement]]:
    """Two people face to face, walking together as ``progress`` goes from 0 to 1 (touching near 1)."""
    return [[Placement(x + side * 22 * p + sway_px * np.sin(i / 4), 140, 110, side * 5 * np.sin(i / 2))
             for i, p in enumerate(progress)] for x, side in ((36, 1), (108, -1))]


def test_ids_survive_a_brief_contact():
    visible = scene(people(2), meeting([*np.linspace(0, 1, 11), 1, 1, 1, *np.linspace(1, 0, 14)]))
    assert 3 <= contact_frames(visible) <= 10
    owner, _, _ = track(visible)
    ids = identities(visible, owner)
    assert id_switches_per_100_frames(ids) == 0 and ids[0, 0] != ids[1, 0]
    # during the contact each keeps most of its own body
    for i in np.flatnonzero([len(np.unique(o)) == 3 for o in owner]):
        for k in range(2):
            pixels = visible[k, i] > 0.5
            assert (owner[i][pixels] == ids[k, i]).mean() > 0.85


def test_ids_survive_a_long_hold_and_one_walking_through_in_front():
    holding = scene(people(2), meeting([*np.linspace(0, 1, 11), *[1] * 48, *np.linspace(1, 0, 14)], sway_px=4))
    dancer, _ = dancer_and_bystander(48)
    walk_through = scene(people(2), [dancer, glide(48, (140, 120), (0, 120), 100)])  # in front of the dancer
    for visible in (holding, walk_through):
        assert contact_frames(visible) >= 30
        owner, main, tracker = track(visible)
        ids = identities(visible, owner)
        assert ids[0, 0] == ids[0, -1] != ids[1, 0] == ids[1, -1] and tracker.dancers_seen == 2
    assert (main == ids[0]).all()
    assert (owner[-1][visible[0, -1] > 0.5] == ids[0, -1]).mean() > 0.95, "the dancer's body is its own again"


def dancer_and_bystander(frames: int, crouch: range = range(0)) -> list[list[Placement]]:
    """A large dancer swaying near the middle (crouching to half height in ``crouch``) and a still bystander."""
    dancer = []
    for i in range(frames):
        height = 90 if i in crouch else 170
        t = i / FPS
        dancer.append(Placement(55 + 15 * np.sin(2 * np.pi * t / BAR_S), 235 - height / 2, height,
                                8 * np.cos(2 * np.pi * t / BAR_S)))
    bystander = [Placement(124, 120, 110)] * frames
    return [dancer, bystander]


def test_main_is_the_moving_central_dancer_not_the_bystander_even_when_crouching():
    frames, crouch = 40, range(20, 26)
    visible = scene(people(2), dancer_and_bystander(frames, crouch))
    area = (visible > 0.5).sum(axis=(2, 3))
    assert (area[1, crouch] > area[0, crouch]).all(), "size alone would pick the bystander while crouching"
    owner, main, _ = track(visible)
    ids = identities(visible, owner)
    assert (main == ids[0]).all()


def test_statistics_restart_when_the_main_dancer_changes():
    mattes = np.zeros((5, 40, 40), np.float32)
    for i, matte in enumerate(mattes):
        matte[10:30, 2 * i : 2 * i + 10] = 1.0
    frames = FrameStatistics("clip").update(mattes, np.arange(5) / 10, np.arange(5), dancer=np.array([1, 1, 2, 2, 2]))
    assert frames["dancer"].tolist() == [1, 1, 2, 2, 2]
    assert frames["motion_energy"].isna().tolist() == [True, False, True, False, False]


def test_after_a_cut_the_new_shot_takes_the_ids_the_biggest_body_the_main_dancer():
    frames, cut = 60, 24
    probs = np.zeros((frames, HEIGHT, WIDTH), np.float32)
    probs[:cut, 40:220, 30:60] = 1  # shot 1: the dancer, big, left of centre...
    probs[:cut, 150:220, 115:135] = 1  # ...and someone small on the right
    probs[cut:, 30:230, 75:105] = 1  # shot 2, elsewhere in the frame: someone big...
    probs[cut:, 130:230, 5:20] = 1  # ...and someone smaller; nobody where shot 1 had anyone
    cuts = np.arange(frames) == cut
    tracker = DancerTracker()
    parts = [tracker.update(probs[a : a + 8], np.arange(a, a + 8) / FPS, cuts[a : a + 8]) for a in range(0, frames, 8)]
    owner, main = np.concatenate([p.owner for p in parts]), np.concatenate([p.main for p in parts])
    assert (main == 1).all()  # the main matte never goes blank at the cut
    assert (owner[cut:, 100, 90] == 1).all() and (owner[cut:, 200, 10] == 2).all()
    assert parts[-1].dancers == (1, 2) and tracker.dancers_seen == 2

    uncut = DancerTracker()  # the same frames without the cut: the new bodies are new dancers
    main = np.concatenate([uncut.update(probs[a : a + 8], np.arange(a, a + 8) / FPS).main for a in range(0, frames, 8)])
    assert (main[cut : cut + 6] == 1).all() and set(main[-4:]) == {3}  # dancer 1, unseen, is main until it ends


def test_statistics_restart_and_count_shots_at_each_cut_across_batches():
    mattes = np.zeros((8, 40, 40), np.float32)
    for i, matte in enumerate(mattes):
        matte[10:30, 2 * i : 2 * i + 10] = 1.0
    cuts = np.array([False, False, False, True, False, True, False, False])
    stats = FrameStatistics("clip")
    frames = pd.concat([stats.update(mattes[a : a + 4], np.arange(a, a + 4) / 10, np.arange(a, a + 4), cuts=cuts[a : a + 4])
                        for a in (0, 4)], ignore_index=True)
    assert frames["shot"].tolist() == [0, 0, 0, 1, 1, 2, 2, 2]
    restarted = [True, False, False, True, False, True, False, False]
    assert frames["motion_energy"].isna().tolist() == frames["centroid_speed"].isna().tolist() == restarted


E2E = SyntheticClipSpec(width=180, height=320, frames=24, fps=12, seed=7)


def duo_pose(spec: SyntheticClipSpec, t: float, n: int, count: int) -> Placement:
    """Person 0 dances, large and swaying near the middle; person 1 walks in from the right at ~1 s and stands."""
    if n == 0:
        phase = 2 * np.pi * t / BAR_S
        x, y = spec.width * (0.38 + 0.08 * np.sin(phase)), spec.height * (0.58 - 0.03 * abs(np.sin(2 * phase)))
        return Placement(x, y, spec.height * 0.62, 6 * np.cos(phase))
    entered = np.clip((t - 0.8) / 0.4, 0, 1)
    return Placement(spec.width * (1.3 - 0.44 * entered), spec.height * 0.42, spec.height * 0.4)


@pytest.fixture(scope="module")
def duo(tmp_path_factory, validation_people):
    """A dancer and a bystander (duo.mp4), the dancer alone on the same background (solo.mp4), and each one's matte."""
    folder = tmp_path_factory.mktemp("duo")
    make_clip(folder / "duo.mp4", validation_people, E2E, duo_pose)
    dancer = make_clip(folder / "solo.mp4", validation_people[:1], E2E, duo_pose)
    blank = np.zeros((E2E.height, E2E.width, 3), np.uint8)
    bystander = np.stack([paste(blank, validation_people[1], duo_pose(E2E, i / E2E.fps, 1, 2))[1]
                          for i in range(E2E.frames)])
    assert not ((dancer > 0) & (bystander > 0)).any(), "apart, so the duo's dancer matte is the solo one"
    return folder, dancer, bystander


def mean_iou(path: Path, truth: np.ndarray) -> float:
    alpha = read_alpha(path)[:, : truth.shape[1], : truth.shape[2]]
    assert len(alpha) == len(truth)
    return float(np.mean([iou(a > 127, t > 0.5) for a, t in zip(alpha, truth)]))


def test_main_dancer_matte_is_as_good_as_the_dancer_alone(duo, tmp_path):
    folder, dancer, _ = duo
    out = tmp_path / "out"
    assert main(["process", str(folder / "duo.mp4"), str(folder / "solo.mp4"), "--out", str(out),
                 "--device", "cpu", "--quiet"]) == 0  # --dancers main is the default
    duo_iou, solo_iou = mean_iou(out / "mattes" / "duo.mov", dancer), mean_iou(out / "mattes" / "solo.mov", dancer)
    print(f"main dancer IoU {duo_iou:.4f} with a bystander, {solo_iou:.4f} alone")
    assert solo_iou > 0.8 and abs(duo_iou - solo_iou) <= 0.02
    frames = load_frames(out, "duo")
    assert list(frames["frame"]) == list(range(E2E.frames)) and (frames["dancer"] == 1).all()
    clips = load_clips(out).set_index("clip")
    assert clips.loc["duo", "dancers_seen"] == 2 and clips.loc["solo", "dancers_seen"] == 1
    assert (clips["person_confirmed"] == 1.0).all()  # the detector finds the made-up dancer on every check


def test_each_dancer_gets_own_files_and_rows_for_every_frame(duo, tmp_path):
    folder, dancer, bystander = duo
    out = tmp_path / "out"
    assert main(["process", str(folder / "duo.mp4"), "--out", str(out), "--dancers", "each", "--device", "cpu",
                 "--quiet"]) == 0
    files = [out / "mattes" / "duo.dancer1.mov", out / "mattes" / "duo.dancer2.mov"]
    assert sorted((out / "mattes").iterdir()) == files
    (entry,) = json.loads((out / "manifest.json").read_text())
    assert entry["outputs"] == [str(f) for f in files]
    dancer_iou, bystander_iou = mean_iou(files[0], dancer), mean_iou(files[1], bystander)
    print(f"each: dancer1 IoU {dancer_iou:.4f} vs the dancer, dancer2 IoU {bystander_iou:.4f} vs the bystander")
    assert dancer_iou > 0.8 and bystander_iou > 0.6
    assert not read_alpha(files[1])[:8].any(), "frames before the bystander's batch are transparent"

    frames = load_frames(out)
    assert len(frames) == 2 * E2E.frames
    for number, rows in frames.groupby("dancer"):
        assert list(rows["frame"]) == list(range(E2E.frames)), number
    late = frames[frames["dancer"] == 2].set_index("frame")["person_present"]
    assert not late[:8].any() and late[16:].all()
    assert load_clips(out)["dancers_seen"].tolist() == [2]
    assert load_clips(out)["person_confirmed"].tolist() == [1.0]  # each dancer is checked for a person too


def test_a_dancer_whose_matte_breaks_apart_stays_one_dancer():
    """The network doubts a torso or a neck for a few frames: the pieces are still the one dancer, whole in the main matte."""
    frames = 32
    probs = scene(people(1), [glide(frames, (50, 150), (94, 150), 150)])[0]
    probs[8:11, 70:166] *= 0.3  # upper body lost: only the legs are seen...
    probs[11:14, 96:112] *= 0.2  # ...then the rest, the head beyond a gap wider than join_frac (the neck still doubted)
    probs[20:24, 70:100] *= 0.2  # head lost...
    probs[24:28, 96:112] *= 0.2  # ...and back, apart
    silhouette = probs > 0.5
    assert all(ndimage.label(silhouette[i], np.ones((3, 3)))[1] == 2 for i in (12, 24))  # the head apart from the body
    owner, main, tracker = track(probs[None])
    assert tracker.dancers_seen == 1 and (main == 1).all()
    assert all((owner[i][silhouette[i]] == 1).all() for i in range(frames))

    # someone small turning up close beside a dancer who has lost nothing is someone else, not a part
    whole = scene(people(1), [glide(frames, (50, 150), (94, 150), 150)])[0]
    beside = scene(people(2)[1:], [glide(frames, (80, 205), (124, 205), 40, sway_deg=0)])[0]
    beside[:10] = 0
    gap = cv2.distanceTransform((whole[12] <= 0.5).astype(np.uint8), cv2.DIST_L2, 3)[beside[12] > 0.5].min()
    assert 0.03 * HEIGHT < gap < 0.15 * 150  # beyond join_frac, within part_reach
    owner, main, tracker = track(np.stack([whole, beside]))
    assert tracker.dancers_seen == 2 and (main == 1).all()
    assert all((owner[i][beside[i] > 0.5] == 2).all() for i in range(10, frames))

    # someone small in the distance is still someone else, not a part (beyond part_reach of the dancer's length)
    distant = scene(people(2)[1:], [glide(frames, (128, 40), (128, 40), 40)])[0]
    owner, main, tracker = track(np.stack([probs, distant]))
    assert tracker.dancers_seen == 2 and (main == 1).all()
    assert all((owner[i][silhouette[i]] == 1).all() and (owner[i][distant[i] > 0.5] == 2).all() for i in range(frames))


def test_someone_fading_in_over_small_tracks_is_one_dancer_whole_in_the_main_matte():
    """A dissolve: a person fades in where the network saw a few small blobs (the old shot's false
    positives, tracked); the person is one dancer, the main one, not shared out among the blobs' tracks."""
    frames, start = 32, 12
    blobs = scene(people(3), [glide(frames, xy, xy, 32, sway_deg=0) for xy in ((75, 88), (70, 128), (76, 168))])
    person = scene(people(4)[3:], [glide(frames, (72, 135), (78, 135), 220)])[0]
    blobs[:, start:] = 0
    person[:start] = 0
    silhouette = person > 0.5
    assert all(silhouette[start][blob[start - 1] > 0.5].mean() > 0.9 for blob in blobs)  # the blobs lie inside the person
    owner, main, tracker = track(np.concatenate([blobs, person[None]]))
    assert len(set(main)) == 1 and main[0] > 0 and tracker.dancers_seen == 1  # the main dancer goes on, alone
    assert all((owner[i][silhouette[i]] == main[i]).all() for i in range(start, frames))
