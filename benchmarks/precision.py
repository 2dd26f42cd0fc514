"""bfloat16 against float32 on this CPU: speed of inference and of a training step, and what the matte loses.

    .venv/bin/python -m benchmarks.precision [--model NAME] [--images DIR --masks DIR] [--clip VIDEO] [--rounds 6]

Inference, per 1080x1920 frame at the product's network input (batch 8): ONNX Runtime fp32
(the CPU engine), PyTorch fp32 and PyTorch bf16 (autocast), rows taking turns. Training, per
step (batch 16 at the model's input size): fp32 against bf16 autocast, rows taking turns. Quality: the bf16 matte
against the fp32 matte (IoU of the mattes at 0.5, share of pixels that flip and how far the
flipped pixels lie from the fp32 matte's edge), on the CCP validation photos (each also scored
against its mask) and on every 10th frame of a real clip. On a CPU without native bf16 the bf16
rows are emulated and far slower: the figures are for CPUs with AVX512-BF16 or AMX.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from benchmarks.segmentation import timed_rows
from seg.data import find_pairs, is_validation, load_people
from seg.metrics import iou
from seg.models import DEFAULT_MODEL, load_model, resolve_model_path
from seg.segmenter import Segmenter, SegmenterSettings, normalised

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def cpu_has_native_bf16() -> bool:
    """True when the CPU computes bfloat16 natively (AVX512-BF16 or AMX); elsewhere bf16 is emulated and slow."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def mattes(segmenter: Segmenter, frames: list[np.ndarray], dtype: torch.dtype) -> list[np.ndarray]:
    """Each frame's matte at its own size, the network run in ``dtype``."""
    segmenter.dtype = dtype
    return [segmenter(f[None])[0] > 0.5 for f in frames]


def edge_distance(matte: np.ndarray) -> np.ndarray:
    """Per pixel, the distance in pixels to the nearest pixel on the other side of the matte's edge."""
    inside = cv2.distanceTransform(matte.astype(np.uint8), cv2.DIST_L2, 3)
    outside = cv2.distanceTransform((~matte).astype(np.uint8), cv2.DIST_L2, 3)
    return np.maximum(inside, outside)


def agreement(fp32: list[np.ndarray], bf16: list[np.ndarray]) -> str:
    ious = [iou(a, b) for a, b in zip(fp32, bf16)]
    flipped = [a != b for a, b in zip(fp32, bf16)]
    distances = np.concatenate([edge_distance(a)[f] for a, f in zip(fp32, flipped)] or [np.zeros(0)])
    share = sum(f.sum() for f in flipped) / sum(f.size for f in flipped)
    far = float(np.mean(distances > 2)) if distances.size else 0.0
    return (f"matte IoU bf16 vs fp32 mean {np.mean(ious):.4f} (min {min(ious):.4f}); pixels flipped {share:.5f}, "
            f"of which {far:.3f} more than 2 px from the fp32 edge")


def clip_frames(path: Path, every: int = 10) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for i, f in enumerate(container.decode(video=0)) if i % every == 0]


def training_steps(model_dir: Path, long_side: int) -> dict[str, Callable[[], None]]:
    """One training step (forward, loss, backward, AdamW; batch 16 of random pictures) per precision, as timed rows."""
    rng = np.random.default_rng(0)
    h, w = long_side, long_side * 9 // 16 // 32 * 32
    images = normalised(torch.from_numpy(rng.integers(0, 256, (16, h, w, 3), dtype=np.uint8))).contiguous(memory_format=torch.channels_last)
    targets = torch.from_numpy((rng.random((16, 1, h, w)) > 0.5).astype(np.float32))

    def step_in(dtype: torch.dtype):
        model = load_model(model_dir).float().train().to(memory_format=torch.channels_last)
        optimiser = torch.optim.AdamW(model.parameters(), 1e-6)

        def step() -> None:
            with torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
                logits = model(images)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), targets)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        return step

    return {"fp32": step_in(torch.float32), "bf16": step_in(torch.bfloat16)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--images", type=Path, default=SHARED / "ccp-person" / "images")
    parser.add_argument("--masks", type=Path, default=SHARED / "ccp-person" / "masks")
    parser.add_argument("--clip", type=Path, default=SHARED / "real-clips" / "sports2d__demo.mp4")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()

    print(f"native bf16 on this CPU: {cpu_has_native_bf16()}; torch threads {torch.get_num_threads()}")
    onnx = Segmenter(SegmenterSettings(model=args.model, device="cpu"))
    eager = Segmenter(SegmenterSettings(model=args.model, device="cpu", engine="torch"))
    h, w = onnx.input_size(1920, 1080)
    small = np.random.default_rng(0).integers(0, 256, (8, h, w, 3), dtype=np.uint8)

    def in_dtype(dtype: torch.dtype):
        def run() -> None:
            eager.dtype = dtype
            eager.probabilities(small)
        return run

    rows = {"onnx fp32": lambda: onnx.probabilities(small), "torch fp32": in_dtype(torch.float32),
            "torch bf16": in_dtype(torch.bfloat16)}
    times = timed_rows(rows, args.rounds)
    base = times["onnx fp32"][0]
    for name, (median, best) in times.items():
        print(f"inference {name:<11} {median / 8 * 1e3:6.1f} ms/frame median (best {best / 8 * 1e3:.1f}), {median / base:.2f}x onnx fp32")

    steps = timed_rows(training_steps(resolve_model_path(args.model), onnx.long_side), max(2, args.rounds // 2))
    (fp32, fp32_best), (bf16, bf16_best) = steps["fp32"], steps["bf16"]
    print(f"training step (batch 16): fp32 {fp32:.2f} s median (best {fp32_best:.2f}), bf16 {bf16:.2f} s (best {bf16_best:.2f}), "
          f"bf16/fp32 {bf16 / fp32:.2f}")

    pairs, _ = find_pairs(args.images, args.masks)
    people, _ = load_people([p for p in pairs if is_validation(p.stem)])
    photos = [p.rgb for p in people]
    fp32, bf16 = mattes(eager, photos, torch.float32), mattes(eager, photos, torch.bfloat16)
    truths = [p.alpha > 0.5 for p in people]
    print(f"CCP validation ({len(photos)} photos): IoU vs masks fp32 {np.mean([iou(a, t) for a, t in zip(fp32, truths)]):.4f}, "
          f"bf16 {np.mean([iou(b, t) for b, t in zip(bf16, truths)]):.4f}")
    print(f"CCP validation: {agreement(fp32, bf16)}")
    frames = clip_frames(args.clip)
    print(f"{args.clip.name} ({len(frames)} frames): {agreement(mattes(eager, frames, torch.float32), mattes(eager, frames, torch.bfloat16))}")


if __name__ == "__main__":
    main()
