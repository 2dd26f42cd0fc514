"""Shot-cut detection on real footage: the cuts found and the content scores behind them.

    .venv/bin/python benchmarks/shot_cuts.py CLIP [CLIP ...] [--long-side 320]

Each clip is decoded and scaled as ``dancematte process`` does for the network (long side
``--long-side``), and ``pipelines.shots.ShotCutDetector`` runs on it. Prints the frames it marks
as cuts, then the distribution of the content score between consecutive frames (median, 99th
percentile, maximum) and the highest-scoring frames, so the threshold can be judged against
footage with known cuts (the *Tears of Steel* excerpt in ``../shared/data/videos``) and without
(``vtest.avi``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from pipelines.shots import ShotCutDetector, content_score
from pipelines.video_io import ClipReader
from seg.segmenter import network_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="+", type=Path)
    parser.add_argument("--long-side", type=int, default=320)
    args = parser.parse_args()
    for path in args.clips:
        detector, cuts, scores, previous = ShotCutDetector(), [], [], None
        with ClipReader(path) as reader:
            height, width = network_size(reader.info.height, reader.info.width, args.long_side)
            for batch in reader:
                small = batch.scaled_rgb(width, height)
                cuts += batch.index[detector.update(small, batch.times_s)].tolist()
                for picture in small:
                    hsv = cv2.cvtColor(picture, cv2.COLOR_RGB2HSV)
                    scores.append(np.nan if previous is None else content_score(previous, hsv))
                    previous = hsv
        score = np.array(scores)
        top = np.argsort(np.nan_to_num(score, nan=-1))[::-1][:8]
        print(f"{path.name}: {len(score)} frames at {width}x{height}; cuts at frames {cuts} "
              f"(threshold {detector.settings.threshold}, shots >= {detector.settings.min_shot_s} s)")
        print(f"  content score median {np.nanmedian(score):.1f}, p99 {np.nanpercentile(score, 99):.1f}, "
              f"max {np.nanmax(score):.1f}; highest: " + ", ".join(f"frame {i} {score[i]:.1f}" for i in top))


if __name__ == "__main__":
    main()
