"""The ONNX export cache: a later start loads the graph, but only one that reproduces the module."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seg import onnx_engine
from seg.onnx_engine import OnnxNetwork, cache_folder, module_digest
from seg.segmenter import PersonProbability


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def small_network(seed: int) -> PersonProbability:
    torch.manual_seed(seed)
    return PersonProbability(torch.nn.Conv2d(3, 1, 3, padding=1))


PICTURES = np.random.default_rng(1).integers(0, 256, (2, 16, 24, 3), dtype=np.uint8)


def eager(module: PersonProbability) -> np.ndarray:
    with torch.no_grad():
        return module(torch.from_numpy(PICTURES)).numpy()


def test_second_start_loads_the_export_and_gives_the_same_output(monkeypatch):
    module = small_network(0)
    first = OnnxNetwork(module)
    assert [p.name for p in cache_folder().iterdir()] == [f"{module_digest(module)}.onnx"]
    monkeypatch.setattr(onnx_engine, "exported", lambda model: pytest.fail("exported again"))
    np.testing.assert_array_equal(OnnxNetwork(module)(PICTURES), first(PICTURES))


def test_other_weights_are_another_entry():
    assert module_digest(small_network(0)) != module_digest(small_network(1))


def test_a_cached_graph_that_does_not_reproduce_the_module_is_exported_again(monkeypatch):
    module, impostor = small_network(0), small_network(1)
    OnnxNetwork(impostor)
    (cache_folder() / f"{module_digest(impostor)}.onnx").rename(cache_folder() / f"{module_digest(module)}.onnx")
    exports = []
    export = onnx_engine.exported
    monkeypatch.setattr(onnx_engine, "exported", lambda model: exports.append(model) or export(model))
    network = OnnxNetwork(module)
    assert exports == [module]
    np.testing.assert_allclose(network(PICTURES), eager(module), atol=1e-5)


def test_an_unwritable_cache_folder_only_costs_the_export(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    module = small_network(0)
    np.testing.assert_allclose(OnnxNetwork(module)(PICTURES), eager(module), atol=1e-5)


def test_a_saved_model_starts_from_its_cached_export_without_building_the_network(monkeypatch):
    """The second start of the shipped model reads the cached graph: no network built, the same output."""
    from seg import segmenter as segmenter_module
    from seg.segmenter import Segmenter, SegmenterSettings

    settings = SegmenterSettings(device="cpu", engine="onnx")
    first = Segmenter(settings).probabilities(PICTURES)
    monkeypatch.setattr(segmenter_module, "load_model", lambda *_: pytest.fail("the network was built again"))
    np.testing.assert_array_equal(Segmenter(settings).probabilities(PICTURES), first)


def test_a_start_from_the_cache_imports_no_segmentation_models_pytorch(tmp_path):
    """The larger part of start-up (smp, timm, torchvision imports; building the network) is skipped."""
    import os
    import subprocess
    import sys

    code = ("import sys; from seg.segmenter import Segmenter, SegmenterSettings; "
            "Segmenter(SegmenterSettings(device='cpu')); print('segmentation_models_pytorch' in sys.modules)")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()[-1]
            for _ in range(2)]
    assert runs == ["True", "False"]  # the first start exports (builds the network), the second does not


def test_a_folder_s_graph_follows_its_weights_not_its_model_card(tmp_path):
    import shutil

    from seg.models import resolve_model_path
    from seg.onnx_engine import folder_digest

    folder = tmp_path / "model"
    shutil.copytree(resolve_model_path("dancematte-lite0"), folder)
    before = folder_digest(folder)
    (folder / "README.md").write_text("another card")
    assert folder_digest(folder) == before
    weights = bytearray((folder / "model.safetensors").read_bytes())
    weights[-1] ^= 1
    (folder / "model.safetensors").write_bytes(bytes(weights))
    assert folder_digest(folder) != before


def test_a_damaged_cached_graph_is_exported_again():
    from seg.models import load_model, resolve_model_path
    from seg.onnx_engine import cached_folder_export, folder_digest
    from seg.segmenter import PersonProbability

    folder = resolve_model_path("dancematte-lite0")
    cache_folder().mkdir(parents=True)
    (cache_folder() / f"{folder_digest(folder)}.onnx").write_bytes(b"not a graph")
    graph = cached_folder_export(folder, lambda: PersonProbability(load_model(folder)))
    module = PersonProbability(load_model(folder))
    np.testing.assert_allclose(OnnxNetwork(graph)(PICTURES), eager(module), atol=1e-4)
    assert (cache_folder() / f"{folder_digest(folder)}.onnx").read_bytes() == graph
