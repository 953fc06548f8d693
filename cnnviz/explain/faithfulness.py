"""How far an explanation can be trusted: deletion and insertion curves, and the pointing game."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torchvision.transforms.functional import gaussian_blur

from cnnviz.explain.cams import EPS, CamMethod, cam
from cnnviz.models.sharing import borrowed, in_use
from cnnviz.progress import Progress

# --- faithfulness ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Curves:
    """RISE deletion and insertion curves: class probability against the share of pixels changed."""

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray

    @property
    def deletion_auc(self) -> float:
        return float(np.trapezoid(self.deletion, self.fractions))

    @property
    def insertion_auc(self) -> float:
        return float(np.trapezoid(self.insertion, self.fractions))


def faithfulness(
    model: nn.Module,
    x: Tensor,
    target: int,
    heatmap: Tensor,
    steps: int = 32,
    black: Tensor | None = None,
    batch_size: int = 16,
    progress: Progress | None = None,
) -> Curves:
    """Deletion and insertion curves (Petsiuk et al., RISE): pixels are removed (set to ``black``, the
    normalised black image) or inserted (into a blurred copy) from the most to the least salient, and the
    softmax probability of ``target`` is read after each of ``steps`` equal steps."""
    h, w = x.shape[-2:]
    order = torch.argsort(heatmap.flatten(), descending=True, stable=True)
    black = torch.zeros_like(x) if black is None else black
    sigma = max(h, w) / 20
    blurred = gaussian_blur(x, kernel_size=[2 * int(3 * sigma) + 1] * 2, sigma=[sigma, sigma])
    counts = np.linspace(0, h * w, steps + 1).round().astype(int)
    rank = torch.empty(h * w, dtype=torch.long)
    rank[order] = torch.arange(h * w)
    rank = rank.view(1, 1, h, w)
    images_del, images_ins = [], []
    for count in counts:
        changed = rank < int(count)  # the `count` most salient pixels
        images_del.append(torch.where(changed, black, x))
        images_ins.append(torch.where(changed, x, blurred))
    batch = torch.cat(images_del + images_ins)
    probs = []
    with borrowed(model) as own, in_use(own):  # 2 × (steps + 1) passes: on a private copy
        for start in range(0, len(batch), batch_size):
            probs.append(torch.softmax(own(batch[start : start + batch_size]), dim=1)[:, target])
            if progress:
                progress(min(start + batch_size, len(batch)), len(batch))
    values = torch.cat(probs).double().numpy()
    return Curves(counts / (h * w), values[: steps + 1], values[steps + 1 :])


def localisation(heatmap: Tensor, mask: np.ndarray) -> tuple[bool, float]:
    """Pointing-game hit (the map's peak lies inside the object's mask) and the share of the map's energy
    inside the mask, for one (H, W) map and its boolean mask."""
    inside = torch.from_numpy(np.asarray(mask, dtype=bool))
    hit = bool(inside.reshape(-1)[int(torch.argmax(heatmap))])
    return hit, float((heatmap * inside).sum() / (heatmap.sum() + EPS))


@dataclass(frozen=True)
class PointingGame:
    """Per-image pointing-game hits and shares of map energy inside the object's mask."""

    hits: np.ndarray  # (N,) bool
    energy: np.ndarray  # (N,) float
    labels: np.ndarray  # (N,) int

    @property
    def hit_rate(self) -> float:
        return float(self.hits.mean())

    def per_class(self) -> dict[int, float]:
        """Hit rate of each label present."""
        return {int(k): float(self.hits[self.labels == k].mean()) for k in np.unique(self.labels)}


def pointing_game(
    model: nn.Module,
    x: Tensor,
    masks: np.ndarray,
    labels: np.ndarray,
    layer: str,
    method: CamMethod = "Grad-CAM",
) -> PointingGame:
    """Explain each image of the normalised batch ``x`` for its true label with ``method`` at ``layer`` and
    score the map against the image's object mask with :func:`localisation`."""
    scores = [
        localisation(cam(model, x[i : i + 1], int(labels[i]), layer, method).heatmap, masks[i]) for i in range(len(x))
    ]
    return PointingGame(
        hits=np.array([hit for hit, _ in scores], dtype=bool),
        energy=np.array([share for _, share in scores], dtype=np.float64),
        labels=np.asarray(labels),
    )
