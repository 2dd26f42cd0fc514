"""Training data: image/mask pairing, the fixed validation split and augmented samples.

Augmentation targets dance footage: background replacement, scale/crop/rotation (a share
of bodies at any angle, for floor work), close-ups (head and upper body filling the frame, as in selfie-style clips), mirroring, colour and light jitter, blur and motion blur, noise,
burned-in captions and JPEG artefacts, people behind (a second person, passers-by far off, a row of an audience),
on both 9:16 (portrait) and 16:9 (landscape) canvases.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from seg.captions import draw_caption
from seg.composite import Person, Placement, padded_crop, paste, placement_matrix, procedural_background, warp

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


@dataclass(frozen=True)
class Pair:
    stem: str
    image: Path
    mask: Path


def find_pairs(images_dir: Path, masks_dir: Path) -> tuple[list[Pair], list[str]]:
    """Pair images with masks by file stem; return the pairs and one problem line per unpaired image."""
    masks = {p.stem: p for p in sorted(masks_dir.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}
    pairs, problems = [], []
    for image in sorted(images_dir.iterdir()):
        if image.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if image.stem in masks:
            pairs.append(Pair(image.stem, image, masks[image.stem]))
        else:
            problems.append(f"{image.name}: no mask named {image.stem}.*")
    return pairs, problems


def is_validation(stem: str) -> bool:
    """The fixed split: numeric stems divisible by 10 (the CCP convention), else a stable 10% hash split."""
    if stem.isdigit():
        return int(stem) % 10 == 0
    return zlib.crc32(stem.encode()) % 10 == 0


def load_people(pairs: list[Pair]) -> tuple[list[Person], list[str]]:
    """Load every pair, skipping (and reporting by name) unreadable files and size mismatches."""
    people, problems = [], []
    for pair in pairs:
        try:
            people.append(Person.load(pair.image, pair.mask))
        except ValueError as exc:
            problems.append(str(exc))
    return people, problems


def data_hash(pairs: list[Pair]) -> str:
    """SHA-256 over the names and bytes of every image and mask, in stem order."""
    digest = hashlib.sha256()
    for pair in pairs:
        for path in (pair.image, pair.mask):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


class BackgroundBank:
    """Person-free backgrounds: real pictures from the photos, or procedural clutter.

    Many training photos are street scenes; the full-height columns left and right of the
    person's matte hold no person and give real textures (walls, shop fronts, pavements).
    With ``whole_photos`` each photo also gives its whole scene with the person painted out
    (``painted_out``): wider real context than a strip (a road, a building front), which
    the strips alone left the model to hallucinate people on. ``person_free`` adds real photos
    with nobody in them (streets, murals, statues): people are pasted onto exactly the scenes
    the model must learn to leave out.
    """

    def __init__(self, people: list[Person], min_width: int = 48, real_share: float = 0.5, whole_photos: bool = False,
                 person_free: tuple[np.ndarray, ...] = ()) -> None:
        self.pictures = [picture for person in people
                         for picture in person_free_strips(person, min_width) + ([painted_out(person)] if whole_photos else [])]
        self.person_free = person_free
        self.real_share = real_share if self.pictures or person_free else 0.0

    def sample(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        """Procedural clutter or a crop of a real picture; half of the real ones person-free photos when there are any."""
        if rng.random() >= self.real_share:
            return procedural_background(rng, height, width)
        pool = self.person_free if self.person_free and (not self.pictures or rng.random() < 0.5) else self.pictures
        strip = pool[rng.integers(len(pool))]
        scale = max(height / strip.shape[0], width / strip.shape[1]) * rng.uniform(1.0, 1.5)
        resized = cv2.resize(strip, (max(width, round(strip.shape[1] * scale)), max(height, round(strip.shape[0] * scale))))
        y = rng.integers(resized.shape[0] - height + 1)
        x = rng.integers(resized.shape[1] - width + 1)
        crop = resized[y : y + height, x : x + width]
        return crop[:, ::-1].copy() if rng.random() < 0.5 else crop


def painted_out(person: Person, grow_px: int = 7) -> np.ndarray:
    """The photo with its person (matte grown by ``grow_px``) painted out from the surroundings (OpenCV Telea inpainting)."""
    size = 2 * grow_px + 1
    hole = cv2.dilate((person.alpha > 0.05).astype(np.uint8), np.ones((size, size), np.uint8))
    return cv2.inpaint(person.rgb, hole, 5, cv2.INPAINT_TELEA)


def person_free_strips(person: Person, min_width: int) -> list[np.ndarray]:
    """The full-height column strips left and right of the matte, when wide enough."""
    columns = np.flatnonzero(person.alpha.max(axis=0) > 0)
    if columns.size == 0:
        return [person.rgb]
    margin = 4
    left, right = person.rgb[:, : max(columns[0] - margin, 0)], person.rgb[:, columns[-1] + 1 + margin :]
    return [s for s in (left, right) if s.shape[1] >= min_width]


@dataclass(frozen=True)
class AugmentSettings:
    long_side: int = 256
    short_side: int = 160  # 9:16 or 16:9 canvases, padded to multiples of 32
    replace_background: float = 0.6
    motion_blur: float = 0.3
    jpeg: float = 0.4
    close_up: float = 0.15  # share of canvases cropped to the head and upper body
    any_angle: float = 0.15  # share of bodies at any angle (floor work, rolls, handstands), the rest lean +-12 deg
    far: float = 0.1  # share of replaced-background canvases with a small, distant body (12-45% of the height)
    companion: float = 0.25  # share of replaced-background canvases with a second person behind (also person)
    small_people: float = 0.2  # share of replaced-background canvases with 2-5 people far off (7-30% of the height)
    crowd_rows: float = 0.0  # share of replaced-background canvases with a row of 3-6 people of one size (15-45% of the
    # height) behind a person no taller than twice theirs: an audience, a line of dancers
    real_close: float = 0.0  # share of labelled real frames cut close around their person, as seg.zoom looks at them
    captions: float = 0.0  # share of canvases with a burned-in caption (seg.captions): not person, even over a body


def canvas_size(settings: AugmentSettings, portrait: bool) -> tuple[int, int]:
    """(height, width) of a training canvas."""
    return (settings.long_side, settings.short_side) if portrait else (settings.short_side, settings.long_side)


def augmented_sample(
    person: Person, rng: np.random.Generator, settings: AugmentSettings, portrait: bool, backgrounds: BackgroundBank,
    others: Sequence[Person] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """One training canvas: RGB uint8 (h, w, 3) and target matte float32 (h, w).

    ``others`` may stand behind on replaced backgrounds: the first as a second person (a duet, a
    bystander), the rest as small people far off (passers-by, an audience), or all of them in a row of one
    size with the person in front (``crowd_rows``). Every person in frame is person, so the network learns
    neither to keep only one nor that wide real scenes are empty.
    """
    h, w = canvas_size(settings, portrait)
    background = backgrounds.sample(rng, h, w)
    replace = rng.random() < settings.replace_background
    behind = np.zeros((h, w), np.float32)
    in_row = replace and len(others) > 2 and settings.crowd_rows and rng.random() < settings.crowd_rows
    if in_row:
        background, behind, row_height, ground = row_of_people(background, others[: int(rng.integers(3, len(others) + 1))], rng)
    elif replace and len(others) > 2 and settings.small_people and rng.random() < settings.small_people:
        background, behind = far_off(background, others[1 : int(rng.integers(3, len(others) + 1))], rng)
    if replace and others and not in_row and rng.random() < settings.companion:
        spot = Placement(center_x=w * rng.uniform(0.05, 0.95), center_y=h * rng.uniform(0.4, 0.7),
                         height=h * rng.uniform(0.4, 1.0), angle_deg=rng.normal(0, 10), mirror=bool(rng.random() < 0.5))
        background, companion = paste(background, others[0].cropped(), spot)
        behind = companion + behind * (1 - companion)
    source = person.cropped() if replace else person
    body_height = h * rng.uniform(0.45, 1.25) if replace else h * rng.uniform(0.9, 1.6)
    center_y = h * rng.uniform(0.35, 0.75)
    angle_deg = rng.normal(0, 12)
    if in_row:  # in front of the row: its feet lower, its size up to twice theirs
        body_height = row_height * rng.uniform(0.8, 2.0)
        center_y = ground + h * rng.uniform(0.0, 0.1) - body_height / 2
    elif rng.random() < settings.close_up:  # the head near the top edge, the legs far below the frame
        body_height = h * rng.uniform(1.8, 3.5)
        center_y = h * rng.uniform(-0.05, 0.15) + body_height / 2
    elif settings.any_angle and rng.random() < settings.any_angle:  # sized to the canvas along the body
        angle_deg = rng.uniform(-180, 180)
        along = abs(np.cos(np.radians(angle_deg))) * h + abs(np.sin(np.radians(angle_deg))) * w
        body_height = along * rng.uniform(0.5, 1.1)
        center_y = h * rng.uniform(0.3, 0.8)
    elif replace and settings.far and rng.random() < settings.far:  # a dancer far from the camera
        body_height = h * rng.uniform(0.12, 0.45)
    where = Placement(
        center_x=w * rng.uniform(0.2, 0.8),
        center_y=center_y,
        height=body_height,
        angle_deg=angle_deg,
        mirror=bool(rng.random() < 0.5),
    )
    if replace:
        image, target = paste(background, source, where)
        target = target + behind * (1 - target)
    else:
        coverage = Person(source.rgb, np.ones_like(source.alpha))
        image, _ = paste(background, coverage, where)
        target = warp(source.alpha, placement_matrix(source.alpha.shape, where), (w, h))
    return camera_effects(image, target, rng, settings)


def far_off(background: np.ndarray, people: Sequence[Person], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``people`` pasted small (7-30% of the height) with their feet near one ground line: the canvas and their matte."""
    h, w = background.shape[:2]
    ground = h * rng.uniform(0.45, 0.95)
    matte = np.zeros((h, w), np.float32)
    for other in people:
        height = h * rng.uniform(0.07, 0.3)
        spot = Placement(center_x=w * rng.uniform(0.0, 1.0), center_y=ground + h * rng.uniform(-0.08, 0.08) - height / 2,
                         height=height, angle_deg=rng.normal(0, 5), mirror=bool(rng.random() < 0.5))
        background, alpha = paste(background, other.cropped(), spot)
        matte = alpha + matte * (1 - alpha)
    return background, matte


def row_of_people(background: np.ndarray, people: Sequence[Person],
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float, float]:
    """``people`` of one size (15-45% of the height, each within a tenth of it) standing side by side on one ground
    line across the canvas, touching or apart: the canvas, their matte, their height and the ground line (pixels)."""
    h, w = background.shape[:2]
    height = h * rng.uniform(0.15, 0.45)
    ground = h * rng.uniform(0.5, 0.95)
    span = w * rng.uniform(0.7, 1.3)
    step = span / len(people)
    left = w / 2 - span / 2 + step / 2
    matte = np.zeros((h, w), np.float32)
    for k in rng.permutation(len(people)):
        size = height * rng.uniform(0.9, 1.1)
        spot = Placement(center_x=left + k * step + step * rng.uniform(-0.25, 0.25),
                         center_y=ground + h * rng.uniform(-0.03, 0.03) - size / 2,
                         height=size, angle_deg=rng.normal(0, 4), mirror=bool(rng.random() < 0.5))
        background, alpha = paste(background, people[k].cropped(), spot)
        matte = alpha + matte * (1 - alpha)
    return background, matte, height, ground


def camera_effects(image: np.ndarray, target: np.ndarray, rng: np.random.Generator,
                   settings: AugmentSettings) -> tuple[np.ndarray, np.ndarray]:
    """Colour and light jitter, motion or focus blur (the target blurred with the motion), sensor noise, a burned-in
    caption (drawn after the camera, before the compression; an opaque box hides the person behind it), JPEG."""
    image = photometric(image, rng)
    if rng.random() < settings.motion_blur:
        kernel = motion_kernel(rng)
        image = cv2.filter2D(image, -1, kernel)
        target = cv2.filter2D(target, -1, kernel)
    elif rng.random() < 0.3:
        sigma = rng.uniform(0.3, 1.5)
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    image = sensor_noise(image, rng)
    if settings.captions and rng.random() < settings.captions:
        caption = draw_caption(image, rng)
        image, target = caption.image, np.where(caption.hidden, 0.0, target)
    if rng.random() < settings.jpeg:
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 70))])
        image = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    return image, np.clip(target, 0, 1).astype(np.float32)


@dataclass(frozen=True)
class RealFrame:
    """A real picture with its per-pixel person target: a teacher-labelled video frame, or a person-free photo.

    ``weight`` is how far the target is trusted in the loss: the teachers' agreement for a
    labelled frame, 1 for a person-free photo (every pixel is certainly not a person).
    """

    rgb: np.ndarray  # (H, W, 3) uint8
    target: np.ndarray  # (H, W) float32 0..1
    weight: float = 1.0


def read_rgb(path: Path, max_side: int) -> np.ndarray:
    """An image file as RGB uint8, shrunk (area filter) so its long side is at most ``max_side``."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"{path.name}: not a readable image")
    scale = max_side / max(bgr.shape[:2])
    if scale < 1:
        bgr = cv2.resize(bgr, (round(bgr.shape[1] * scale), round(bgr.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def person_free_frames(paths: list[Path], max_side: int = 960) -> list[RealFrame]:
    """Photos with nobody in them as training frames whose target is empty everywhere."""
    frames = []
    for path in paths:
        rgb = read_rgb(path, max_side)
        frames.append(RealFrame(rgb, np.zeros(rgb.shape[:2], np.float32)))
    return frames


def real_frame_sample(frame: RealFrame, rng: np.random.Generator, settings: AugmentSettings,
                      portrait: bool) -> tuple[np.ndarray, np.ndarray]:
    """One training canvas cut from a real frame: a random crop of the canvas's shape (60-100% of the
    largest that fits) or, for ``real_close`` of the frames with someone in them, a crop close around
    the labelled person (``close_box``), mirrored half the time, with the same camera effects as the composites."""
    h, w = canvas_size(settings, portrait)
    height, width = frame.rgb.shape[:2]
    person = cv2.boundingRect((frame.target > 0.5).view(np.uint8))
    if person[2] and rng.random() < settings.real_close:
        x, y, crop_w, crop_h = close_box(person, h / w, rng)
    else:
        largest = min(height, width * h / w)
        crop_h = max(1, round(largest * rng.uniform(0.6, 1.0)))
        crop_w = max(1, min(width, round(crop_h * w / h)))
        y, x = int(rng.integers(height - crop_h + 1)), int(rng.integers(width - crop_w + 1))
    image = cv2.resize(padded_crop(frame.rgb, x, y, x + crop_w, y + crop_h), (w, h), interpolation=cv2.INTER_AREA)
    target = cv2.resize(padded_crop(frame.target, x, y, x + crop_w, y + crop_h), (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        image, target = image[:, ::-1].copy(), target[:, ::-1].copy()
    return camera_effects(image, target, rng, settings)


def close_box(person: tuple[int, int, int, int], aspect: float, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """x, y, width, height of a crop of ``aspect`` (height / width) around a person's (x, y, width, height) box:
    1.1-1.6 times the smallest such crop that holds the box, its centre moved up to a tenth of its size;
    like the squares ``seg.zoom`` cuts (it may reach beyond the picture: ``padded_crop`` fills that in)."""
    x, y, width, height = person
    crop_h = max(height, width * aspect) * rng.uniform(1.1, 1.6)
    crop_w = crop_h / aspect
    cx, cy = x + width / 2 + rng.uniform(-0.1, 0.1) * crop_w, y + height / 2 + rng.uniform(-0.1, 0.1) * crop_h
    return round(cx - crop_w / 2), round(cy - crop_h / 2), max(1, round(crop_w)), max(1, round(crop_h))


def photometric(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast, saturation, hue and gamma jitter."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-10, 10)) % 180
    hsv[..., 1] *= rng.uniform(0.6, 1.4)
    out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32) / 255
    out = out ** rng.uniform(0.7, 1.4)
    out = (out - 0.5) * rng.uniform(0.7, 1.3) + 0.5 + rng.uniform(-0.15, 0.15)
    return np.clip(out * 255, 0, 255).astype(np.uint8)


def motion_kernel(rng: np.random.Generator) -> np.ndarray:
    """A normalised line kernel of random length and direction."""
    return line_kernel(int(rng.integers(3, 12)), rng.uniform(0, 180))


def line_kernel(length: int, angle_deg: float) -> np.ndarray:
    """A normalised line kernel: motion blur of ``length`` pixels at ``angle_deg``."""
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1
    rotation = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle_deg, 1)
    kernel = cv2.warpAffine(kernel, rotation, (length, length))
    return kernel / max(kernel.sum(), 1e-6)


def sensor_noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise of random strength (phone sensors in dim rooms)."""
    sigma = rng.uniform(0, 8)
    if sigma < 1:
        return image
    return np.clip(image + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)
