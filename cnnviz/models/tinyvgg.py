"""The embedded default model: a small VGG-style CNN in the spirit of CNN Explainer's Tiny VGG."""

from __future__ import annotations

from collections import OrderedDict

from torch import Tensor, nn


class TinyVGG(nn.Module):
    """Blocks of two 3x3 conv + ReLU layers and a 2x2 max pool, then a linear classifier.

    Module names follow CNN Explainer (``features.conv_1_1``, ``features.relu_1_1``, ...,
    ``features.max_pool_1``, ``classifier.fc``) so pages can label layers plainly. ReLUs are not
    in-place, so hooks and gradients on any layer's output behave.
    """

    def __init__(
        self,
        num_classes: int = 10,
        channels: tuple[int, ...] = (16, 32, 48),
        in_channels: int = 3,
        image_size: int = 64,
    ) -> None:
        super().__init__()
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        previous = in_channels
        for block, width in enumerate(channels, start=1):
            for i in (1, 2):
                layers[f"conv_{block}_{i}"] = nn.Conv2d(previous, width, kernel_size=3, padding=1)
                layers[f"relu_{block}_{i}"] = nn.ReLU()
                previous = width
            layers[f"max_pool_{block}"] = nn.MaxPool2d(2)
        self.features = nn.Sequential(layers)
        side = image_size // 2 ** len(channels)
        self.classifier = nn.Sequential(
            OrderedDict([("flatten", nn.Flatten()), ("fc", nn.Linear(previous * side * side, num_classes))])
        )
        self.config = {
            "num_classes": num_classes,
            "channels": list(channels),
            "in_channels": in_channels,
            "image_size": image_size,
        }

    def forward(self, x: Tensor) -> Tensor:
        """Class logits for a batch of normalised images ``(N, C, H, W)``."""
        return self.classifier(self.features(x))
