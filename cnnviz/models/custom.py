"""Bring your own model: a state dict for one of the registry's torchvision architectures, or a TorchScript
file. Nothing pickled is ever executed: state dicts load with ``torch.load(weights_only=True)``, which only
rebuilds tensors and plain containers, and TorchScript archives load with ``torch.jit.load``, which uses
TorchScript's own restricted unpickler. Files are size-limited, and a model that does not fit says why.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import warnings
from collections.abc import Mapping, Sequence

import torch
import torchvision
from torch import nn

from cnnviz.models.registry import (
    TORCHVISION_MODELS,
    LoadedModel,
    ModelSpec,
    crop_transform,
    default_weights,
    freeze,
    model_card,
    with_weights_preprocessing,
)

MAX_MODEL_BYTES = 200 * 1024 * 1024
"""Largest model file accepted (resnet50's state dict is 98 MB; vgg16's 528 MB is refused)."""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


SCRIPTED_NOTE = (
    "This is a TorchScript model: its layers cannot be hooked, so layer views, feature maps and class "
    "activation maps are not available. Predictions and input attributions (Integrated Gradients, Saliency, "
    "SmoothGrad, Occlusion) work; upload a state dict for one of the torchvision architectures to see inside."
)


class ModelFileError(ValueError):
    """The uploaded model cannot be used. The message is written for the user."""


def parse_class_names(text: str) -> tuple[str, ...]:
    """Class names typed one per line or separated by commas; blank entries are dropped."""
    separator = "\n" if "\n" in text.strip() else ","
    return tuple(name.strip() for name in text.split(separator) if name.strip())


def _check_size(data: bytes) -> None:
    if not data:
        raise ModelFileError("The model file is empty.")
    if len(data) > MAX_MODEL_BYTES:
        raise ModelFileError(
            f"The model file is {len(data) / 2**20:.0f} MB; the limit is {MAX_MODEL_BYTES / 2**20:.0f} MB."
        )


def _class_names(names: Sequence[str] | None, count: int) -> tuple[str, ...]:
    if not names:
        return tuple(f"class {i}" for i in range(count))
    if len(names) != count:
        raise ModelFileError(f"{len(names)} class names were given for a model with {count} classes.")
    return tuple(names)


def read_state_dict(data: bytes) -> dict[str, torch.Tensor]:
    """The tensors of a saved state dict (also inside a ``{"state_dict": ...}`` or ``{"model": ...}``
    checkpoint, with DataParallel's ``module.`` prefixes removed). Never runs pickled code.

    Raises:
        ModelFileError: too large, not a ``torch.save`` file, code or objects inside, or not a state dict.
    """
    _check_size(data)
    try:
        loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "GLOBAL" not in str(exc):  # no class or function named inside: not a pickle at all
            raise ModelFileError("This file is not a PyTorch state dict saved with torch.save.") from exc
        raise ModelFileError(
            "The file contains Python objects or code, not only tensors, and is refused unread "
            "(loading it could run code). Save the model's state_dict() instead."
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, AttributeError) as exc:
        raise ModelFileError("This file is not a PyTorch state dict saved with torch.save.") from exc
    if isinstance(loaded, Mapping):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(loaded.get(key), Mapping):
                loaded = loaded[key]
                break
    if not isinstance(loaded, Mapping) or not loaded or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise ModelFileError("The file does not hold a state dict (a mapping of parameter names to tensors).")
    prefix = "module."
    if all(str(k).startswith(prefix) for k in loaded):
        loaded = {str(k)[len(prefix) :]: v for k, v in loaded.items()}
    return {str(k): v for k, v in loaded.items()}


def _fit_summary(error: RuntimeError) -> str:
    lines = [line.strip() for line in str(error).splitlines()[1:] if line.strip()]
    detail = "; ".join(lines)[:400]
    return detail or str(error)[:400]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:10]


def load_state_dict_model(
    data: bytes,
    architecture: str,
    num_classes: int,
    class_names: Sequence[str] | None = None,
    file_name: str = "uploaded model",
) -> LoadedModel:
    """A torchvision ``architecture`` with ``num_classes`` outputs and the uploaded weights, preprocessed
    as torchvision's ImageNet weights for it are (the transforms need no download).

    Raises:
        ModelFileError: unknown architecture, bad class count or names, unreadable file, or weights that do
            not fit the architecture.
    """
    if architecture not in TORCHVISION_MODELS:
        raise ModelFileError(f"Unknown architecture {architecture!r}; choose one of {', '.join(TORCHVISION_MODELS)}.")
    if not 1 <= num_classes <= 100_000:
        raise ModelFileError("The number of classes must be between 1 and 100000.")
    state = read_state_dict(data)
    weights = default_weights(architecture)
    if class_names:
        names = _class_names(class_names, num_classes)
    elif num_classes == len(weights.meta["categories"]):
        names = tuple(weights.meta["categories"])
    else:
        names = _class_names(None, num_classes)
    module = torchvision.models.get_model(architecture, weights=None, num_classes=num_classes)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelFileError(
            f"These weights do not fit {architecture} with {num_classes} classes: {_fit_summary(exc)}"
        ) from exc
    spec = ModelSpec(f"upload-{_digest(data)}", f"{file_name} ({architecture}, uploaded)", "session")
    description = f"torchvision's {architecture} with weights uploaded in this session ({file_name})."
    return with_weights_preprocessing(spec, architecture, module, weights, names, None, "unknown: uploaded weights",
                                      description)  # fmt: skip


def load_torchscript_model(
    data: bytes,
    input_size: tuple[int, int] = (224, 224),
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    class_names: Sequence[str] | None = None,
    file_name: str = "uploaded model",
) -> LoadedModel:
    """A TorchScript classifier taking ``(1, 3, H, W)`` images normalised with ``mean`` and ``std`` and
    returning ``(1, classes)`` scores. TorchScript modules do not support hooks, so pages that look inside
    layers say so for them; predictions and input attributions work.

    Raises:
        ModelFileError: too large, not a TorchScript archive, or not an image classifier of that input.
    """
    _check_size(data)
    if not all(8 <= side <= 1024 for side in input_size):
        raise ModelFileError("The input size must be between 8 and 1024 pixels.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated in favour of torch.export
            module = torch.jit.load(io.BytesIO(data), map_location="cpu")
    except (RuntimeError, ValueError, OSError, EOFError, pickle.UnpicklingError) as exc:
        raise ModelFileError(
            "This file is not a TorchScript model (save one with torch.jit.save(torch.jit.script(model)))."
        ) from exc
    freeze(module)
    try:
        with torch.no_grad():
            scores = module(torch.zeros(1, 3, *input_size))
    except Exception as exc:  # any failure of the user's code is reported, not raised
        raise ModelFileError(f"The model fails on a 1×3×{input_size[0]}×{input_size[1]} image: {exc}"[:500]) from exc
    if not isinstance(scores, torch.Tensor) or scores.dim() != 2 or scores.shape[0] != 1:
        shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise ModelFileError(f"The model should return class scores of shape (1, classes); it returned {shape}.")
    names = _class_names(class_names, int(scores.shape[1]))
    card = model_card(module, "TorchScript", (input_size[0], input_size[1]), names, None, "unknown: uploaded model",
                      f"A TorchScript model uploaded in this session ({file_name}).")  # fmt: skip
    spec = ModelSpec(f"upload-{_digest(data)}", f"{file_name} (TorchScript, uploaded)", "session")
    return LoadedModel(spec, module, crop_transform(tuple(mean), tuple(std), input_size), tuple(mean), tuple(std), card)


def is_scripted(module: nn.Module) -> bool:
    """Whether ``module`` is TorchScript (no hooks: layer views and class activation maps cannot run)."""
    return isinstance(module, torch.jit.ScriptModule)
