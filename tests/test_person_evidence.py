"""Person evidence: the detector's decoding, the shipped detector on committed photos, and the main-dancer gate
of the tracker on made-up mattes with a stand-in detector that sees the people painted red."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipelines.synthetic import procedural_person
from seg.composite import Person, Placement, paste
from seg.dancers import DancerLayer, DancerTracker
from seg.person_evidence import (
    DETECTOR_SIZE,
    EvidenceSettings,
    FaceDetector,
    Letterbox,
    PeopleAndFaces,
    PersonDetections,
    PersonDetector,
    PersonEvidence,
    decode_detections,
    person_owner,
    ssd_anchor_centres,
)

HEIGHT, WIDTH = 256, 144  # a vertical clip at network resolution
FPS = 24
RED = (255, 0, 0)


class RedPeople:
    """A stand-in detector: each red region of a picture is a person, hips and shoulders on its vertical axis."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, rgb: np.ndarray) -> PersonDetections:
        self.calls += 1
        red = np.all(rgb == RED, axis=-1).astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(red, connectivity=8)
        if count == 1:
            return PersonDetections.none()
        x, y, w, h = (stats[1:, i].astype(np.float32) for i in range(4))
        centre = x + w / 2
        return PersonDetections(np.stack([centre, y + 0.55 * h], 1), np.stack([centre, y + 0.2 * h], 1), h / 2,
                                np.ones(count - 1, np.float32))


def person_matte(placements: list[Placement], width_scale: np.ndarray | None = None) -> np.ndarray:
    """(frames, h, w) float32 a procedural person's matte, squeezed horizontally by ``width_scale`` (a spin)."""
    figure = procedural_person(160, 56, seed=1)
    blank = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    mattes = []
    for i, where in enumerate(placements):
        scale = 1.0 if width_scale is None else width_scale[i]
        width = max(4, round(figure.alpha.shape[1] * scale))
        squeezed = Person(cv2.resize(figure.rgb, (width, 160)), cv2.resize(figure.alpha, (width, 160)))
        mattes.append(paste(blank, squeezed, where)[1])
    return np.stack(mattes)


def blob_matte(frames: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """(frames, h, w) float32 a still, rounded non-person shape filling ``box`` (x0, y0, x1, y1): a statue, a fence panel."""
    matte = np.zeros((HEIGHT, WIDTH), np.uint8)
    x0, y0, x1, y1 = box
    cv2.ellipse(matte, ((x0 + x1) // 2, (y0 + y1) // 2), ((x1 - x0) // 2, (y1 - y0) // 2), 0, 0, 360, 1, -1)
    return np.repeat(matte[None].astype(np.float32), frames, axis=0)


def pictures_seen(*mattes_seen: np.ndarray) -> np.ndarray:
    """(frames, h, w, 3) uint8 grey pictures with the given mattes painted red where the detector sees a person."""
    pictures = np.full((*mattes_seen[0].shape, 3), 90, np.uint8)
    for matte in mattes_seen:
        pictures[matte > 0.5] = RED
    return pictures


def tracked(probs: np.ndarray, pictures: np.ndarray | None = None, finder: RedPeople | None = None,
            settings: EvidenceSettings = EvidenceSettings(), cuts: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray, DancerTracker]:
    """(frames,) main dancer, (frames, h, w) owner map and the tracker they were fed to, in batches of 8."""
    tracker = DancerTracker(evidence=None if finder is None else PersonEvidence(finder, settings))
    times_s = np.arange(len(probs)) / FPS
    cuts = np.zeros(len(probs), bool) if cuts is None else cuts
    parts = [tracker.update(probs[a : a + 8], times_s[a : a + 8], cuts[a : a + 8],
                            None if pictures is None else pictures[a : a + 8]) for a in range(0, len(probs), 8)]
    return np.concatenate([p.main for p in parts]), np.concatenate([p.owner for p in parts]), tracker


def track(probs: np.ndarray, pictures: np.ndarray | None = None, finder: RedPeople | None = None,
          settings: EvidenceSettings = EvidenceSettings(), cuts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(frames,) main dancer and (frames, h, w) owner map, fed in batches of 8."""
    return tracked(probs, pictures, finder, settings, cuts)[:2]


def walking(frames: int, x0: float, x1: float, y: float, height: float) -> list[Placement]:
    return [Placement(x0 + (x1 - x0) * i / (frames - 1), y, height, 5 * np.sin(i / 3)) for i in range(frames)]


def owner_of(owner: np.ndarray, matte: np.ndarray) -> np.ndarray:
    """(frames,) the track covering most of ``matte`` in each frame."""
    return np.array([np.bincount(o[m > 0.5]).argmax() for o, m in zip(owner, matte)])


# ---------------------------------------------------------------- the detector's decoding and geometry


def test_anchors_cover_the_detector_input():
    anchors = ssd_anchor_centres()
    assert anchors.shape == (2254, 2)  # 28x28x2 at stride 8, 14x14x2 at 16, 7x7x6 at the three 32s
    assert anchors.min() > 0 and anchors.max() < 1
    assert np.allclose(anchors[0], [0.5 / 28, 0.5 / 28]) and np.allclose(anchors[-1], [6.5 / 7, 6.5 / 7])


def test_decoding_merges_overlapping_candidates_and_keeps_separate_people():
    anchors = ssd_anchor_centres()
    raw = np.zeros((len(anchors), 12), np.float32)
    logits = np.full(len(anchors), -20.0, np.float32)
    raw[:, 2:4] = 40  # every box 40x40 input pixels around its anchor
    left, nearby, right = (int(np.argmin(np.abs(anchors - xy).sum(1))) for xy in ((0.3, 0.5), (0.34, 0.5), (0.8, 0.5)))
    logits[[left, nearby, right]] = [3.0, 1.0, 2.0]
    raw[left, 4:6], raw[nearby, 4:6] = (0, 0), (8, 0)  # hips keypoints of the two overlapping candidates
    keypoints, scores = decode_detections(raw, logits, anchors)
    assert len(scores) == 2 and scores[0] > scores[1]  # best first
    weights = 1 / (1 + np.exp(-np.array([3.0, 1.0])))
    expected = (weights[0] * anchors[left, 0] + weights[1] * (anchors[nearby, 0] + 8 / DETECTOR_SIZE)) / weights.sum()
    assert keypoints[0, 0, 0] == pytest.approx(expected, abs=1e-5)
    assert keypoints[1, 0] == pytest.approx(anchors[right], abs=1e-5)
    assert len(decode_detections(raw, np.full(len(anchors), -20.0, np.float32), anchors)[1]) == 0


def test_letterbox_maps_input_points_back_to_the_picture():
    letterbox = Letterbox.fit(180, 320)  # landscape: padded top and bottom
    assert letterbox.pad_x == 0 and letterbox.pad_y == (DETECTOR_SIZE - 126) // 2
    tensor = letterbox.tensor(np.full((180, 320, 3), 255, np.uint8))
    assert tensor.shape == (1, DETECTOR_SIZE, DETECTOR_SIZE, 3) and tensor[0, 0, 0, 0] == -1 and tensor[0, 112, 112, 0] == 1
    corner = np.array([[letterbox.pad_x, letterbox.pad_y]]) / DETECTOR_SIZE
    assert np.allclose(letterbox.to_picture(corner), 0)


def test_a_person_goes_to_the_region_under_their_torso_else_the_one_filling_their_body():
    owner = np.zeros((100, 80), np.int16)
    owner[20:, 20:40] = 1  # a person's region, down to the bottom edge
    owner[10:90, 45:75] = 2  # a bigger region beside it
    def person(hips: tuple[float, float], shoulders: tuple[float, float], radius: float = 40) -> PersonDetections:
        return PersonDetections(np.float32([hips]), np.float32([shoulders]), np.float32([radius]), np.float32([0.9]))

    assert person_owner(person((30, 60), (30, 30)), 0, owner) == 1
    assert person_owner(person((30, 160), (30, 70)), 0, owner) == 1  # a close-up: the hips below the picture
    assert person_owner(person((30, 160), (30, 99)), 0, owner) == 0  # too little of the torso in the picture
    assert person_owner(person((34, 60), (48, 30)), 0, owner) == 0  # split between the two: nobody's
    owner[35:65, 25:35] = 0  # the network missed the shirt: the region filling most of the body's circle
    assert person_owner(person((30, 60), (30, 40), radius=12), 0, owner) == 1


def test_the_shipped_detector_finds_the_person_in_a_photo_and_not_beside_them(validation_people):
    evidence = PersonEvidence(PersonDetector())
    photo = validation_people[0]
    person = photo.alpha > 0.5
    beside = np.zeros_like(person)
    beside[10:-10, :12] = True  # a strip of background at the photo's edge: the crop shows the person, off the strip
    beside &= ~person
    owner = (1 * person + 2 * beside).astype(np.int16)
    assert evidence.people_on(photo.rgb, owner, 1) == {1}
    assert beside.sum() > 500 and evidence.people_on(photo.rgb, owner, 2) == {1}
    noise = np.random.default_rng(0).integers(0, 256, photo.rgb.shape, dtype=np.uint8)
    assert evidence.people_on(noise, owner, 1) == set()


def test_a_face_close_up_the_person_detector_misses_is_found_by_the_face_detector(validation_people):
    photo = validation_people[0]
    top = photo.rgb.shape[0] // 5  # head and neck: no torso (the person detector scores no candidate even 0.05)
    head, person = np.ascontiguousarray(photo.rgb[:top]), photo.alpha[:top] > 0.5
    assert len(PersonDetector()(head)) == 0
    (mouth,), (eyes,) = (faces := FaceDetector()(head)).hips, faces.shoulders
    assert len(faces) == 1 and eyes[1] < mouth[1], "the face's axis runs up from the mouth to the eyes"
    assert person[int(mouth[1]), int(mouth[0])] and person[int(eyes[1]), int(eyes[0])], "both on the person"
    owner = person.astype(np.int16)
    owner[:, :4] = np.where(person[:, :4], 1, 2)  # a strip of background beside
    evidence = PersonEvidence(PeopleAndFaces(PersonDetector(), FaceDetector()))
    assert evidence.people_on(head, owner, 1) == {1} and evidence.people_on(head, owner, 2) == {1}
    noise = np.random.default_rng(0).integers(0, 256, head.shape, dtype=np.uint8)
    assert len(FaceDetector()(noise)) == 0


def test_people_found_by_their_bodies_and_by_their_faces_are_joined():
    body = PersonDetections(np.float32([[10, 50]]), np.float32([[10, 20]]), np.float32([40]), np.float32([0.9]))
    face = PersonDetections(np.float32([[30, 30]]), np.float32([[30, 20]]), np.float32([15]), np.float32([0.8]))
    picture = np.zeros((60, 40, 3), np.uint8)
    found = PeopleAndFaces(lambda rgb: body, lambda rgb: face)(picture)
    assert len(found) == 2 and found.hips.tolist() == [[10, 50], [30, 30]] and found.scores.tolist() == pytest.approx([0.9, 0.8])
    assert len(PeopleAndFaces(lambda rgb: PersonDetections.none(), lambda rgb: face)(picture)) == 1
    assert found.hips.dtype == np.float32


# ---------------------------------------------------------------- the main-dancer gate


def test_a_big_blob_that_is_no_person_is_not_the_main_dancer():
    frames = 48
    statue = blob_matte(frames, (54, 40, 130, 250))  # big and central
    person = person_matte(walking(frames, 14, 22, 180, 100))  # smaller, at the side
    probs = np.maximum(statue, person)
    main_old, owner = track(probs)
    assert (main_old == owner_of(owner, statue)).all(), "without evidence size and centre pick the statue"
    finder = RedPeople()
    main, owner = track(probs, pictures_seen(person), finder)
    assert (main == owner_of(owner, person)).all()
    assert 0 < finder.calls <= 2 * (frames // 8 + 1), "each track is checked every check_every_s, not every frame"


def test_evidence_holds_between_checks_and_the_statue_never_takes_over():
    frames = 72
    statue = blob_matte(frames, (54, 40, 130, 250))
    person = person_matte(walking(frames, 14, 22, 180, 100))
    probs = np.maximum(statue, person)
    seen = person.copy()
    seen[np.arange(frames) % 12 != 0] = 0  # the detector sees the person on every 12th frame only
    every_frame = EvidenceSettings(check_every_s=0.0, hold_s=1.0)  # every track checked on every frame
    main, owner = track(probs, pictures_seen(seen), RedPeople(), every_frame)
    person_id = owner_of(owner, person)[0]
    assert (main == person_id).all()
    seen[13:] = 0  # then never again after frame 12: past hold_s nobody has evidence, the main dancer keeps its place
    main, _ = track(probs, pictures_seen(seen), RedPeople(), every_frame)
    assert (main == person_id).all()
    cuts = np.arange(frames) == 48  # a cut: the statue, biggest, takes the main dancer's id, and evidence starts afresh
    main, owner = track(probs, pictures_seen(seen), RedPeople(), every_frame, cuts)
    assert (main[:48] == person_id).all() and owner_of(owner, statue)[48] == person_id and (main[48:] == 0).all()


def test_without_any_detection_in_the_clip_the_main_matte_stays_empty():
    frames = 40
    probs = np.maximum(blob_matte(frames, (54, 40, 130, 250)), person_matte(walking(frames, 14, 22, 180, 100)))
    finder = RedPeople()
    main, _, tracker = tracked(probs, pictures_seen(np.zeros_like(probs)), finder)
    assert finder.calls >= frames, "while the main matte is empty the tracks are checked on every frame"
    assert (main == 0).all() and tracker.person_confirmed == 0.0, "the statue never becomes the main dancer"
    main, _, tracker = tracked(probs, pictures_seen(np.zeros_like(probs)), RedPeople(), EvidenceSettings(require_person=False))
    assert (main == track(probs)[0]).all() and tracker.person_confirmed == 0.0, "the old choice, unconfirmed"
    assert np.isnan(tracked(probs)[2].person_confirmed), "not checked: unknown, not unconfirmed"


def test_the_main_matte_starts_with_the_first_find_like_after_a_cut_and_the_share_confirmed_says_so():
    frames = 48
    person = person_matte(walking(frames, 40, 60, 150, 120))
    seen = person.copy()
    seen[:8] = 0  # the detector first sees the person on frame 8
    cuts = np.arange(frames) == 32  # the same person after a cut: not the main dancer until a check of the new shot finds them
    seen[32:40] = 0
    main, _, tracker = tracked(person, pictures_seen(seen), RedPeople(), cuts=cuts)
    assert (main[:8] == 0).all() and (main[8:32] > 0).all() and (main[32:40] == 0).all() and (main[40:] > 0).all()
    assert tracker.person_confirmed == pytest.approx((48 - 8 - 8) / 48)


def test_a_spinning_dancer_the_detector_misses_stays_main_beside_a_bigger_person():
    frames = 72
    spin = np.abs(np.cos(np.clip(np.arange(frames) - 24, 0, 24) * np.pi / 12))  # two turns from frame 24 to 48
    dancer = person_matte([Placement(56 + 6 * np.sin(i / 4), 150, 130, 0) for i in range(frames)],
                          np.maximum(spin, 0.25))
    bystander = person_matte([Placement(122, 128, 170)] * frames)  # bigger, at the edge, still
    probs = np.maximum(dancer, bystander)
    seen = dancer.copy()
    seen[24:48] = 0  # the detector misses the dancer for the whole second of the spin
    pictures = pictures_seen(seen, bystander)
    main, owner = track(probs, pictures, RedPeople())
    assert (main == owner_of(owner, dancer)).all()


def test_a_main_track_found_nobody_on_for_hold_s_while_someone_else_is_found_gives_way():
    """As when the main track has drifted off its dancer onto a spectator it touched: the checks find the person
    elsewhere, never on it."""
    frames = 120
    drifted = person_matte([Placement(60 + 6 * np.sin(i / 4), 150, 150, 0) for i in range(frames)])  # big, central
    other = person_matte(walking(frames, 122, 126, 200, 80))  # small, at the edge, found all along
    seen = drifted.copy()
    seen[24:] = 0  # found a person until frame 24, never after
    probs = np.maximum(drifted, other)
    main, owner = track(probs, pictures_seen(seen, other), RedPeople())
    main_id, other_id = owner_of(owner, drifted)[0], owner_of(owner, other)[0]
    assert (main[:60] == main_id).all(), "within hold_s of its last person it keeps its place"
    assert (main[80:] == other_id).all(), "past hold_s without a person, while the other is found: it gives way"
    main, _ = track(probs, pictures_seen(seen, np.zeros_like(other)), RedPeople())
    assert (main == main_id).all(), "nobody found anywhere: the main dancer keeps its place"


def test_when_the_main_dancer_leaves_only_someone_found_a_person_within_hold_s_takes_over():
    frames = 96
    dancer = person_matte([Placement(60 + 8 * np.sin(i / 4), 140, 150, 5 * np.sin(i / 3)) for i in range(frames)])
    dancer[40:] = 0  # leaves at frame 40; its track ends one max_unseen_s later, at frame 64
    other = person_matte(walking(frames, 122, 126, 200, 80))  # small, at the edge
    seen = other.copy()
    seen[8:] = 0  # found a person at its first check only, at frame 0
    probs, pictures = np.maximum(dancer, other), pictures_seen(dancer, seen)
    main, owner = track(probs, pictures, RedPeople())
    assert (main[:40] == owner_of(owner[:40], dancer[:40])).all()
    assert (main[66:] == 0).all(), "found a person 2.7 s ago: past hold_s, not the main dancer"
    main, owner = track(probs, pictures, RedPeople(), EvidenceSettings(hold_s=10.0))
    assert (main[66:] == owner_of(owner[66:], other[66:])).all()


def test_after_a_cut_the_new_shot_s_person_becomes_main_on_the_first_frame_the_detector_sees_them():
    """While the gate leaves the main matte empty, the tracks in view are checked on every frame, not every check_every_s."""
    frames = 48
    first = person_matte(walking(frames, 40, 50, 150, 120))
    second = person_matte(walking(frames, 100, 96, 150, 120))
    first[24:], second[:24] = 0, 0
    probs = np.maximum(first, second)
    seen = first.copy()
    seen[30:] = second[30:]  # the new shot's person is faded in: the detector sees them from frame 30 on
    cuts = np.arange(frames) == 24
    main, owner = track(probs, pictures_seen(seen), RedPeople(), cuts=cuts)
    assert EvidenceSettings().check_every_s * FPS > 6  # without the rule the next check would come after frame 30
    assert (main[:24] == owner_of(owner[:24], first[:24])).all() and (main[24:30] == 0).all()
    assert (main[30:] == owner_of(owner[30:], second[30:])).all()


# ---------------------------------------------------------------- the other mattes gated by the shot: --dancers all and each


def layered(probs: np.ndarray, pictures: np.ndarray | None, finder: RedPeople | None, mode: str,
            cuts: np.ndarray | None = None) -> list[list[DancerLayer]]:
    """The layers ``--dancers mode`` writes for each batch of 8 frames."""
    tracker = DancerTracker(evidence=None if finder is None else PersonEvidence(finder))
    times_s = np.arange(len(probs)) / FPS
    cuts = np.zeros(len(probs), bool) if cuts is None else cuts
    return [tracker.update(probs[a : a + 8], times_s[a : a + 8], cuts[a : a + 8],
                           None if pictures is None else pictures[a : a + 8]).layers(probs[a : a + 8], mode)
            for a in range(0, len(probs), 8)]


def everyone(probs: np.ndarray, pictures: np.ndarray | None, finder: RedPeople | None, cuts: np.ndarray | None = None) -> np.ndarray:
    """(frames, h, w) the matte ``--dancers all`` writes."""
    return np.concatenate([layers[0].matte for layers in layered(probs, pictures, finder, "all", cuts)])


def test_a_scene_with_a_statue_and_nobody_found_shows_nobody_in_any_matte():
    frames = 24
    statue = blob_matte(frames, (54, 40, 130, 250))
    assert np.array_equal(everyone(statue, None, None), statue), "without evidence: what the network calls person"
    assert not everyone(statue, pictures_seen(np.zeros_like(statue)), RedPeople()).any()
    assert layered(statue, pictures_seen(np.zeros_like(statue)), RedPeople(), "each")[-1] == [], "no dancer, no files"
    assert [layer.key for layer in layered(statue, None, None, "each")[-1]] == [1]


def test_once_a_person_is_found_everyone_the_network_calls_person_is_shown_until_the_next_cut():
    """A dancer the detector misses beside one it finds stays (dark, smoke, a group in one crop)."""
    frames = 40
    found = person_matte(walking(frames, 14, 22, 180, 100))
    missed = person_matte(walking(frames, 110, 100, 190, 110))
    probs = np.maximum(found, missed)
    seen = found.copy()
    seen[:10] = 0  # first found on frame 10 (checked on every frame while nobody is)
    cuts = np.arange(frames) == 24
    seen[24:30] = 0  # after the cut, found again on frame 30
    matte = everyone(probs, pictures_seen(seen), RedPeople(), cuts)
    shown = matte.any(axis=(1, 2))
    assert not shown[:10].any() and shown[10:24].all() and not shown[24:30].any() and shown[30:].all()
    assert np.array_equal(matte[10:24], probs[10:24]) and np.array_equal(matte[30:], probs[30:])
    each = layered(probs, pictures_seen(seen), RedPeople(), "each")
    assert each[0] == [] and [layer.key for layer in each[-1]] == [1, 2], "files once anyone is found, then for every dancer"
