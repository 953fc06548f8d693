"""TinyVGG, the one network builder: the embedded default model and every playground variant."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Literal

from torch import Tensor, nn

TINYVGG = "tinyvgg"
"""TinyVGG's key: the embedded model's name in the registry and its files' stem, and the architecture name of
uploaded TinyVGG weights."""


class TinyVGG(nn.Module):
    """Blocks of two conv + ReLU layers (optionally batch-normalised) and a 2x2 pool, then a linear classifier.

    Module names follow CNN Explainer (``features.conv_1_1``, ``features.relu_1_1``, ...,
    ``features.max_pool_1``, ``classifier.fc``) so pages can label layers plainly. ReLUs are not
    in-place, so hooks and gradients on any layer's output behave. The classifier reads the flattened last
    feature map (the embedded model) or, with ``global_pool``, its per-channel averages (the playground's).
    ``config`` holds the arguments, so ``TinyVGG(**model.config)`` builds the same network.
    """

    def __init__(
        self,
        num_classes: int = 10,
        channels: tuple[int, ...] = (16, 32, 48),
        in_channels: int = 3,
        image_size: int = 64,
        kernel_size: int = 3,
        pooling: Literal["max", "avg"] = "max",
        batch_norm: bool = False,
        dropout: float = 0.0,
        global_pool: bool = False,
    ) -> None:
        super().__init__()
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        previous = in_channels
        for block, width in enumerate(channels, start=1):
            for i in (1, 2):
                layers[f"conv_{block}_{i}"] = nn.Conv2d(previous, width, kernel_size, padding=kernel_size // 2)
                if batch_norm:
                    layers[f"bn_{block}_{i}"] = nn.BatchNorm2d(width)
                layers[f"relu_{block}_{i}"] = nn.ReLU()
                previous = width
            layers[f"{pooling}_pool_{block}"] = nn.MaxPool2d(2) if pooling == "max" else nn.AvgPool2d(2)
        self.features = nn.Sequential(layers)
        head: OrderedDict[str, nn.Module] = OrderedDict()
        if global_pool:
            head["avg_pool"] = nn.AdaptiveAvgPool2d(1)
        head["flatten"] = nn.Flatten()
        if dropout:
            head["dropout"] = nn.Dropout(dropout)
        side = 1 if global_pool else image_size // 2 ** len(channels)
        head["fc"] = nn.Linear(previous * side * side, num_classes)
        self.classifier = nn.Sequential(head)
        self.config: dict[str, Any] = {
            "num_classes": num_classes,
            "channels": list(channels),
            "in_channels": in_channels,
            "image_size": image_size,
        }
        extras = {
            "kernel_size": kernel_size,
            "pooling": pooling,
            "batch_norm": batch_norm,
            "dropout": dropout,
            "global_pool": global_pool,
        }
        defaults = {"kernel_size": 3, "pooling": "max", "batch_norm": False, "dropout": 0.0, "global_pool": False}
        self.config |= {k: v for k, v in extras.items() if v != defaults[k]}  # the embedded card keeps its 4 keys

    def forward(self, x: Tensor) -> Tensor:
        """Class logits for a batch of normalised images ``(N, C, H, W)``."""
        return self.classifier(self.features(x))
