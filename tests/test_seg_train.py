"""Training a few steps, then loading the result through ``eval`` and ``Segmenter``."""

import json
import shutil

import cv2
import numpy as np
import pytest
import torch

from pipelines.cli import main
from seg.composite import Person
from seg.data import (
    AugmentSettings, BackgroundBank, RealFrame, augmented_sample, find_pairs, is_validation, load_people, painted_out,
    person_free_frames, real_frame_sample,
)
from seg.metrics import iou
from seg.models import create_model, load_model
from seg.segmenter import Segmenter, SegmenterSettings
from seg.train import BatchMaker, TrainingError, TrainSettings, loss_fn, train, train_dtype


@pytest.fixture(scope="module")
def trained(tmp_path_factory, people_dirs):
    images, masks = people_dirs
    out = tmp_path_factory.mktemp("model")
    settings = TrainSettings(images=images, masks=masks, out=out, epochs=3, batch_size=4, max_steps_per_epoch=3, long_side=128, lr=2e-3, device="cpu")
    record = train(settings, log=lambda _: None)
    return settings, record


def test_training_on_the_cpu_is_float32_on_every_processor(trained):
    """One CPU precision everywhere: a model trained on a CPU with native bf16 is the same as on one without."""
    assert train_dtype(torch.device("cpu")) == torch.float32
    assert trained[1]["precision"] == "float32"


def batch_loss(model: torch.nn.Module, images: torch.Tensor, targets: torch.Tensor) -> float:
    model.train()  # batch statistics in BatchNorm, as in training
    with torch.no_grad():
        return loss_fn(model(images), targets).item()


def test_training_decreases_loss_and_writes_a_loadable_model(trained, people_dirs):
    settings, record = trained
    assert len(record["history"]) == 3
    # per-epoch losses of 2 steps are too noisy to compare: score a fresh augmented batch of the
    # training people with the starting weights (same seed) and with the trained ones
    people, _ = load_people([p for p in find_pairs(*people_dirs)[0] if not is_validation(p.stem)])
    images, targets, _ = next(iter(BatchMaker(people, settings).epoch(99, 1)))
    torch.manual_seed(settings.seed)
    initial = create_model(settings.arch, settings.encoder)
    assert batch_loss(load_model(settings.out), images, targets) < batch_loss(initial, images, targets) - 0.03
    for name in ("config.json", "model.safetensors", "README.md", "training.json", "checkpoint.pt"):
        assert (settings.out / name).is_file()
    assert record["data_hash"] and record["val_images"] == 2
    assert "IoU" in (settings.out / "README.md").read_text()
    model = load_model(settings.out)
    assert sum(p.numel() for p in model.parameters()) > 1_000_000


def test_segmenter_loads_trained_model_and_keeps_frame_size(trained):
    settings, _ = trained
    segmenter = Segmenter(SegmenterSettings(model=str(settings.out), device="cpu"))
    assert segmenter.long_side == 128
    frames = np.random.default_rng(0).integers(0, 255, (3, 90, 50, 3), dtype=np.uint8)
    mattes = segmenter(frames)
    assert mattes.shape == (3, 90, 50) and mattes.dtype == np.float32
    assert 0 <= mattes.min() and mattes.max() <= 1


def test_eval_cli_prints_json_with_iou_and_dice(trained, people_dirs, capsys):
    settings, _ = trained
    images, masks = people_dirs
    assert main(["eval", "--images", str(images), "--masks", str(masks), "--model", str(settings.out), "--json", "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert 0 <= result["iou"] <= 1 and 0 <= result["dice"] <= 1 and result["images"] == 9 and result["matte"] == "product"
    assert result["mirror"] is True
    argv = ["eval", "--images", str(images), "--masks", str(masks), "--model", str(settings.out), "--json", "--no-zoom", "--no-mirror"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["matte"] == "product without the closer look" and result["mirror"] is False


def test_resume_continues_from_checkpoint(trained, tmp_path):
    settings, record = trained
    out = tmp_path / "resumed"
    shutil.copytree(settings.out, out)
    more = TrainSettings(**{**settings.__dict__, "out": out, "epochs": 4, "resume": True})
    resumed = train(more, log=lambda _: None)
    assert [e["epoch"] for e in resumed["history"]] == [1, 2, 3, 4]
    assert resumed["history"][:3] == record["history"]


def test_bad_pairs_are_reported_and_skipped(tmp_path, people_dirs):
    images, masks = people_dirs
    (tmp_path / "i").mkdir(), (tmp_path / "m").mkdir()
    for p in sorted(images.glob("*.jpg"))[:5]:
        shutil.copy(p, tmp_path / "i" / p.name)
        shutil.copy(masks / f"{p.stem}.png", tmp_path / "m" / f"{p.stem}.png")
    (tmp_path / "i" / "0100.jpg").write_bytes(b"not a jpeg")  # unreadable, validation stem
    (tmp_path / "m" / "0100.png").write_bytes(b"not a png")
    shutil.copy(images / "0001.jpg", tmp_path / "i" / "0999.jpg")  # no mask
    logged = []
    record = train(TrainSettings(images=tmp_path / "i", masks=tmp_path / "m", out=tmp_path / "o", epochs=1, batch_size=2,
                                 max_steps_per_epoch=1, long_side=96, device="cpu"), log=logged.append)
    text = "\n".join(logged)
    assert "0999.jpg: no mask" in text and "0100" in text
    assert record["train_images"] == 5


def test_fixed_split_is_numeric_stem_divisible_by_ten(people_dirs):
    pairs, _ = find_pairs(*people_dirs)
    assert sorted(p.stem for p in pairs if is_validation(p.stem)) == ["0010", "0020"]


def test_init_copies_every_tensor_with_matching_name_and_shape(trained):
    import segmentation_models_pytorch as smp

    from seg.train import copy_matching_weights

    settings, _ = trained
    source = load_model(settings.out)
    wide = smp.create_model("Unet", encoder_name="tu-efficientnet_lite0", encoder_weights=None, classes=1,
                            decoder_channels=(128, 64, 48, 32, 16))
    copied, total = copy_matching_weights(source, wide)
    encoder_keys = [k for k in wide.state_dict() if k.startswith("encoder.")]
    assert len(encoder_keys) <= copied < total  # the encoder matches, the wider decoder does not
    for key in encoder_keys:
        assert torch.equal(wide.state_dict()[key], source.state_dict()[key])


def test_slimmer_decoder_started_from_a_saved_model_trains_saves_and_loads(trained, tmp_path, capsys):
    settings, _ = trained
    images, masks, out = settings.images, settings.masks, tmp_path / "slim"
    assert main(["train", "--images", str(images), "--masks", str(masks), "--out", str(out), "--epochs", "1",
                 "--max-steps", "1", "--batch-size", "4", "--size", "128", "--device", "cpu", "--init", str(settings.out),
                 "--decoder-channels", "64,32,24,8,8", "--crowd-rows", "0.5"]) == 0
    assert json.loads((out / "config.json").read_text())["decoder_channels"] == [64, 32, 24, 8, 8]
    card = (out / "README.md").read_text()
    assert "--init " in card and "--decoder-channels 64,32,24,8,8" in card and "--crowd-rows 0.5" in card
    slim, source = load_model(out), load_model(settings.out)
    assert slim.decoder.blocks[3].conv2[0].out_channels == 8
    for key in ("encoder.model.conv_stem.weight", "decoder.blocks.0.conv1.0.weight"):  # unchanged widths: started from it
        torch.testing.assert_close(slim.state_dict()[key], source.state_dict()[key], atol=0.01, rtol=0)  # one step away
    assert slim.state_dict()["decoder.blocks.3.conv1.0.weight"].shape != source.state_dict()["decoder.blocks.3.conv1.0.weight"].shape
    frames = np.random.default_rng(0).integers(0, 255, (2, 64, 36, 3), dtype=np.uint8)
    assert Segmenter(SegmenterSettings(model=str(out), device="cpu"))(frames).shape == (2, 64, 36)


@pytest.mark.parametrize("value", ["64,32,24,8", "64,32,x,8,8", "64,32,24,8,0"])
def test_bad_decoder_channels_are_a_one_line_usage_error(people_dirs, tmp_path, capsys, value):
    images, masks = people_dirs
    code = main(["train", "--images", str(images), "--masks", str(masks), "--out", str(tmp_path / "m"),
                 f"--decoder-channels={value}"])
    err = capsys.readouterr().err
    assert code == 2 and "--decoder-channels" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def body_tilts(people, settings: AugmentSettings) -> np.ndarray:
    """Degrees between each augmented matte's long axis and the vertical (0 upright, 90 lying)."""
    rng, backgrounds, tilts = np.random.default_rng(0), BackgroundBank(people), []
    for i in range(24):
        _, matte = augmented_sample(people[i % len(people)], rng, settings, True, backgrounds)
        m = cv2.moments((matte > 0.5).astype(np.uint8), binaryImage=True)
        axis_from_x = 0.5 * np.degrees(np.arctan2(2 * m["mu11"], m["mu20"] - m["mu02"]))
        tilts.append(90 - abs(axis_from_x))
    return np.array(tilts)


def test_any_angle_augmentation_lays_bodies_down(people_dirs):
    """Floor work: with ``any_angle`` bodies come at every angle, without it they only lean."""
    people = load_people(find_pairs(*people_dirs)[0])[0]
    upright = body_tilts(people, AugmentSettings(close_up=0, any_angle=0))
    anywhere = body_tilts(people, AugmentSettings(close_up=0, any_angle=1))
    assert upright.max() < 45 and (anywhere > 45).sum() >= 6


def test_far_augmentation_makes_small_dancers(people_dirs):
    """Distant dancers: with ``far`` every replaced-background body is under half the canvas height."""
    people = load_people(find_pairs(*people_dirs)[0])[0]
    settings = AugmentSettings(close_up=0, any_angle=0, far=1, replace_background=1)
    rng, backgrounds = np.random.default_rng(0), BackgroundBank(people)
    for i in range(12):
        _, matte = augmented_sample(people[i % len(people)], rng, settings, True, backgrounds)
        rows = np.flatnonzero((matte > 0.5).any(axis=1))
        assert 0 < rows[-1] - rows[0] + 1 < 0.5 * matte.shape[0]


def test_companion_augmentation_makes_everyone_person(people_dirs):
    """Duets and bystanders: with ``companion`` a second person stands behind, and the target covers both."""
    people = load_people(find_pairs(*people_dirs)[0])[0]
    backgrounds = BackgroundBank(people)

    def mean_area(share: float) -> float:
        settings = AugmentSettings(close_up=0, any_angle=0, far=0, replace_background=1, companion=share)
        rng, areas = np.random.default_rng(0), []
        for i in range(16):
            image, matte = augmented_sample(people[i % len(people)], rng, settings, True, backgrounds, (people[(i + 1) % len(people)],))
            assert matte.max() <= 1 and image.shape[:2] == matte.shape
            areas.append((matte > 0.5).mean())
        return float(np.mean(areas))

    assert mean_area(1.0) > 1.2 * mean_area(0.0)


def test_small_people_augmentation_adds_people_far_off_all_person(people_dirs):
    """Passers-by and audiences: with ``small_people`` small people stand behind, each of them in the target."""
    people = load_people(find_pairs(*people_dirs)[0])[0]
    backgrounds = BackgroundBank(people)

    def small_figures(share: float) -> int:
        settings = AugmentSettings(close_up=0, any_angle=0, far=0, replace_background=1, companion=0, small_people=share)
        rng, found = np.random.default_rng(0), 0
        for i in range(8):
            others = tuple(people[(i + k) % len(people)] for k in range(1, 7))
            _, matte = augmented_sample(people[i % len(people)], rng, settings, True, backgrounds, others)
            _, _, stats, _ = cv2.connectedComponentsWithStats((matte > 0.5).astype(np.uint8))
            found += int((stats[1:, cv2.CC_STAT_HEIGHT] <= 0.31 * matte.shape[0]).sum())
        return found

    assert small_figures(0.0) == 0 and small_figures(1.0) >= 8  # about one apart per canvas (others overlap or touch)


def test_crowd_rows_stand_people_of_one_size_on_one_line_all_person(people_dirs):
    """Audiences and lines of dancers: with ``crowd_rows`` three or more people of about one size stand side by side
    behind the person, their feet on one line, each of them in the target."""
    people = load_people(find_pairs(*people_dirs)[0])[0]
    backgrounds = BackgroundBank(people)

    def rows(share: float) -> list[np.ndarray]:
        settings = AugmentSettings(close_up=0, any_angle=0, far=0, replace_background=1, companion=0, small_people=0,
                                   crowd_rows=share, motion_blur=0)
        rng, found = np.random.default_rng(0), []
        for i in range(8):
            others = tuple(people[(i + k) % len(people)] for k in range(1, 7))
            _, matte = augmented_sample(people[i % len(people)], rng, settings, True, backgrounds, others)
            _, _, stats, _ = cv2.connectedComponentsWithStats((matte > 0.5).astype(np.uint8))
            short = stats[1:][stats[1:, cv2.CC_STAT_HEIGHT] <= 0.5 * matte.shape[0]]
            found.append((short[:, cv2.CC_STAT_TOP] + short[:, cv2.CC_STAT_HEIGHT]) / matte.shape[0])
        return found

    assert all(len(feet) <= 1 for feet in rows(0.0))  # the person alone, short at most
    with_rows = [feet for feet in rows(1.0) if len(feet) >= 2]
    assert len(with_rows) >= 6  # people apart or touching: at least two separate figures on most canvases
    assert all(np.ptp(feet) < 0.2 for feet in with_rows)  # feet within a fifth of the height: one ground line


@pytest.mark.timeout(180)
def test_batches_are_the_same_from_any_number_of_worker_processes(people_dirs):
    """Batches depend on (seed, epoch, step) only, also with workers forked after OpenCV started its threads."""
    cv2.resize(np.zeros((2000, 2000), np.float32), (3000, 3000))  # OpenCV's pool threads are now running
    people = load_people(find_pairs(*people_dirs)[0])[0]
    base = TrainSettings(images=people_dirs[0], masks=people_dirs[1], out=people_dirs[0], batch_size=3, long_side=96)
    made = [next(iter(BatchMaker(people, TrainSettings(**{**base.__dict__, "workers": n})).epoch(5, 1))) for n in (0, 2)]
    for first, second in zip(*made):
        torch.testing.assert_close(first, second)


def test_whole_photo_backgrounds_have_the_person_painted_out():
    """``whole_photos``: each photo also gives its scene without the person, filled from the surroundings."""
    yy, xx = np.mgrid[0:120, 0:80]
    scene = np.dstack([40 + xx, 90 + yy // 4, np.full_like(xx, 150)]).astype(np.uint8)  # a smooth real-ish backdrop
    alpha = (((xx - 40) / 18.0) ** 2 + ((yy - 60) / 40.0) ** 2 < 1).astype(np.float32)
    photo = np.where(alpha[..., None] > 0, np.uint8([255, 0, 0]), scene)  # a red person
    person = Person(photo, alpha)
    without = painted_out(person)
    assert without.shape == photo.shape
    assert np.abs(without.astype(int) - scene).max() < 40  # no red left: the backdrop carried across
    outside = cv2.dilate(alpha.astype(np.uint8), np.ones((15, 15), np.uint8)) == 0
    assert np.array_equal(without[outside], photo[outside])  # nothing changes away from the person
    strips = BackgroundBank([person], min_width=8)
    whole = BackgroundBank([person], min_width=8, whole_photos=True)
    assert len(whole.pictures) == len(strips.pictures) + 1 and np.array_equal(whole.pictures[-1], without)


def test_real_frames_keep_their_target_aligned_and_weighted_in_the_batches(people_dirs, tmp_path):
    """A real frame is cut to the canvas with its target in register; its weight reaches the loss."""
    rgb = np.zeros((300, 400, 3), np.uint8)
    rgb[:, 200:] = 255  # the right half is the "person"
    target = (rgb[..., 0] > 0).astype(np.float32)
    rng = np.random.default_rng(0)
    for portrait in (True, False):
        image, cut = real_frame_sample(RealFrame(rgb, target, 0.4), rng, AugmentSettings(long_side=128, short_side=96), portrait)
        assert image.shape[:2] == cut.shape == ((128, 96) if portrait else (96, 128))
        bright = image.mean(axis=2) > 127
        assert iou(bright, cut > 0.5) > 0.9 or not (bright.any() or (cut > 0.5).any())
    people = load_people(find_pairs(*people_dirs)[0])[0]
    settings = TrainSettings(images=people_dirs[0], masks=people_dirs[1], out=tmp_path, batch_size=8, long_side=96, real_share=0.5, workers=0)
    labelled, photos = (RealFrame(rgb, target, 0.4),), tuple(person_free_frames([write_photo(tmp_path / "street.jpg")]))
    images, targets, weights = next(iter(BatchMaker(people, settings, labelled, photos).epoch(0, 1)))
    assert images.shape[0] == 8 and set(weights.tolist()) == {1.0, np.float32(0.4).item()}  # composites and the empty photo weigh 1
    peaks = targets.flatten(1).amax(dim=1)
    assert (peaks == 0).any() and (peaks[weights == 1] > 0).any()  # an empty photo and a pasted person


def test_real_frames_cut_close_show_their_person_large_and_in_register():
    """``real_close``: the labelled person fills the canvas as ``seg.zoom``'s squares show people; otherwise a
    small person stays small. A person at the frame's edge is cut with the edge repeated, not shifted."""
    rgb = np.full((720, 1280, 3), 40, np.uint8)
    target = np.zeros((720, 1280), np.float32)
    for x0 in (600, 0):  # mid-frame, then at the left edge
        rgb[:, :, :], target[:] = 40, 0
        rgb[300:420, x0 : x0 + 40], target[300:420, x0 : x0 + 40] = 255, 1  # a person 1/6 of the frame tall
        frame = RealFrame(rgb, target, 0.5)
        for close, low, high in ((1.0, 1 / 1.7, 1 / 1.05), (0.0, 0.0, 0.35)):
            settings = AugmentSettings(long_side=128, short_side=96, real_close=close, motion_blur=0, jpeg=0)
            for seed in range(4):
                image, cut = real_frame_sample(frame, np.random.default_rng(seed), settings, portrait=True)
                rows = np.flatnonzero((cut > 0.5).any(axis=1))
                assert len(rows) == 0 or low <= len(rows) / cut.shape[0] <= high, (close, x0, len(rows))
                assert iou(image.mean(axis=2) > 127, cut > 0.5) > 0.8 or not (cut > 0.5).any()


def test_shares_outside_zero_to_one_are_refused(people_dirs, tmp_path):
    for share in ("real_share", "person_free_share", "real_close", "captions", "crowd_rows"):
        with pytest.raises(TrainingError, match="between 0 and 1"):
            TrainSettings(images=people_dirs[0], masks=people_dirs[1], out=tmp_path, **{share: 1.5})


def test_person_free_photos_keep_their_share_of_the_real_frames_however_many_labelled_frames_there_are(people_dirs, tmp_path):
    """More labelled frames must not crowd out the empty photos: the split between the two pools is a setting."""
    people = load_people(find_pairs(*people_dirs)[0])[0]
    labelled = tuple(RealFrame(np.full((60, 80, 3), k, np.uint8), np.ones((60, 80), np.float32), 0.4) for k in range(9))
    photos = tuple(person_free_frames([write_photo(tmp_path / "street.jpg")]))

    def photo_share(share: float) -> float:
        settings = TrainSettings(images=people_dirs[0], masks=people_dirs[1], out=tmp_path, batch_size=8, long_side=64,
                                 real_share=1.0, person_free_share=share, workers=0)
        weights = torch.cat([w for _, _, w in BatchMaker(people, settings, labelled, photos).epoch(0, 4)])
        return float((weights == 1).float().mean())  # the photos weigh 1, the labelled frames 0.4

    assert photo_share(0.0) == 0 and photo_share(1.0) == 1 and 0.25 <= photo_share(0.5) <= 0.75  # 1 photo of 10 frames: 0.1 by pool size


def write_photo(path):
    photo = np.random.default_rng(1).integers(0, 255, (90, 160, 3), dtype=np.uint8)
    cv2.imwrite(str(path), photo)
    return path


def test_a_sample_weighing_nothing_does_not_move_the_loss():
    logits = torch.randn(2, 1, 8, 8)
    targets = torch.stack([torch.ones(1, 8, 8), torch.zeros(1, 8, 8)])
    only_first = loss_fn(logits[:1], targets[:1])
    assert loss_fn(logits, targets, torch.tensor([1.0, 0.0])).item() == pytest.approx(only_first.item(), rel=1e-6)
    assert loss_fn(logits, targets).item() == pytest.approx(loss_fn(logits, targets, torch.ones(2)).item(), rel=1e-6)


def test_person_free_photos_on_the_check_side_are_left_out(tmp_path):
    from seg.splits import NO_PEOPLE_SPLIT, files_on
    from seg.train import person_free_training_frames

    held_out = files_on("check", NO_PEOPLE_SPLIT)[0]
    for name in (held_out, "my own street.jpg"):
        write_photo(tmp_path / name)
    lines = []
    frames = person_free_training_frames((tmp_path,), lines.append)
    assert len(frames) == 1 and frames[0].target.max() == 0
    assert lines == ["left out 1 person-free photos on the check side of no-people.csv"]


def test_labelled_frames_of_clips_not_on_the_train_side_are_left_out(tmp_path):
    """Check clips and check-only clips (not in the split at all) never reach training, whatever folder they sit in."""
    import json

    from seg.train import labelled_training_frames

    for folder in ("images", "labels", "meta"):
        (tmp_path / folder).mkdir()
    for stem, clip, agreement in (("dog_1", "sam2__01_dog.mp4", 0.8), ("bed_1", "sam2__bedroom.mp4", 0.9),
                                  ("dance_1", "mimicmotion__raw_0.mp4", 0.9)):
        write_photo(tmp_path / "images" / f"{stem}.jpg")
        cv2.imwrite(str(tmp_path / "labels" / f"{stem}.png"), np.full((90, 160), 255, np.uint8))
        (tmp_path / "meta" / f"{stem}.json").write_text(json.dumps({"clip": clip, "agreement": agreement}))
    lines = []
    (frame,) = labelled_training_frames(tmp_path, lines.append)
    assert frame.weight == pytest.approx(0.8) and frame.target.shape == (90, 160) and frame.target.min() == 1.0
    assert lines == ["left out 2 labelled frames of clips not on the train side of real-clips.csv"]
