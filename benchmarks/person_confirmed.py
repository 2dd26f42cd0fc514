"""Which clips the product flags "check the matte": ``person_confirmed`` on real clips and on person-free scenes.

    .venv/bin/python benchmarks/person_confirmed.py [--clips FOLDER ...] [--no-people ../shared/data/no-people]

``clips.parquet``'s ``person_confirmed`` is the share of a clip's frames showing someone in which the main dancer had
been found a person by the person or face detector (``seg.dancers.DancerTracker.person_confirmed``); under
``analytics.summary.UNCONFIRMED_BELOW`` the clip is flagged. A flag is worth having when it marks the mattes that
follow no person and leaves the dancers alone, so this processes, with the default settings, every clip of the
given folders (per clip: the share, flagged or not) and the check-side person-free photos' 9:16 crops, each held
still as a 1-second clip as ``real_footage.py`` scores them (how many showed anyone to the tracker, and how many of
those are flagged).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np

from analytics.summary import matte_note
from pipelines.processor import ClipProcessor, ProcessSettings
from real_footage import still_clip
from seg.metrics import portrait_windows
from seg.models import DEFAULT_MODEL
from seg.segmenter import Segmenter, SegmenterSettings
from seg.splits import NO_PEOPLE_SPLIT, read_split

CLIP_SUFFIXES = {".mp4", ".mkv", ".mov", ".avi", ".gif", ".webm"}


def confirmed_share(processor: ClipProcessor, clip: Path, scratch: Path) -> float:
    """The clip's ``person_confirmed`` as ``process`` computes it (NaN: no main dancer on any frame)."""
    try:
        return processor.process(clip, scratch, "clip", show_progress=False).person_confirmed
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, nargs="+",
                        default=[Path("../shared/data/real-clips"), Path("data/stock-clips"), Path("../shared/data/videos")])
    parser.add_argument("--no-people", type=Path, default=Path("../shared/data/no-people"))
    parser.add_argument("--model", default=DEFAULT_MODEL)
    args = parser.parse_args()
    processor = ClipProcessor(Segmenter(SegmenterSettings(model=args.model)),
                              ProcessSettings(formats=("luma",), timeout_s=None, max_duration_s=None))
    with tempfile.TemporaryDirectory() as work:
        scratch = Path(work) / "out"
        clips = sorted(p for folder in args.clips for p in folder.iterdir() if p.suffix.lower() in CLIP_SUFFIXES)
        flagged = []
        print(f"{'clip':60s} {'confirmed':>9s}")
        for clip in clips:
            share = confirmed_share(processor, clip, scratch)
            flag = matte_note({"person_confirmed": share})
            flagged += [clip.name] if flag else []
            print(f"{clip.name:60s} {share:9.3f}{'  flagged' if flag else ''}", flush=True)
        print(f"clips flagged: {len(flagged)} of {len(clips)}")
        shares = []
        for entry in read_split(NO_PEOPLE_SPLIT):
            if entry.side == "check":
                rgb = cv2.cvtColor(cv2.imread(str(args.no_people / "photos" / entry.file)), cv2.COLOR_BGR2RGB)
                for window in portrait_windows(*rgb.shape[:2]):
                    still = still_clip(np.ascontiguousarray(rgb[window]), Path(work) / "still.mp4")
                    shares.append(confirmed_share(processor, still, scratch))
        matted = [share for share in shares if not np.isnan(share)]  # NaN: the matte never showed anyone
        print(f"person-free 9:16 crops held still: {len(shares)}, showing anyone {len(matted)}, "
              f"of those flagged {sum(bool(matte_note({'person_confirmed': share})) for share in matted)}")


if __name__ == "__main__":
    main()
