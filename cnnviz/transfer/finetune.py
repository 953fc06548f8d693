"""Fine-tuning: the head and the backbone's last stage trained together on augmented images (flips, crops,
colour jitter), the rest of the backbone frozen, within a step budget and a time budget."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torchvision.transforms import v2

from cnnviz.training.loop import Optimisation
from cnnviz.transfer.backbones import LAST_STAGE, Backbone, assemble

MAX_SECONDS = 120.0
"""A fine-tuning stops after this long, whatever its step count (the server is shared)."""


@dataclass(frozen=True)
class Augmentation:
    """Which random changes each training image gets before every step."""

    flip: bool = True
    crop: bool = True
    colour: bool = True

    def transform(self, size: int) -> Callable[[Image.Image], Image.Image]:
        steps: list = [v2.RandomHorizontalFlip()] if self.flip else []
        steps += [v2.RandomResizedCrop(size, scale=(0.6, 1.0), antialias=True)] if self.crop else []
        steps += [v2.ColorJitter(0.3, 0.3, 0.3)] if self.colour else []
        return v2.Compose(steps) if steps else (lambda image: image)


EVERY_AUGMENTATION = Augmentation()


@dataclass
class FineTuned:
    """The fine-tuned network (the backbone's architecture with the head), its history, and why it stopped."""

    network: nn.Module
    history: list[dict[str, float]]
    stopped_early: bool


def fine_tune(
    backbone: Backbone, head: nn.Linear, train: Sequence[Image.Image], train_y: torch.Tensor,
    test: Sequence[Image.Image], test_y: torch.Tensor, steps: int = 60, batch_size: int = 16,
    learning_rate: float = 1e-3, augmentation: Augmentation = EVERY_AUGMENTATION, seed: int = 0, every: int = 10,
    progress: Callable[[int, int, list[dict[str, float]]], None] | None = None,
    keep_going: Callable[[], bool] = lambda: True, max_seconds: float = MAX_SECONDS,
) -> FineTuned:  # fmt: skip
    """Train the head (starting from the linear probe's) and :data:`LAST_STAGE` of a copy of the backbone."""
    network = assemble(backbone, head)
    stage = [network.get_submodule(name) for name in LAST_STAGE[backbone.architecture]]
    trained = [*stage, network.get_submodule(backbone.head_name)]
    params = [p for module in trained for p in module.parameters()]
    for p in params:
        p.requires_grad_(True)
    augment = augmentation.transform(max(train[0].size))
    preprocess = backbone.source.preprocess
    test_x = torch.cat([preprocess(image) for image in test])
    holder = nn.ParameterList(params)  # Optimisation takes a module
    optimisation = Optimisation(holder, learning_rate, 1e-4, steps)
    generator = torch.Generator().manual_seed(seed)
    history: list[dict[str, float]] = []
    start, stopped = time.monotonic(), False
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the augmentations' draws
        for step in range(1, steps + 1):
            if not keep_going() or time.monotonic() - start > max_seconds:
                stopped = True
                break
            pick = torch.randint(len(train), (min(batch_size, len(train)),), generator=generator)
            x = torch.cat([preprocess(augment(train[i])) for i in pick.tolist()])
            for module in trained:
                module.train()
            logits = network(x)
            loss = F.cross_entropy(logits, train_y[pick])
            optimisation.step(loss)
            network.eval()
            if step % every == 0 or step == steps:
                with torch.no_grad():
                    held_out = float((network(test_x).argmax(1) == test_y).float().mean())
                seen = float((logits.detach().argmax(1) == train_y[pick]).float().mean())
                history.append({"step": step, "loss": float(loss.detach()), "batch_accuracy": seen,
                                "held_out_accuracy": held_out})  # fmt: skip
                if progress:
                    progress(step, steps, history)
    for p in params:
        p.requires_grad_(False)
    return FineTuned(network.eval(), history, stopped)  # assemble() made it a copy of its own
