"""Batch person segmentation: RGB uint8 frames in, person probabilities out.

The network sees each frame resized once (aspect ratio kept, long side ``long_side``)
and padded to a multiple of 32; the padding is cropped off the output, so a vertical
clip is never squashed. A saved model gives whole frames its own ``frame_long_side``
(``inference.json``, chosen on the real-footage check) when it has one, else the size
it was trained at, which the closer look's squares are always given at (``seg.zoom``).
The steps around the network (uint8 to normalised float, logits to probability) are part
of the module that runs (``PersonProbability``), so on the CPU they run
inside ONNX Runtime with the network (``seg.onnx_engine``, about twice PyTorch's speed there;
about 1 ms a frame less than doing those steps in PyTorch around it), on CUDA in PyTorch with fp16.

With ``mirror`` (the default) each frame is also seen mirrored left to right, in the same batch, and
the two passes' probabilities are averaged: the network's false positives beside a dancer (a parked car,
the dark underside of an arch, a striped pole) differ more between the two views than the dancer does, so
the mean has fewer of them. It costs a second network pass.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from seg.models import DEFAULT_MODEL, load_model, resolve_model_path
from seg.onnx_engine import OnnxNetwork, cached_folder_export
from seg.resize import shrink, shrink_pictures_torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_LONG_SIDE = 256
PAD_MULTIPLE = 32
ENGINES = ("auto", "torch", "onnx")


class DeviceError(Exception):
    """The requested device or engine cannot be used."""


class ModelSettingsError(Exception):
    """A saved model folder's settings file cannot be used."""


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` means CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError("--device cuda: no CUDA GPU is available (use --device cpu or auto)")
    if name != "cpu" and not name.startswith("cuda"):
        raise DeviceError(f"unknown device '{name}' (use auto, cpu or cuda)")
    return torch.device(name)


def inference_dtype(device: torch.device) -> torch.dtype:
    """fp16 on CUDA; fp32 on the CPU, on every processor.

    bfloat16 does not pay for inference on the CPU even where it is native (AVX512-BF16, AMX):
    the default CPU engine, ONNX Runtime in fp32, is faster than PyTorch in bf16, and one
    precision on every CPU keeps both engines and the training validation on the matte the
    product writes (``benchmarks/precision.py`` measures all three).
    """
    return torch.float16 if device.type == "cuda" else torch.float32


def network_size(height: int, width: int, long_side: int) -> tuple[int, int]:
    """Resized (h, w) that keeps the aspect ratio with the long side at ``long_side``."""
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def padded(n: int) -> int:
    return -(-n // PAD_MULTIPLE) * PAD_MULTIPLE


def normalised(rgb: torch.Tensor) -> torch.Tensor:
    """(N, H, W, 3) uint8 RGB -> (N, 3, H, W) float32 with ImageNet's mean and deviation: what the network takes."""
    mean = torch.tensor(IMAGENET_MEAN, device=rgb.device).view(1, 3, 1, 1) * 255
    std = torch.tensor(IMAGENET_STD, device=rgb.device).view(1, 3, 1, 1) * 255
    return (rgb.permute(0, 3, 1, 2).float() - mean) / std


class PersonProbability(torch.nn.Module):
    """A segmentation network with its input and output steps: (N, H, W, 3) uint8 RGB -> (N, H, W) probability."""

    def __init__(self, network: torch.nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        logits = self.network(normalised(rgb).contiguous(memory_format=torch.channels_last))
        return torch.sigmoid(logits[:, 0].float())


def model_long_side(model_dir: Path) -> int:
    """The input long side a saved model was trained at (``training.json``), else the default."""
    meta = model_dir / "training.json"
    if meta.is_file():
        return int(json.loads(meta.read_text()).get("long_side", DEFAULT_LONG_SIDE))
    return DEFAULT_LONG_SIDE


def frame_long_side(model_dir: Path) -> int:
    """The long side whole frames are given to a saved model at: ``frame_long_side`` in its ``inference.json``,
    else the size it was trained at. Video frames may be best seen a little smaller than the photos a model was
    trained on; the model card says how its figure was chosen."""
    meta = model_dir / "inference.json"
    if not meta.is_file():
        return model_long_side(model_dir)
    try:
        side = int(json.loads(meta.read_text())["frame_long_side"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelSettingsError(f"{meta}: no usable frame_long_side ({type(exc).__name__}: {exc})") from exc
    if side < PAD_MULTIPLE:
        raise ModelSettingsError(f"{meta}: frame_long_side {side} is below {PAD_MULTIPLE} pixels")
    return side


@dataclass(frozen=True)
class SegmenterSettings:
    model: str = DEFAULT_MODEL
    device: str = "auto"
    long_side: int | None = None  # whole frames; None: the model's frame_long_side (see frame_long_side)
    engine: str = "auto"  # auto: ONNX Runtime on the CPU, PyTorch on CUDA; torch for a model still training
    mirror: bool = True  # each frame also seen mirrored, the two passes averaged (see the module docstring)

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise DeviceError(f"unknown engine '{self.engine}' (use {', '.join(ENGINES)})")


class Segmenter:
    """Wraps a segmentation network for batched, device-aware inference."""

    def __init__(self, settings: SegmenterSettings = SegmenterSettings(), model: torch.nn.Module | None = None) -> None:
        self.device = pick_device(settings.device)
        self.dtype = inference_dtype(self.device)
        model_dir = None if model is not None else resolve_model_path(settings.model)
        self.trained_side = model_long_side(model_dir) if model_dir else DEFAULT_LONG_SIDE  # the closer look's squares
        self.long_side = settings.long_side or (frame_long_side(model_dir) if model_dir else self.trained_side)
        self.model_name = settings.model
        self.mirror = settings.mirror
        if settings.engine == "onnx" and self.device.type != "cpu":
            raise DeviceError("--engine onnx runs on the CPU only (use --device cpu)")
        use_onnx = settings.engine == "onnx" or (settings.engine == "auto" and self.device.type == "cpu")
        self.engine = "onnx" if use_onnx else "torch"
        self._network: PersonProbability | None = None
        self._onnx: OnnxNetwork | None = None
        if use_onnx and model_dir is not None:  # a cached export needs no network built (nor smp imported)
            self._onnx = OnnxNetwork(cached_folder_export(model_dir, lambda: PersonProbability(load_model(model_dir))))
            return
        model = load_model(model_dir) if model is None else model
        self._network = PersonProbability(model.eval().to(self.device, memory_format=torch.channels_last))
        self._onnx = OnnxNetwork(self._network) if use_onnx else None

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        """The (h, w) a ``height`` x ``width`` picture is resized to for the network."""
        return network_size(height, width, self.long_side)

    def resize_for_network(self, frames: np.ndarray) -> np.ndarray | torch.Tensor:
        """(N, H, W, 3) uint8 -> (N, h, w, 3) uint8 at network resolution (area filter, see ``shrink``); on CUDA
        resized there and left there as a tensor for ``probabilities``, so the CPU only hands the frames over."""
        h, w = self.input_size(frames.shape[1], frames.shape[2])
        if (h, w) == frames.shape[1:3]:
            return frames
        if self.device.type == "cuda":
            return shrink_pictures_torch(torch.from_numpy(frames).to(self.device), h, w)
        return np.stack([shrink(f, w, h) for f in frames])

    def probabilities(self, small: np.ndarray | torch.Tensor, mirror: bool | None = None) -> np.ndarray:
        """Person probability (N, h, w) float32 for frames already at network resolution; ``mirror``: also seen
        mirrored, the two passes averaged (default: the settings')."""
        mirror = self.mirror if mirror is None else mirror
        if self._onnx is None:
            return np.ascontiguousarray(self.device_probabilities(small, mirror).cpu().numpy())
        rgb = np.asarray(small)
        _, h, w, _ = rgb.shape
        if mirror:
            rgb = np.concatenate([rgb, rgb[:, :, ::-1]])
        rgb = np.pad(rgb, ((0, 0), (0, padded(h) - h), (0, padded(w) - w), (0, 0)), mode="edge")
        probs = self._onnx(rgb)[:, :h, :w]
        if mirror:
            n = len(probs) // 2
            probs = (probs[:n] + probs[n:, :, ::-1]) / 2
        return np.ascontiguousarray(probs)

    @torch.inference_mode()
    def device_probabilities(self, small: np.ndarray | torch.Tensor, mirror: bool | None = None) -> torch.Tensor:
        """``probabilities`` from the PyTorch engine left on its device, for a batch refined there (CUDA)."""
        mirror = self.mirror if mirror is None else mirror
        rgb = torch.as_tensor(small, device=self.device)
        _, h, w, _ = rgb.shape
        if mirror:
            rgb = torch.cat([rgb, rgb.flip(2)])
        rows, cols = (torch.arange(padded(n), device=self.device).clamp_(max=n - 1) for n in (h, w))
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32):
            probs = self._network(rgb[:, rows][:, :, cols])[:, :h, :w]  # edge padding, as np.pad's "edge"
        if mirror:
            n = len(probs) // 2
            probs = (probs[:n] + probs[n:].flip(2)) / 2
        return probs

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """Mattes (N, H, W) float32 0..1 at the frames' own resolution (bilinear upsampling)."""
        probs = self.probabilities(self.resize_for_network(frames))
        height, width = frames.shape[1:3]
        return np.stack([cv2.resize(p, (width, height), interpolation=cv2.INTER_LINEAR) for p in probs])
