"""Train the embedded TinyVGG on the procedural shapes dataset and save the shipped weights.

Run ``python -m cnnviz.training.train --seed 0`` to rebuild ``assets/models/tinyvgg.pt`` and its metadata JSON.
Training is deterministic for a seed on a given machine; the held-out accuracy is measured on samples of
a seed that training never uses, and printed at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cnnviz.assets import MODELS_DIR
from cnnviz.data.shapes import CLASSES, IMAGE_SIZE, generate
from cnnviz.models.embedded import held_out_seed
from cnnviz.models.sharing import freeze
from cnnviz.models.tinyvgg import TINYVGG, TinyVGG
from cnnviz.training.loop import Optimisation, accuracy, fit
from cnnviz.training.seeding import seeded
from cnnviz.training.tensors import channel_stats, to_tensor


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the trained weights."""

    seed: int = 0
    train_size: int = 24_000
    held_out_size: int = 2_000
    epochs: int = 6
    batch_size: int = 64
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    channels: tuple[int, ...] = (16, 32, 48)
    focus_weight: float = 1.0  # weight of the object-focus loss (0 turns it off); see ``outside_share``


@dataclass(frozen=True)
class TrainingReport:
    """A report from the training loop: ``step`` of ``total_steps`` done, with the running loss."""

    stage: str
    step: int
    total_steps: int
    loss: float | None = None


@dataclass
class TrainResult:
    """The trained model and what is known about it."""

    model: TinyVGG
    mean: list[float]
    std: list[float]
    held_out_accuracy: float
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def outside_share(acts: torch.Tensor, coverage: torch.Tensor) -> torch.Tensor:
    """Mean share of the activation mass of ``acts`` (N, C, h, w) that lies outside the objects.

    ``coverage`` (N, h, w) is the share of each cell covered by the object's mask. Training with this as a
    second loss asks the last conv stage to describe the object from cells on it ("right for the right
    reasons", Ross et al. 2017): without it, corner detectors just outside angular shapes carry the class.
    """
    mass = acts.sum(dim=1)
    return ((mass * (1 - coverage)).sum(dim=(1, 2)) / (mass.sum(dim=(1, 2)) + 1e-6)).mean()


def mask_coverage(masks: np.ndarray, factor: int) -> torch.Tensor:
    """Object masks (N, H, W) bool averaged over ``factor`` x ``factor`` cells: (N, H/f, W/f) in [0, 1]."""
    return torch.nn.functional.avg_pool2d(torch.from_numpy(masks).float()[:, None], factor)[:, 0]


def train(config: TrainConfig, report: Callable[[TrainingReport], None] | None = None) -> TrainResult:
    """Generate the data, train a TinyVGG with ``config`` and measure it on held-out samples."""
    started = time.perf_counter()
    report = report or (lambda _progress: None)
    generator = torch.Generator().manual_seed(config.seed)

    report(TrainingReport("generating data", 0, 1))
    data = generate(config.train_size, config.seed)
    held_out = generate(config.held_out_size, held_out_seed(config.seed))
    mean, std = channel_stats(data.images)
    x = to_tensor(data.images, mean, std)
    y = torch.from_numpy(data.labels)
    x_held, y_held = to_tensor(held_out.images, mean, std), torch.from_numpy(held_out.labels)

    model = seeded(
        lambda: TinyVGG(num_classes=len(CLASSES), channels=config.channels, image_size=IMAGE_SIZE),
        torch.Generator().manual_seed(config.seed),
    )
    # The last conv stage (the default Grad-CAM layer) is the input of the final pooling layer.
    trunk, last_pool = model.features[:-1], model.features[-1]
    coverage = mask_coverage(data.masks, 2 ** (len(config.channels) - 1))
    steps_per_epoch = len(x) // config.batch_size
    total = steps_per_epoch * config.epochs
    optimisation = Optimisation(model, config.learning_rate, config.weight_decay, total)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.empty(0, dtype=torch.long)

    def step_loss(step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        nonlocal order
        b = (step - 1) % steps_per_epoch
        if b == 0:  # each epoch sees every image once, in an order of its own
            order = torch.randperm(len(x), generator=generator)
        idx = order[b * config.batch_size : (b + 1) * config.batch_size]
        batch = x[idx]
        flip = torch.rand(len(idx), generator=generator) < 0.5  # mirror images keep their class
        batch = torch.where(flip.view(-1, 1, 1, 1), batch.flip(3), batch)
        cover = torch.where(flip.view(-1, 1, 1), coverage[idx].flip(2), coverage[idx])
        # The focus loss starts after the first epoch and ramps up over the second: from the first step it
        # lets every ReLU die (no activation, nothing outside) before any class is learnt.
        ramp = min(1.0, max(0.0, (step - 1) / steps_per_epoch - 1))
        acts = trunk(batch)
        logits = model.classifier(last_pool(acts))
        loss = loss_fn(logits, y[idx])
        if config.focus_weight and ramp:
            loss = loss + ramp * config.focus_weight * outside_share(acts, cover)
        return loss, logits, y[idx]

    history: list[dict[str, float]] = []
    running = [0.0]

    def on_step(entry: dict[str, float]) -> None:
        step, epoch = int(entry["step"]), -(-int(entry["step"]) // steps_per_epoch)
        running[0] += entry["loss"]
        if step % 20 == 0 or step == total:
            report(TrainingReport(f"epoch {epoch}/{config.epochs}", step, total, entry["loss"]))
        if "held_out_accuracy" in entry:
            held_acc = entry["held_out_accuracy"]
            history.append({"epoch": epoch, "loss": running[0] / steps_per_epoch, "held_out_accuracy": held_acc})
            report(TrainingReport(f"epoch {epoch}/{config.epochs} held-out accuracy {held_acc:.4f}", step, total))
            running[0] = 0.0

    fit(
        model,
        optimisation,
        step_loss,
        total,
        held_out=lambda: accuracy(model, x_held, y_held),
        evaluate_every=steps_per_epoch,
        record_every=steps_per_epoch,
        on_step=on_step,
    )
    return TrainResult(
        model=freeze(model),
        mean=mean,
        std=std,
        held_out_accuracy=history[-1]["held_out_accuracy"],
        history=history,
        seconds=time.perf_counter() - started,
    )


def metadata(config: TrainConfig, result: TrainResult) -> dict:
    """The JSON card saved beside the weights."""
    return {
        "name": TINYVGG,
        "architecture": "TinyVGG",
        "model_config": result.model.config,
        "classes": list(CLASSES),
        "input_size": [IMAGE_SIZE, IMAGE_SIZE],
        "mean": result.mean,
        "std": result.std,
        "seed": config.seed,
        "train_size": config.train_size,
        "held_out_seed": held_out_seed(config.seed),
        "held_out_size": config.held_out_size,
        "held_out_accuracy": round(result.held_out_accuracy, 4),
        "training": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()},
        "history": result.history,
        "train_seconds": round(result.seconds, 1),
        "torch_version": torch.__version__,
    }


def save(config: TrainConfig, result: TrainResult, out_dir: Path, name: str = TINYVGG) -> tuple[Path, Path]:
    """Write ``<name>.pt`` (a plain state dict) and ``<name>.json`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    weights, card = out_dir / f"{name}.pt", out_dir / f"{name}.json"
    state = {k: v.detach().clone().contiguous() for k, v in result.model.state_dict().items()}
    torch.save(state, weights)
    card.write_text(json.dumps(metadata(config, result), indent=2) + "\n")
    return weights, card


def _print_progress(progress: TrainingReport) -> None:
    width = 30
    done = int(width * progress.step / max(progress.total_steps, 1))
    loss = "" if progress.loss is None else f" loss {progress.loss:.3f}"
    end = "\n" if "accuracy" in progress.stage or progress.step == 0 else "\r"
    print(
        f"[{'#' * done}{'.' * (width - done)}] {progress.step}/{progress.total_steps} {progress.stage}{loss}   ",
        end=end,
        file=sys.stderr,
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: train, print the held-out accuracy, save weights and metadata."""
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(prog="python -m cnnviz.training.train", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--train-size", type=int, default=defaults.train_size)
    parser.add_argument("--held-out-size", type=int, default=defaults.held_out_size)
    parser.add_argument("--out", type=Path, default=MODELS_DIR, help="folder for the .pt and .json")
    parser.add_argument("--name", default=TINYVGG, help="file name stem of the saved model")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.train_size < 64 or args.held_out_size < 10:
        parser.error("need --epochs >= 1, --train-size >= 64 and --held-out-size >= 10")
    config = TrainConfig(
        seed=args.seed, epochs=args.epochs, train_size=args.train_size, held_out_size=args.held_out_size
    )
    result = train(config, _print_progress)
    weights, card = save(config, result, args.out, args.name)
    print(
        f"held-out accuracy: {result.held_out_accuracy:.4f} on {config.held_out_size} images "
        f"of seed {held_out_seed(config.seed)} ({result.seconds:.0f} s)"
    )
    print(f"saved {weights} ({weights.stat().st_size / 1e6:.2f} MB) and {card}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
