"""The CUDA path (PyTorch fp16 inference, fp16 mixed-precision training): skipped where there is no GPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipelines.cli import main
from pipelines.video_io import read_alpha
from seg.composite import Placement, paste, procedural_background
from seg.metrics import iou
from seg.models import load_model
from seg.segmenter import Segmenter, SegmenterSettings
from seg.train import TrainSettings, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

# fp16 against the fp32 CPU engine: probabilities move by rounding only, the masks barely.
MAX_PROB_DIFF = 0.05
MIN_MASK_AGREEMENT = 0.98
MIN_CLIP_IOU = 0.8  # as tests/test_process.py for the CPU


def test_cuda_fp16_agrees_with_the_cpu_engine(validation_people):
    cpu = Segmenter(SegmenterSettings(device="cpu"))
    gpu = Segmenter(SegmenterSettings(device="cuda"))
    assert gpu.engine == "torch" and gpu.dtype == torch.float16
    rng = np.random.default_rng(4)
    for height, width in ((320, 180), (180, 320)):
        frames = np.stack([paste(procedural_background(rng, height, width), person,
                                 Placement(width / 2, height / 2, height * 0.8))[0] for person in validation_people])
        on_cpu, on_gpu = cpu.probabilities(frames), gpu.probabilities(frames)
        assert np.abs(on_cpu - on_gpu).max() < MAX_PROB_DIFF
        for a, b in zip(on_cpu, on_gpu):
            assert iou(a > 0.5, b > 0.5) > MIN_MASK_AGREEMENT


def test_process_on_cuda_matches_ground_truth(tmp_path, dance_clip):
    clip, truth = dance_clip
    assert main(["process", str(clip), "--out", str(tmp_path), "--device", "cuda", "--quiet"]) == 0
    alpha = read_alpha(tmp_path / "mattes" / f"{clip.stem}.mov")[:, : truth.shape[1], : truth.shape[2]]
    assert len(alpha) == len(truth)
    assert np.mean([iou(a > 127, t > 0.5) for a, t in zip(alpha, truth)]) > MIN_CLIP_IOU


def test_training_runs_in_fp16_on_cuda(tmp_path, people_dirs):
    images, masks = people_dirs
    settings = TrainSettings(images=images, masks=masks, out=tmp_path, epochs=1, batch_size=4, max_steps_per_epoch=3,
                             long_side=128, device="cuda", workers=2, init="dancematte-lite0")
    record = train(settings, log=lambda _: None)
    assert record["precision"] == "float16" and record["device"].startswith("cuda")
    assert np.isfinite(record["history"][0]["train_loss"])
    assert sum(p.numel() for p in load_model(tmp_path).parameters()) > 1_000_000
