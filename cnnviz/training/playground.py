"""Train a small CNN live: a configurable TinyVGG variant, trained in the background with stop and resume.

A :class:`Trainer` runs its steps in a background thread that waits its turn in :data:`cnnviz.server.jobs.TRAININGS`
(at most two trainings at once on the server, four more in line, then :class:`~cnnviz.server.jobs.ServerBusy`), so
a training never blocks the page that started it and trainings cannot take every core from the other
sessions. A training whose session has gone (its ``alive`` check false for the grace period) leaves the line
or stops after its current step. Everything the page shows is read through :meth:`Trainer.snapshot`, a
consistent copy taken under the trainer's lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn

from cnnviz.data.shapes import CLASSES, IMAGE_SIZE, Batch, generate
from cnnviz.models.embedded import held_out_seed
from cnnviz.models.sharing import model_lock
from cnnviz.models.tinyvgg import TinyVGG
from cnnviz.progress import Stopped
from cnnviz.server.jobs import TRAININGS, Alive, Job, JobState, WorkQueue, always
from cnnviz.training.loop import Evaluation, Optimisation, evaluate, fit
from cnnviz.training.seeding import seed_dropouts, seeded
from cnnviz.training.tensors import channel_stats, to_tensor

logger = logging.getLogger(__name__)
_DATA_CHUNK = 250
"""Training images made at a time (about half a second's work; more on a busy machine, where trainings run at a lower
priority): a stop or an abandonment waits at most this long."""


State = JobState


@dataclass(frozen=True)
class NetConfig:
    """The architecture: ``blocks`` of two conv + ReLU layers (optionally batch-normalised) and a pool;
    channels double from block to block; then dropout and a linear layer on the pooled features."""

    blocks: int = 3
    channels: int = 16
    kernel_size: int = 3
    pooling: Literal["max", "avg"] = "max"
    dropout: float = 0.0
    batch_norm: bool = True

    def validate(self) -> None:
        if not 1 <= self.blocks <= 4:
            raise ValueError("blocks must be 1 to 4 (each halves the 64-pixel image)")
        if not 4 <= self.channels <= 64:
            raise ValueError("channels must be 4 to 64")
        if self.kernel_size not in (3, 5):
            raise ValueError("kernel size must be 3 or 5")
        if not 0 <= self.dropout < 1:
            raise ValueError("dropout must be in [0, 1)")

    def widths(self) -> tuple[int, ...]:
        """Each block's channels: ``channels``, doubling from block to block, at most 128."""
        return tuple(min(self.channels * 2**b, 128) for b in range(self.blocks))


@dataclass(frozen=True)
class RunConfig:
    """A training run: architecture, optimiser settings, budget and data."""

    net: NetConfig = field(default_factory=NetConfig)
    learning_rate: float = 1e-2
    batch_size: int = 64
    steps: int = 600
    seed: int = 0
    train_size: int = 6000
    held_out_size: int = 1000

    def validate(self) -> None:
        self.net.validate()
        if not 1e-5 <= self.learning_rate <= 1:
            raise ValueError("learning rate must be between 1e-5 and 1")
        if not 8 <= self.batch_size <= 256:
            raise ValueError("batch size must be 8 to 256")
        if not 1 <= self.steps <= 20_000:
            raise ValueError("steps must be 1 to 20000")


QUICK = RunConfig(
    NetConfig(blocks=3, channels=8), learning_rate=1e-2, batch_size=64, steps=400, train_size=3000, held_out_size=1000
)
"""A run that fits a lesson: about a minute on 2 CPU cores (``benchmarks/training.py``), ~78% held out."""
STANDARD = RunConfig()
"""The default run: ~94% held out in 600 steps."""


def build_model(net: NetConfig, num_classes: int = len(CLASSES), image_size: int = IMAGE_SIZE) -> TinyVGG:
    """The :class:`~cnnviz.models.tinyvgg.TinyVGG` variant of ``net``."""
    net.validate()
    return TinyVGG(
        num_classes,
        net.widths(),
        image_size=image_size,
        kernel_size=net.kernel_size,
        pooling=net.pooling,
        batch_norm=net.batch_norm,
        dropout=net.dropout,
        global_pool=True,
    )


@dataclass(frozen=True)
class Snapshot:
    """What a training has done so far."""

    state: State
    step: int
    total_steps: int
    history: list[dict[str, float]]  # step, loss, batch accuracy, and held-out accuracy at evaluations
    first_filters: np.ndarray  # (out, in, k, k) weights of the first conv layer
    error: str | None = None
    ahead: int = 0  # trainings waiting before this one (while queued)
    abandoned: bool = False  # stopped because its session went away
    images_made: int = 0  # training and held-out images made so far (the data comes before step 1)
    images_total: int = 0


class Trainer:
    """One training run, advanced in the background as a :class:`~cnnviz.server.jobs.Job`; ``stop`` pauses it and
    ``start`` resumes it.

    ``alive`` says whether the session that owns it is still there; once it has been false for ``grace_s``
    seconds the training leaves the queue or stops after its current step. ``queue`` is the queue it waits in.
    """

    def __init__(
        self, config: RunConfig, alive: Alive = always, grace_s: float = 10.0, queue: WorkQueue = TRAININGS
    ) -> None:
        config.validate()
        self.config = config
        self.job: Job[None] = Job(self._work, alive, grace_s, queue, name=f"training {config}", log=logger)
        # The seed makes this net, its batches and its dropout masks, from generators of this run's own.
        self.model = seeded(lambda: build_model(config.net), torch.Generator().manual_seed(config.seed))
        self._generator = torch.Generator().manual_seed(config.seed)
        seed_dropouts(self.model, self._generator)
        self._optimisation = Optimisation(self.model, config.learning_rate, 1e-4, config.steps)
        self._lock = threading.Lock()
        self._step = 0
        self._images_made = 0
        self._history: list[dict[str, float]] = []
        self._data: tuple[torch.Tensor, torch.Tensor] | None = None
        self.held_out: Batch | None = None
        self.mean: list[float] = []
        self.std: list[float] = []

    # -- control ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start, or resume after :meth:`stop`; a no-op while queued, running or done.

        Raises:
            ServerBusy: the server's training queue is full.
        """
        self.job.start()

    def stop(self) -> None:
        """Ask the run to pause after the current step (resume with :meth:`start`)."""
        self.job.stop()

    def wait(self, timeout: float | None = None) -> State:
        """Block until the background work pauses or ends (or ``timeout`` passes); returns the state."""
        return self.job.wait(timeout)

    @property
    def state(self) -> State:
        return self.job.state

    # -- the work ----------------------------------------------------------------------------------------------

    def _prepare(self, keep_going: Callable[[], bool] = always) -> None:
        """Make the data (in chunks, so a training that is stopped or abandoned meanwhile ends soon)."""
        if self._data is not None:
            return
        chunks = []
        for start in range(0, self.config.train_size, _DATA_CHUNK):
            if not keep_going():
                raise Stopped
            chunks.append(generate(min(_DATA_CHUNK, self.config.train_size - start), self.config.seed, start))
            self._made(start + len(chunks[-1].labels))
        data = Batch(*(np.concatenate([getattr(c, name) for c in chunks]) for name in ("images", "masks", "labels")))
        self.held_out = generate(self.config.held_out_size, held_out_seed(self.config.seed))
        self._made(self.config.train_size + self.config.held_out_size)
        self.mean, self.std = channel_stats(data.images)
        self._data = (to_tensor(data.images, self.mean, self.std), torch.from_numpy(data.labels))

    def _made(self, images: int) -> None:
        with self._lock:
            self._images_made = images

    def _work(self, job: Job[None]) -> None:
        self._prepare(job.keep_going)
        assert self._data is not None  # _prepare made it
        x, y = self._data
        loss_fn = nn.CrossEntropyLoss()

        def step_loss(_step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            index = torch.randint(0, len(x), (self.config.batch_size,), generator=self._generator)
            return loss_fn(logits := self.model(x[index]), y[index]), logits, y[index]

        def on_step(entry: dict[str, float]) -> None:
            with self._lock:
                self._step = int(entry["step"])
                self._history.append(entry)
            time.sleep(0)  # let the page's threads in between steps

        fit(
            self.model,
            self._optimisation,
            step_loss,
            self.config.steps,
            start=self._step,
            held_out=lambda: self.evaluate(limit=300).accuracy,
            evaluate_every=max(1, self.config.steps // 20),
            on_step=on_step,
            keep_going=job.keep_going,
            guard=lambda: model_lock(self.model),
        )

    # -- reading ---------------------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        status = self.job.status
        with self._lock:
            history, step, made = list(self._history), self._step, self._images_made
        with model_lock(self.model):
            first_layer = self.model.get_submodule("features.conv_1_1")
            assert isinstance(first_layer, nn.Conv2d)
            first = first_layer.weight.detach().numpy().copy()
        total = self.config.train_size + self.config.held_out_size
        return Snapshot(
            status.state,
            step,
            self.config.steps,
            history,
            first,
            status.error,
            status.ahead,
            status.abandoned,
            made,
            total,
        )

    def evaluate(self, limit: int | None = None) -> Evaluation:
        """Accuracy, confusion matrix and misclassified samples on the held-out set (its first ``limit``)."""
        held = self.held_out_images()
        count = len(held.labels) if limit is None else min(limit, len(held.labels))
        x = to_tensor(held.images[:count], self.mean, self.std)
        return evaluate(self.model, x, held.labels[:count], len(CLASSES))

    def held_out_images(self) -> Batch:
        """The held-out set (made first, if the training has not made it yet)."""
        self._prepare()
        assert self.held_out is not None  # _prepare made it
        return self.held_out
