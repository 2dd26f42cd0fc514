"""Shot changes on real footage: the cuts, dissolves and fades found, and the frame scores behind the cuts.

    .venv/bin/python benchmarks/shot_cuts.py CLIP [CLIP ...] [--long-side 320]

Each clip is decoded and scaled as ``dancematte process`` does for the network (long side
``--long-side``), and ``pipelines.shots.ShotChangeDetector`` runs on it. Prints the shot changes it
finds (first frame of the new shot and kind), then the distribution of PySceneDetect's content score
between consecutive frames at the detector's ``small_width`` (median, 99th percentile, maximum) and
the highest-scoring frames, so the detector can be judged against footage with known cuts and a
dissolve (the *Tears of Steel* excerpt in ``../shared/data/videos``) and without (``vtest.avi``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from scenedetect import ContentDetector, FrameTimecode, StatsManager

from pipelines.shots import ShotChangeDetector, with_shot_changes
from pipelines.video_io import ClipReader
from seg.segmenter import network_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="+", type=Path)
    parser.add_argument("--long-side", type=int, default=320)
    args = parser.parse_args()
    for path in args.clips:
        scores, content, stats = [], ContentDetector(), StatsManager()
        content.stats_manager = stats
        with ClipReader(path) as reader:
            height, width = network_size(reader.info.height, reader.info.width, args.long_side)
            detector = ShotChangeDetector(reader.info.fps)
            for _, small, _ in with_shot_changes(reader, detector, width, height):
                for picture in small:
                    timecode = FrameTimecode(len(scores), fps=detector.fps)
                    size = (detector.settings.small_width, round(detector.settings.small_width * height / width))
                    shrunk = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
                    content.process_frame(timecode, cv2.cvtColor(shrunk, cv2.COLOR_RGB2BGR))
                    score = stats.get_metrics(timecode, [ContentDetector.FRAME_SCORE_KEY])[0]
                    scores.append(np.nan if score is None or not scores else score)
        score = np.array(scores, np.float64)
        top = np.argsort(np.nan_to_num(score, nan=-1))[::-1][:8]
        changes = ", ".join(f"{t.frame} {t.kind}" for t in detector.transitions) or "none"
        print(f"{path.name}: {len(score)} frames at {width}x{height}; shot changes at {changes}")
        print(f"  content score median {np.nanmedian(score):.1f}, p99 {np.nanpercentile(score, 99):.1f}, "
              f"max {np.nanmax(score):.1f}; highest: " + ", ".join(f"frame {i} {score[i]:.1f}" for i in top))


if __name__ == "__main__":
    main()
