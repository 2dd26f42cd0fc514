"""Shared fixtures: the committed test people and small synthetic clips."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
PEOPLE = DATA / "people"
VALIDATION_STEMS = ("0010", "0020")  # in the fixed validation split: never trained on


def torch_devices() -> list[object]:
    """The PyTorch devices a CUDA path is checked on against the CPU path: the CPU always, CUDA where there is a GPU."""
    import torch

    return ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"))]


def load_person(stem: str):
    from seg.composite import Person

    return Person.load(PEOPLE / "images" / f"{stem}.jpg", PEOPLE / "masks" / f"{stem}.png")


@pytest.fixture(scope="session")
def people_dirs() -> tuple[Path, Path]:
    return PEOPLE / "images", PEOPLE / "masks"


@pytest.fixture(scope="session")
def validation_people():
    """Validation-split people, cropped to their matte: for honest quality checks."""
    return [load_person(stem).cropped() for stem in VALIDATION_STEMS]


@pytest.fixture(scope="session")
def dance_clip(tmp_path_factory, validation_people):
    """A 9:16 clip (180x320, 24 frames at 12 fps, AAC tone) of a validation person, with its exact matte."""
    from pipelines.synthetic import SyntheticClipSpec, make_clip

    path = tmp_path_factory.mktemp("clips") / "dancer one.mp4"
    truth = make_clip(path, validation_people[:1], SyntheticClipSpec(width=180, height=320, frames=24, fps=12, seed=3))
    return path, truth


TINY_CLIP_FRAMES = 12


def make_tiny_clips(folder: Path, count: int) -> Path:
    """``count`` tiny clips (90x160, 12 frames at 12 fps) named clip0.mp4, clip1.mp4, ... in ``folder``."""
    from pipelines.synthetic import SyntheticClipSpec, make_clip, procedural_person

    for seed in range(count):
        spec = SyntheticClipSpec(width=90, height=160, frames=TINY_CLIP_FRAMES, fps=12, seed=seed)
        make_clip(folder / f"clip{seed}.mp4", [procedural_person(seed=seed)], spec)
    return folder
