"""The one training step and the one evaluation every cnnviz network uses."""

from __future__ import annotations

import torch
from torch import nn

from cnnviz.models.sharing import in_use


def predicted_labels(model: nn.Module, x: torch.Tensor, batch_size: int = 250) -> torch.Tensor:
    """The class ``model`` gives each image of the normalised batch ``x`` (in eval mode, the model left as found)."""
    with in_use(model):
        return torch.cat([model(x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])


def accuracy(model: nn.Module, x: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of ``x`` (a normalised batch) that ``model`` classifies as ``labels``."""
    return int((predicted_labels(model, x) == labels).sum()) / max(len(x), 1)


class Optimisation:
    """How every cnnviz network is trained: AdamW with a one-cycle learning-rate schedule over ``total_steps``."""

    def __init__(self, model: nn.Module, learning_rate: float, weight_decay: float, total_steps: int) -> None:
        self.model = model
        self.optimiser = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
        self.schedule = torch.optim.lr_scheduler.OneCycleLR(
            self.optimiser, max_lr=learning_rate, total_steps=total_steps
        )

    def step(self, loss: torch.Tensor) -> None:
        """One update from ``loss`` (computed with the model in train mode): its gradients, the optimiser's step
        and the schedule's."""
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()
        self.schedule.step()
