"""Fine-tuning: the head and the backbone's last stage trained together on augmented images (flips, crops,
colour jitter), the rest of the backbone frozen, within a step budget and a time budget."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torchvision.transforms.v2 import functional as F_v2

from cnnviz.training.loop import Optimisation, fit, share_correct
from cnnviz.training.seeding import seed_dropouts
from cnnviz.transfer.backbones import Backbone, assemble

MAX_SECONDS = 120.0
"""A fine-tuning stops after this long, whatever its step count (the server is shared)."""


@dataclass(frozen=True)
class Augmentation:
    """Which random changes each training image gets before every step: torchvision's horizontal flip,
    ``RandomResizedCrop(size, scale=(0.6, 1))`` and ``ColorJitter(0.3, 0.3, 0.3)``, their parameters drawn from
    the job's generator (torchvision's transforms draw from the process's)."""

    flip: bool = True
    crop: bool = True
    colour: bool = True

    def transform(self, size: int, generator: torch.Generator) -> Callable[[Image.Image], Image.Image]:
        def uniform(low: float, high: float) -> float:
            return float(torch.empty(1).uniform_(low, high, generator=generator))

        def augment(image: Image.Image) -> Image.Image:
            if self.flip and float(torch.rand(1, generator=generator)) < 0.5:
                image = F_v2.horizontal_flip(image)
            if self.crop:
                top, left, height, width = _crop_box(image.height, image.width, (0.6, 1.0), uniform, generator)
                image = F_v2.resized_crop(image, top, left, height, width, [size, size], antialias=True)
            if self.colour:
                factors = [uniform(0.7, 1.3) for _ in range(3)]
                adjust = (F_v2.adjust_brightness, F_v2.adjust_contrast, F_v2.adjust_saturation)
                for index in torch.randperm(3, generator=generator).tolist():  # in a random order, as ColorJitter
                    image = adjust[index](image, factors[index])
            return image

        return augment


def _crop_box(
    height: int,
    width: int,
    scale: tuple[float, float],
    uniform: Callable[[float, float], float],
    generator: torch.Generator,
) -> tuple[int, int, int, int]:
    """``RandomResizedCrop``'s choice of box (top, left, height, width): an area share in ``scale`` and an aspect
    ratio in [3/4, 4/3] (log-uniform), ten tries, else the whole image's central crop within those ratios."""
    area, log_ratio = height * width, (math.log(3 / 4), math.log(4 / 3))
    for _ in range(10):
        target = area * uniform(*scale)
        ratio = math.exp(uniform(*log_ratio))
        w, h = round(math.sqrt(target * ratio)), round(math.sqrt(target / ratio))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (1,), generator=generator))
            left = int(torch.randint(0, width - w + 1, (1,), generator=generator))
            return top, left, h, w
    ratio = width / height
    if ratio < 3 / 4:
        w, h = width, round(width / (3 / 4))
    elif ratio > 4 / 3:
        w, h = round(height * (4 / 3)), height
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


EVERY_AUGMENTATION = Augmentation()


@dataclass
class FineTuned:
    """The fine-tuned network (the backbone's architecture with the head), its history, and why it stopped."""

    network: nn.Module
    history: list[dict[str, float]]
    stopped_early: bool


def fine_tune(
    backbone: Backbone,
    head: nn.Linear,
    train: Sequence[Image.Image],
    train_y: torch.Tensor,
    test: Sequence[Image.Image],
    test_y: torch.Tensor,
    steps: int = 60,
    batch_size: int = 16,
    learning_rate: float = 1e-3,
    augmentation: Augmentation = EVERY_AUGMENTATION,
    seed: int = 0,
    every: int = 10,
    progress: Callable[[int, int, list[dict[str, float]]], None] | None = None,
    keep_going: Callable[[], bool] = lambda: True,
    max_seconds: float = MAX_SECONDS,
) -> FineTuned:
    """Train the head (starting from the linear probe's) and the backbone's last stage, in a copy of it."""
    network = assemble(backbone, head)
    stage = [network.get_submodule(name) for name in backbone.last_stage]
    trained = [*stage, network.get_submodule(backbone.head_name)]
    params = [p for module in trained for p in module.parameters()]
    for p in params:
        p.requires_grad_(True)
    generator = torch.Generator().manual_seed(seed)  # batches, augmentations, dropout: this job's own draws
    seed_dropouts(network, generator)
    augment = augmentation.transform(max(train[0].size), generator)
    preprocess = backbone.source.preprocess
    test_x = torch.cat([preprocess(image) for image in test])
    holder = nn.ParameterList(params)  # Optimisation takes a module
    optimisation = Optimisation(holder, learning_rate, 1e-4, steps)
    started = time.monotonic()

    def step_loss(_step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pick = torch.randint(len(train), (min(batch_size, len(train)),), generator=generator)
        x = torch.cat([preprocess(augment(train[i])) for i in pick.tolist()])
        logits = network(x)
        return F.cross_entropy(logits, train_y[pick]), logits, train_y[pick]

    def held_out() -> float:
        with torch.no_grad():
            return share_correct(test_y, network(test_x).argmax(1))

    shown: list[dict[str, float]] = []

    def on_step(entry: dict[str, float]) -> None:
        if progress is not None and "held_out_accuracy" in entry:  # the entries the history keeps
            shown.append(entry)
            progress(int(entry["step"]), steps, list(shown))

    done = fit(
        network,
        optimisation,
        step_loss,
        steps,
        trained=trained,  # the rest of the backbone stays in eval mode: its batch norms keep their statistics
        held_out=held_out,
        evaluate_every=every,
        record_every=every,
        on_step=on_step,
        keep_going=lambda: keep_going() and time.monotonic() - started <= max_seconds,
    )
    for p in params:
        p.requires_grad_(False)
    return FineTuned(network.eval(), done.history, done.stopped)  # assemble() made it a copy of its own
