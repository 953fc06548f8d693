"""What a channel responds to: activation maximisation, and the dataset images that excite it most.

Activation maximisation follows lucent: the image is parametrised in Fourier space with a 1/f spectrum
scaling (a penalty on high frequencies), and every step sees it jittered, rescaled and rotated a little
(transformation robustness) before the channel's mean activation is pushed up by gradient ascent. It runs
on a private copy of the model (:func:`cnnviz.models.sharing.borrowed`), so the shared model is held only for the
moment of copying.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnviz.models.sharing import borrowed, in_use
from cnnviz.network.features import activations
from cnnviz.progress import Progress


def _spectrum_scale(h: int, w: int, decay: float = 1.0) -> Tensor:
    fy = torch.fft.fftfreq(h)[:, None]
    fx = torch.fft.rfftfreq(w)[None, :]
    freqs = torch.sqrt(fx * fx + fy * fy)
    return 1.0 / torch.clamp(freqs, min=1.0 / max(h, w)) ** decay


def _transform(image: Tensor, generator: torch.Generator, jitter: int) -> Tensor:
    """Random jitter, scale (0.9–1.1) and rotation (±10°) of a batch (1, 3, H, W)."""
    h, w = image.shape[-2:]
    padded = F.pad(image, (jitter, jitter, jitter, jitter), mode="reflect")
    dy, dx = (int(v) for v in torch.randint(0, 2 * jitter + 1, (2,), generator=generator))
    image = padded[..., dy : dy + h, dx : dx + w]
    scale = 0.9 + 0.2 * float(torch.rand((), generator=generator))
    angle = math.radians(-10 + 20 * float(torch.rand((), generator=generator)))
    cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
    theta = torch.tensor([[[cos, -sin, 0.0], [sin, cos, 0.0]]], dtype=image.dtype)
    grid = F.affine_grid(theta, list(image.shape), align_corners=False)
    return F.grid_sample(image, grid, padding_mode="reflection", align_corners=False)


def maximize_channel(
    model: nn.Module,
    layer: str,
    channel: int,
    size: tuple[int, int],
    mean: Sequence[float],
    std: Sequence[float],
    steps: int = 128,
    learning_rate: float = 0.05,
    seed: int = 0,
    progress: Progress | None = None,
) -> np.ndarray:
    """An image (H, W, 3) uint8 that makes ``channel`` of ``layer`` fire strongly.

    Raises:
        KeyError: unknown layer; ValueError: channel out of range.
    """
    if layer not in dict(model.named_modules()):
        raise KeyError(f"no layer named {layer!r} in this model")
    with borrowed(model) as own, in_use(own, grad=True) as work:
        return _ascend(work, layer, channel, size, mean, std, steps, learning_rate, seed, progress)


def _ascend(
    work: nn.Module,
    layer: str,
    channel: int,
    size: tuple[int, int],
    mean: Sequence[float],
    std: Sequence[float],
    steps: int,
    learning_rate: float,
    seed: int,
    progress: Progress | None,
) -> np.ndarray:
    modules = dict(work.named_modules())
    generator = torch.Generator().manual_seed(seed)
    h, w = size
    channels = len(mean)  # 3, or 1 for a grey model
    spectrum = (0.01 * torch.randn(channels, h, w // 2 + 1, 2, generator=generator)).requires_grad_(True)
    scale = _spectrum_scale(h, w)
    mean_t, std_t = (torch.tensor(v).view(1, channels, 1, 1) for v in (mean, std))
    optimiser = torch.optim.Adam([spectrum], lr=learning_rate)
    captured: dict[str, Tensor] = {}
    handle = modules[layer].register_forward_hook(lambda _m, _i, out: captured.update(out=out))

    def render() -> Tensor:
        freq = torch.view_as_complex(spectrum) * scale
        pixels = torch.fft.irfft2(freq, s=(h, w), norm="ortho")[None] * 4.0
        return torch.sigmoid(pixels)

    try:
        for step in range(steps):
            optimiser.zero_grad()
            image = _transform(render(), generator, jitter=max(1, min(h, w) // 16))
            work((image - mean_t) / std_t)
            out = captured["out"]
            if not 0 <= channel < out.shape[1]:
                raise ValueError(f"{layer} has {out.shape[1]} channels; channel {channel} does not exist")
            loss = -out[0, channel].mean()
            loss.backward()
            optimiser.step()
            if progress:
                progress(step + 1, steps)
        with torch.no_grad():
            final = render()[0].permute(1, 2, 0).numpy()
    finally:
        handle.remove()
    picture = np.clip(np.rint(final * 255), 0, 255).astype(np.uint8)
    return np.repeat(picture, 3, axis=2) if channels == 1 else picture


def channel_means(model: nn.Module, x: Tensor, layer: str, batch_size: int = 100) -> Tensor:
    """Mean activation of every channel of ``layer`` for each image of ``x``: (N, C)."""
    parts = []
    for i in range(0, len(x), batch_size):
        out = activations(model, x[i : i + batch_size], [layer])[layer]
        parts.append(out.flatten(2).mean(-1) if out.dim() > 2 else out)
    return torch.cat(parts)


def top_images(scores: Tensor, channel: int, count: int = 8) -> list[tuple[int, float]]:
    """Indices and scores of the ``count`` images that excite ``channel`` most (scores: N × C)."""
    values, indices = torch.topk(scores[:, channel], min(count, len(scores)))
    return [(int(i), float(v)) for i, v in zip(indices, values, strict=True)]
