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
