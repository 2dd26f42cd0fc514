"""Rebuild the bundled sample clip ``samples/dance_sample.mp4`` (and its ground-truth matte).

    .venv/bin/python samples/make_sample.py

A photo from the Clothing Co-Parsing set (Apache-2.0, ``samples/person``) dances over
a panning procedural background: 360x640 (9:16), 30 fps, 6 s, with a 440 Hz AAC tone.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.synthetic import SyntheticClipSpec, make_clip
from seg.composite import Person

HERE = Path(__file__).resolve().parent
SPEC = SyntheticClipSpec(width=360, height=640, frames=180, fps=30, audio=True, seed=7)


def main() -> None:
    dancer = Person.load(HERE / "person" / "0003.jpg", HERE / "person" / "0003.png").cropped()
    make_clip(HERE / "dance_sample.mp4", [dancer], SPEC)


if __name__ == "__main__":
    main()
