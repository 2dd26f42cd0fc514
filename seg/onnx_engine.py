"""Running a loaded network with ONNX Runtime: the CPU engine.

The network stays the segmentation-models-pytorch model loaded from the shipped folder; it
is exported to ONNX in memory when the segmenter starts (about 2 s) and run by ONNX Runtime,
which measured about 1.9x faster than PyTorch eager on this 2-core CPU (fp32, same outputs
within 2e-5). Idle worker threads sleep instead of spinning, so the decode and encode stages
running beside the network keep their cores. Each input shape (batch, height, width) gets its
own session with those dimensions fixed, which lets ONNX Runtime plan its buffers ahead:
about 10% faster than one session for every shape (a session costs ~0.1 s to create, and a
clip uses one shape, plus one for its last, shorter batch).

The export is kept in a cache folder (``$XDG_CACHE_HOME/dancematte/onnx``), so a later start or
another worker process loads it instead of exporting again. A saved model folder's graph is
named by a digest of the folder's weights and configuration, the code that builds and wraps the
network, and the versions of torch, smp and timm (``folder_digest``): a start that finds it builds
no network and imports no smp, the larger part of start-up. A module given in memory (a model
still training) is named by a digest of its structure and weights, and its cached graph is used
only after it reproduced the module's output on a probe picture. A cached graph ONNX Runtime
cannot run is exported again; when the folder cannot be written, every start exports.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from analytics.atomic import write_atomic
from seg.cores import usable_cores

OPSET = 17
MAX_SESSIONS = 4  # shapes kept; the oldest is dropped beyond this
DYNAMIC_AXES = ("n", "h", "w")
PROBE_SHAPE = (1, 64, 64, 3)  # the picture a cached graph must reproduce the module's output on
PROBE_TOLERANCE = 1e-4
MODEL_FILES = ("config.json", "model.safetensors")  # what a saved folder's graph depends on (not its model card)
GRAPH_SOURCES = tuple(Path(__file__).with_name(name) for name in ("models.py", "segmenter.py"))  # build and wrap the network


def cache_folder() -> Path:
    """Where exported graphs are kept between runs."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dancematte" / "onnx"


def module_digest(model: torch.nn.Module) -> str:
    """A digest of what the export depends on: the module's structure and weights, torch and the opset."""
    digest = hashlib.sha256(f"{torch.__version__} {OPSET} {model}".encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


def folder_digest(model_dir: Path) -> str:
    """A digest of what a saved model folder's export depends on, known without building the network."""
    packages = " ".join(version(name) for name in ("torch", "segmentation-models-pytorch", "timm"))
    digest = hashlib.sha256(f"{packages} {OPSET}".encode())
    for path in [model_dir / name for name in MODEL_FILES] + list(GRAPH_SOURCES):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def exported(model: torch.nn.Module) -> bytes:
    """``model`` exported to ONNX, uint8 (N, H, W, 3) in, any N, H and W."""
    example = torch.zeros(1, 64, 64, 3, dtype=torch.uint8)
    graph = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript-based exporter announces its deprecation
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model.float().eval(), (example,), graph, dynamo=False, opset_version=OPSET,
            input_names=["x"], output_names=["y"], dynamic_axes={"x": dict(zip((0, 1, 2), DYNAMIC_AXES))},
        )
    return graph.getvalue()


def reproduces(graph: bytes, model: torch.nn.Module) -> bool:
    """Whether ``graph`` gives ``model``'s output on a fixed random probe picture."""
    probe = np.random.default_rng(0).integers(0, 256, PROBE_SHAPE, dtype=np.uint8)
    try:
        session = onnxruntime.InferenceSession(graph, providers=["CPUExecutionProvider"])
        got = session.run(None, {"x": probe})[0]
    except Exception:  # noqa: BLE001 - a damaged or foreign file is simply not used
        return False
    with torch.inference_mode():
        expected = model.float().eval()(torch.from_numpy(probe)).numpy()
    return got.shape == expected.shape and bool(np.abs(got - expected).max() <= PROBE_TOLERANCE)


def runs(graph: bytes) -> bool:
    """Whether ONNX Runtime runs ``graph`` on a probe picture and gives one probability per pixel."""
    probe = np.zeros(PROBE_SHAPE, np.uint8)
    try:
        session = onnxruntime.InferenceSession(graph, providers=["CPUExecutionProvider"])
        return session.run(None, {"x": probe})[0].shape == PROBE_SHAPE[:3]
    except Exception:  # noqa: BLE001 - a damaged or foreign file is simply not used
        return False


def cached_graph(path: Path, usable: Callable[[bytes], bool], export: Callable[[], bytes]) -> bytes:
    """The graph at ``path`` when ``usable``; else ``export()``, saved there for the next start."""
    if path.is_file() and usable(graph := path.read_bytes()):
        return graph
    graph = export()
    try:
        write_atomic(path, graph)
    except OSError:
        pass  # no cache: the next start exports again
    return graph


def cached_export(model: torch.nn.Module) -> bytes:
    """``exported(model)``, from the cache folder when a graph there reproduces ``model``; saved there otherwise."""
    return cached_graph(cache_folder() / f"{module_digest(model)}.onnx", lambda graph: reproduces(graph, model),
                        lambda: exported(model))


def cached_folder_export(model_dir: Path, load: Callable[[], torch.nn.Module]) -> bytes:
    """The export of the saved model folder ``model_dir``: from the cache folder, or of ``load()`` and saved there."""
    return cached_graph(cache_folder() / f"{folder_digest(model_dir)}.onnx", runs, lambda: exported(load()))


class OnnxNetwork:
    """A module (exported, see ``cached_export``) or an exported graph as ONNX Runtime sessions: (N, H, W, 3)
    uint8 pictures in, its one output array out."""

    def __init__(self, source: torch.nn.Module | bytes, threads: int = 0) -> None:
        self._graph = source if isinstance(source, bytes) else cached_export(source)
        self._threads = threads or usable_cores()
        self.sessions: dict[tuple[int, ...], onnxruntime.InferenceSession] = {}

    def session(self, n: int, h: int, w: int) -> onnxruntime.InferenceSession:
        """The session for inputs of shape (n, h, w, 3), created on first use."""
        key = (n, h, w)
        if key not in self.sessions:
            if len(self.sessions) >= MAX_SESSIONS:
                del self.sessions[next(iter(self.sessions))]
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self._threads
            options.inter_op_num_threads = 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3  # errors only
            for name, size in zip(DYNAMIC_AXES, key):
                options.add_free_dimension_override_by_name(name, size)
            self.sessions[key] = onnxruntime.InferenceSession(self._graph, options, providers=["CPUExecutionProvider"])
        return self.sessions[key]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n, h, w, _ = x.shape
        return self.session(n, h, w).run(None, {"x": np.ascontiguousarray(x, dtype=np.uint8)})[0]
