"""Burned-in captions: the text and boxes that phone apps draw over a clip, which are not person.

Vertical dance clips often carry them (a hook line, lyrics, "part 2"), over or beside the dancer, and
a network that has never seen them takes the letters touching the dancer for part of her. Training
draws them on a share of its canvases (``seg.data``, ``--captions``) in Pillow's built-in sans font;
``benchmarks/captions.py`` draws them with OpenCV's putText faces too (Hershey strokes in OpenCV 4, an embedded sans in OpenCV 5),
which training never sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

STYLES = ("outline", "plain", "box", "translucent box")
FONTS = ("sans", "opencv")  # Pillow's built-in sans (training); OpenCV's putText faces, unseen in training
OPENCV_FACES = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX)
LETTERS = "abcdefghijklmnopqrstuvwxyzeeaaoiutnsrh"
SIGNS = "#@!?.'"
WHITE = (255, 255, 255)


@dataclass(frozen=True)
class Caption:
    """A picture with a caption drawn on it and where the caption lies."""

    image: np.ndarray  # (H, W, 3) uint8
    covered: np.ndarray  # (H, W) bool: every pixel the caption drew on (letters, their outline, its box)
    hidden: np.ndarray  # (H, W) bool: pixels whose content an opaque box hides (not person, whatever was behind)


def caption_text(rng: np.random.Generator) -> list[str]:
    """One to three lines of two to five made-up words, a sign now and then (the letters matter, not the sense)."""
    lines = []
    for _ in range(int(rng.integers(1, 4))):
        words = []
        for _ in range(int(rng.integers(2, 6))):
            word = "".join(rng.choice(list(LETTERS), int(rng.integers(2, 8))))
            word = word.capitalize() if rng.random() < 0.3 else word.upper() if rng.random() < 0.15 else word
            words.append(word + (rng.choice(list(SIGNS)) if rng.random() < 0.15 else ""))
        lines.append(" ".join(words))
    return lines


@lru_cache(maxsize=64)
def sans(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def colour(rng: np.random.Generator) -> tuple[int, int, int]:
    """White or yellow most often, as captions are, else any colour."""
    choice = rng.random()
    if choice < 0.5:
        return WHITE
    if choice < 0.65:
        return (255, 230, 40)
    return tuple(int(c) for c in rng.integers(0, 256, 3))


def draw_caption(rgb: np.ndarray, rng: np.random.Generator, style: str | None = None, font: str = "sans") -> Caption:
    """``rgb`` with a caption in ``style`` (random when None) and ``font`` at a random height of the picture."""
    style = style or STYLES[int(rng.integers(len(STYLES)))]
    h, w = rgb.shape[:2]
    size = max(8, round(h * rng.uniform(0.028, 0.06)))
    lines = caption_text(rng)
    layer = np.zeros((h, w), np.uint8)  # 255 where the caption draws
    boxes = np.zeros((h, w), np.uint8)
    image = rgb.copy()
    fill = colour(rng)
    face = OPENCV_FACES[int(rng.integers(len(OPENCV_FACES)))] if font == "opencv" else None
    outline = max(1, size // 10) if style == "outline" else 0
    y = round(h * rng.uniform(0.05, 0.85))
    for line in lines:
        text_w, text_h, top = text_extent(line, size, face, outline)
        while text_w > 0.92 * w and " " in line:  # wrapped to the picture's width, as apps do
            line = line.rsplit(" ", 1)[0]
            text_w, text_h, top = text_extent(line, size, face, outline)
        x = round(np.clip((w - text_w) / 2 + rng.uniform(-0.1, 0.1) * w, 0.02 * w, max(0.02 * w, 0.98 * w - text_w)))
        if style.endswith("box"):
            pad = max(2, size // 4)
            box = np.zeros((h, w), np.uint8)
            cv2.rectangle(box, (x - pad, y + top - pad), (x + text_w + pad, y + top + text_h + pad), 255, -1)
            opacity = 1.0 if style == "box" else rng.uniform(0.35, 0.7)
            box_colour = np.array(WHITE if fill != WHITE else (0, 0, 0) if rng.random() < 0.5 else rng.integers(0, 256, 3),
                                  np.float32)
            alpha = (box > 0)[..., None] * opacity
            image = (image * (1 - alpha) + box_colour * alpha).astype(np.uint8)
            layer |= box
            if style == "box":
                boxes |= box
        image, drawn = draw_line(image, line, (x, y), size, face, fill, outline)
        layer |= drawn
        y += round(text_h * 1.35) + (size // 2 if style.endswith("box") else 0)
    return Caption(image, layer > 0, boxes > 0)


def text_extent(line: str, size: int, face: int | None, outline: int) -> tuple[int, int, int]:
    """Width, height and top offset of ``line`` drawn at (0, 0) in Pillow's sans (``face`` None) or an OpenCV face."""
    if face is None:
        left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), line, font=sans(size),
                                                                                   stroke_width=outline)
        return right - left, bottom - top, top
    (text_w, text_h), baseline = cv2.getTextSize(line, face, size / 30, max(1, size // 12))
    return text_w + 2 * outline, text_h + baseline + 2 * outline, -outline


def draw_line(image: np.ndarray, line: str, at: tuple[int, int], size: int, face: int | None,
              fill: tuple[int, int, int], outline: int) -> tuple[np.ndarray, np.ndarray]:
    """``image`` with one line of text, its top left at ``at``, and the 0/255 layer of its pixels."""
    if face is None:
        picture, layer = Image.fromarray(image), Image.new("L", image.shape[1::-1])
        ImageDraw.Draw(picture).text(at, line, font=sans(size), fill=fill, stroke_width=outline, stroke_fill=(0, 0, 0))
        ImageDraw.Draw(layer).text(at, line, font=sans(size), fill=255, stroke_width=outline)
        return np.asarray(picture).copy(), np.asarray(layer)
    thickness = max(1, size // 12)
    (_, text_h), _ = cv2.getTextSize(line, face, size / 30, thickness)
    glyphs = np.zeros(image.shape[:2], np.uint8)
    cv2.putText(glyphs, line, (at[0], at[1] + text_h), face, size / 30, 255, thickness, cv2.LINE_AA)
    drawn = cv2.dilate(glyphs, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * outline + 1,) * 2)) if outline else glyphs
    image = image * (1 - drawn[..., None] / 255)  # the outline in black, then the letters over it
    image = image * (1 - glyphs[..., None] / 255) + np.array(fill, np.float32) * (glyphs[..., None] / 255)
    return image.astype(np.uint8), drawn
