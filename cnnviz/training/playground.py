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
from cnnviz.server.jobs import TRAININGS, Alive, Liveness, Ticket, WorkQueue, always, lower_priority
from cnnviz.training.loop import Evaluation, Optimisation, evaluate, share_correct
from cnnviz.training.seeding import seed_dropouts, seeded
from cnnviz.training.tensors import channel_stats, to_tensor

logger = logging.getLogger(__name__)
_DATA_CHUNK = 250
"""Training images made at a time (about half a second's work; more on a busy machine, where trainings run at a lower
priority): a stop or an abandonment waits at most this long."""


class _Interrupted(Exception):
    """The training was stopped or abandoned while its data was being made."""


State = Literal["ready", "queued", "running", "stopped", "done", "failed"]


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
    """One training run, advanced in the background; ``stop`` pauses it and ``start`` resumes it.

    ``alive`` says whether the session that owns it is still there; once it has been false for ``grace_s``
    seconds the training leaves the queue or stops after its current step. ``queue`` is the queue it waits in.
    """

    def __init__(
        self, config: RunConfig, alive: Alive = always, grace_s: float = 10.0, queue: WorkQueue = TRAININGS
    ) -> None:
        config.validate()
        self._alive = Liveness(alive, grace_s)
        self._queue = queue
        self.config = config
        # The seed makes this net, its batches and its dropout masks, from generators of this run's own.
        self.model = seeded(lambda: build_model(config.net), torch.Generator().manual_seed(config.seed))
        self._generator = torch.Generator().manual_seed(config.seed)
        seed_dropouts(self.model, self._generator)
        self._optimisation = Optimisation(self.model, config.learning_rate, 1e-4, config.steps)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._state: State = "ready"
        self._ahead = 0
        self._abandoned = False
        self._step = 0
        self._images_made = 0
        self._history: list[dict[str, float]] = []
        self._error: str | None = None
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
        with self._lock:
            if self._state in ("queued", "running", "done"):
                return
            ticket = self._queue.join()
            self._stop.clear()
            self._state, self._abandoned, self._ahead = "queued", False, self._queue.ahead_of(ticket)
            self._thread = threading.Thread(target=self._run, args=(ticket,), name="cnnviz-train", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Ask the run to pause after the current step (resume with :meth:`start`)."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> State:
        """Block until the background work pauses or ends (or ``timeout`` passes); returns the state."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.state

    @property
    def state(self) -> State:
        with self._lock:
            return self._state

    # -- the work ----------------------------------------------------------------------------------------------

    def _prepare(self, keep_going: Callable[[], bool] = always) -> None:
        """Make the data (in chunks, so a training that is stopped or abandoned meanwhile ends soon)."""
        if self._data is not None:
            return
        chunks = []
        for start in range(0, self.config.train_size, _DATA_CHUNK):
            if not keep_going():
                raise _Interrupted
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

    def _set_ahead(self, ahead: int) -> None:
        with self._lock:
            self._ahead = ahead

    def _run(self, ticket: Ticket) -> None:
        lower_priority()  # a page's own work comes first (this thread, and PyTorch's workers it starts)
        try:
            if not self._queue.wait_turn(ticket, self._keep_going, self._set_ahead):
                with self._lock:  # stopped while waiting, or its session has gone (then marked abandoned)
                    self._state = "stopped"
                return
            with self._lock:
                self._state, self._ahead = "running", 0
            self._work()
        finally:
            self._queue.leave(ticket)

    def _keep_going(self) -> bool:
        """False once a stop was asked for, or once the session has gone (the training is then abandoned)."""
        if self._stop.is_set():
            return False
        if not self._alive():
            with self._lock:
                self._abandoned = True
            return False
        return True

    def _work(self) -> None:
        try:
            self._prepare(self._keep_going)
            x, y = self._data  # type: ignore[misc]
            loss_fn = nn.CrossEntropyLoss()
            evaluate_every = max(1, self.config.steps // 20)
            while self._step < self.config.steps and self._keep_going():
                index = torch.randint(0, len(x), (self.config.batch_size,), generator=self._generator)
                with model_lock(self.model):
                    self.model.train()
                    logits = self.model(x[index])
                    loss = loss_fn(logits, y[index])
                    self._optimisation.step(loss)
                    self.model.eval()
                record = {
                    "step": self._step + 1,
                    "loss": loss.item(),
                    "batch_accuracy": share_correct(y[index], logits.detach().argmax(1)),
                }
                if (self._step + 1) % evaluate_every == 0 or self._step + 1 == self.config.steps:
                    record["held_out_accuracy"] = self.evaluate(limit=300).accuracy
                with self._lock:
                    self._step += 1
                    self._history.append(record)
                time.sleep(0)  # let the page's threads in between steps
            with self._lock:
                self._state = "done" if self._step >= self.config.steps else "stopped"
        except _Interrupted:
            with self._lock:
                self._state = "stopped"
        except Exception as exc:
            logger.exception("training %s failed at step %d", self.config, self._step)
            with self._lock:
                self._state = "failed"
                self._error = f"an unexpected {type(exc).__name__}; the server's log has the details"

    # -- reading ---------------------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        with self._lock:
            history = list(self._history)
            state, step, error, ahead, abandoned = self._state, self._step, self._error, self._ahead, self._abandoned
            made = self._images_made
        with model_lock(self.model):
            first_layer = self.model.get_submodule("features.conv_1_1")
            assert isinstance(first_layer, nn.Conv2d)
            first = first_layer.weight.detach().numpy().copy()
        total = self.config.train_size + self.config.held_out_size
        return Snapshot(state, step, self.config.steps, history, first, error, ahead, abandoned, made, total)

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
