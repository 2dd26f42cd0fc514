"""Make a real-footage check set: video frames labelled by MediaPipe's person segmentation.

CCP validation photos say little about real footage, and no labelled dance video ships
with the project. This script samples frames from real videos and labels them with
MediaPipe's Apache-2.0 pose model (segmentation output) as a teacher, writing
``OUT/images/*.jpg`` and ``OUT/masks/*.png`` for ``dancematte eval``. The score is agreement
with the teacher, not accuracy: the teacher itself reaches about IoU 0.74 on real dance frames.

MediaPipe needs its own environment (it pins NumPy 1.x):

    python3 -m venv .teacher && .teacher/bin/pip install mediapipe==0.10.14 'numpy<2' 'opencv-python-headless<4.11'
    .teacher/bin/python benchmarks/teacher_masks.py ../shared/data/videos/*.{mp4,avi} --out build/teacher
    .venv/bin/dancematte eval --images build/teacher/images --masks build/teacher/masks
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import mediapipe as mp
import numpy as np


def sampled_frames(path: Path, every: int):
    capture = cv2.VideoCapture(str(path))
    index = 0
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        if index % every == 0:
            yield index, bgr
        index += 1
    capture.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--every", type=int, default=8, help="take one frame in N")
    parser.add_argument("--min-area", type=float, default=0.02, help="skip frames whose teacher mask is smaller")
    args = parser.parse_args()
    (args.out / "images").mkdir(parents=True, exist_ok=True)
    (args.out / "masks").mkdir(parents=True, exist_ok=True)
    kept = 0
    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=True) as pose:
        for video in args.videos:
            for index, bgr in sampled_frames(video, args.every):
                result = pose.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                if result.segmentation_mask is None:
                    continue
                mask = result.segmentation_mask > 0.5
                if mask.mean() < args.min_area:
                    continue
                stem = f"{video.stem}_{index:05d}"
                cv2.imwrite(str(args.out / "images" / f"{stem}.jpg"), bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
                cv2.imwrite(str(args.out / "masks" / f"{stem}.png"), mask.astype(np.uint8) * 255)
                kept += 1
    print(f"{kept} frames labelled into {args.out}")


if __name__ == "__main__":
    main()
