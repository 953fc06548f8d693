"""Backbones for transfer learning: a pretrained model whose last linear layer is taken off, so it maps an image
to a feature vector, and the new network made by putting a head for the user's classes in its place.

The new network keeps its architecture's layer names, so its state dict is that of the architecture with
as many classes as the user made (``TinyVGG`` or torchvision's model): the "bring your own model" upload
accepts it back.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import Image
from torch import nn

from cnnviz.models import registry
from cnnviz.models.custom import ONNX_GRAPH, upload_label
from cnnviz.models.lite0 import LITE0
from cnnviz.models.sharing import freeze, model_lock
from cnnviz.models.tinyvgg import TINYVGG, TinyVGG
from cnnviz.progress import Progress

BACKBONES = (TINYVGG, LITE0, "resnet18", "mobilenet_v3_large", "efficientnet_b0")
"""The shipped TinyVGG and EfficientNet-Lite0 (always offline) and the registry's torchvision models a head can be
trained on; a session's uploaded ONNX graphs too (:func:`can_be_backbone`)."""
LAST_STAGE: dict[str, tuple[str, ...]] = {
    TINYVGG: ("features.conv_3_1", "features.conv_3_2"),
    LITE0: ("blocks.6", "conv_head", "bn2"),
    "resnet18": ("layer4",),
    "mobilenet_v3_large": ("features.16",),
    "efficientnet_b0": ("features.8",),
}
"""The modules fine-tuning trains besides the head: each backbone's last convolutional stage."""


def final_linear(module: nn.Module) -> str:
    """The name of the last ``nn.Linear`` in ``module`` (its classifier)."""
    names = [name for name, m in module.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ValueError("the model has no linear layer to replace.")
    return names[-1]


def _replace(module: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(module.get_submodule(parent) if parent else module, child, new)


def headless(network: nn.Module, head_name: str) -> nn.Module:
    """``network`` (changed in place, and returned frozen) with its layer ``head_name`` replaced by
    ``nn.Identity``: it then outputs the features that layer read."""
    _replace(network, head_name, nn.Identity())
    return freeze(network)


@dataclass
class Backbone:
    """A private copy of ``source``'s network without its last linear layer (``head_name``), frozen."""

    source: registry.LoadedModel
    network: nn.Module
    head_name: str
    feature_dim: int

    @property
    def architecture(self) -> str:
        """The registry's key (TinyVGG's for any TinyVGG), or :data:`~cnnviz.models.custom.ONNX_GRAPH` for a
        network converted from an uploaded ONNX file."""
        if isinstance(self.network, TinyVGG):
            return TINYVGG
        return ONNX_GRAPH if self.source.card.architecture == ONNX_GRAPH else self.source.spec.key

    @property
    def last_stage(self) -> tuple[str, ...]:
        """The modules fine-tuning trains besides the head: :data:`LAST_STAGE`'s, or a converted graph's last
        convolution."""
        if self.architecture in LAST_STAGE:
            return LAST_STAGE[self.architecture]
        convolutions = [name for name, m in self.network.named_modules() if isinstance(m, nn.Conv2d)]
        return tuple(convolutions[-1:])


def can_be_backbone(model: registry.LoadedModel) -> bool:
    """Whether a session's model can be a backbone: an uploaded ONNX graph (or a model trained on one) whose
    classifier is a linear layer (a Gemm or MatMul with constant weights)."""
    if model.card.architecture != ONNX_GRAPH:
        return False
    return any(isinstance(m, nn.Linear) for m in model.module.modules())


def pooled_tinyvgg(model: TinyVGG) -> TinyVGG:
    """``model``'s feature layers under a head that reads each channel's average (``global_pool``): its features
    no longer depend on where in the image a shape sits, which a few images per class cannot teach."""
    pooled = TinyVGG(**{**model.config, "global_pool": True, "dropout": 0.0})
    pooled.features.load_state_dict(model.features.state_dict())
    return pooled


def backbone_from(model: registry.LoadedModel) -> Backbone:
    """A backbone made from a (possibly shared) loaded model; the model itself is not changed. The embedded
    TinyVGG's backbone averages its last feature maps (48 features, see :func:`pooled_tinyvgg`)."""
    with model_lock(model.module):
        network = pooled_tinyvgg(model.module) if isinstance(model.module, TinyVGG) else copy.deepcopy(model.module)
    name = final_linear(network)
    head = network.get_submodule(name)
    assert isinstance(head, nn.Linear)
    dim = head.in_features
    return Backbone(model, headless(network, name), name, dim)


def features(
    backbone: Backbone, images: Sequence[Image.Image], batch_size: int = 32, progress: Progress | None = None
) -> torch.Tensor:
    """The feature vector ``(N, feature_dim)`` of each image, preprocessed as the backbone's weights expect."""
    out = torch.empty(len(images), backbone.feature_dim)
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            x = torch.cat([backbone.source.preprocess(image) for image in chunk])
            out[start : start + len(chunk)] = backbone.network(x).flatten(1)
            if progress:
                progress(start + len(chunk), len(images))
    return out


def assemble(backbone: Backbone, head: nn.Linear) -> nn.Module:
    """The backbone's architecture with (a copy of) ``head`` as its last linear layer, in a copy of the network."""
    model = copy.deepcopy(backbone.network)
    _replace(model, backbone.head_name, copy.deepcopy(head))
    return freeze(model)


def transfer_model(
    backbone: Backbone, model: nn.Module, classes: Sequence[str], accuracy: float, held_out: int, trained_on: str
) -> registry.LoadedModel:
    """A loaded model (for the sidebar, for the session) of the assembled ``model``, preprocessed as the backbone
    was, with a card saying what it was trained on."""
    label = upload_label("+".join(classes), backbone.architecture)
    spec = registry.ModelSpec(f"transfer-{uuid.uuid4().hex}", label, "session")
    note = f"held-out accuracy on {held_out} of your images, never used in training"
    description = f"{backbone.source.card.architecture} with a new head for your classes, trained here on {trained_on}."
    return registry.with_preprocessing_of(backbone.source, spec, model, tuple(classes), accuracy, note, description)
