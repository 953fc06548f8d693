"""Randomness per job: seeded work draws from its own generators, gives exactly what PyTorch gives after
``torch.manual_seed`` of the same seed, and cannot be disturbed by another thread drawing at the same time."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms import v2

from cnnviz.learn.training_aids import dropout
from cnnviz.models import registry
from cnnviz.models.tinyvgg import TinyVGG
from cnnviz.training.playground import NetConfig, RunConfig, Trainer, build_model
from cnnviz.training.seeding import SeededDropout, dropout_noise, seed_dropouts, seeded
from cnnviz.transfer.backbones import backbone_from
from cnnviz.transfer.examples import novel_examples
from cnnviz.transfer.finetune import Augmentation, fine_tune
from tests.conftest import run_in_threads


def reference(build, seed: int):
    """What PyTorch builds after torch.manual_seed(seed), with the process's generator restored afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


@pytest.mark.parametrize(
    "build",
    [
        lambda: TinyVGG(10, (16, 32, 48)),
        lambda: nn.Linear(48, 3),
        lambda: build_model(NetConfig(blocks=3, channels=8, batch_norm=True, dropout=0.3, kernel_size=5)),
    ],
    ids=["embedded TinyVGG", "linear head", "playground net"],
)
def test_seeded_layers_are_pytorchs_default_initialisation(build):
    ours, theirs = seeded(build, torch.Generator().manual_seed(11)).state_dict(), reference(build, 11).state_dict()
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_dropout_masks_are_f_dropouts_and_leave_the_global_generator_alone():
    x = torch.randn(2, 8, 5, 5)
    before = torch.random.get_rng_state()
    noise = dropout_noise(x, 0.4, torch.Generator().manual_seed(3))
    assert torch.equal(torch.random.get_rng_state(), before)
    assert torch.equal(x * noise, reference(lambda: F.dropout(x, 0.4, training=True), 3))
    shown = dropout(x, 0.4, seed=3)
    assert torch.equal(shown.train, x * noise) and torch.equal(shown.kept, noise != 0) and torch.equal(shown.eval, x)
    layer = seed_dropouts(nn.Sequential(nn.Dropout(0.4)), torch.Generator().manual_seed(3))[0]
    assert isinstance(layer, SeededDropout) and torch.equal(layer.train()(x), x * noise)


def test_augmentations_draw_from_the_job_and_match_torchvision_in_kind():
    """The hand-drawn parameters give torchvision's kinds of change (flips are exact mirrors, crops keep the
    size), the same image for the same seed, and the global generator is never touched."""
    image = novel_examples(1, seed=3)[0][0]
    augment = Augmentation().transform(64, torch.Generator().manual_seed(5))
    before = torch.random.get_rng_state()
    first = [np.asarray(augment(image)) for _ in range(6)]
    again = Augmentation().transform(64, torch.Generator().manual_seed(5))
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(np.array_equal(a, np.asarray(again(image))) for a in first)
    assert all(a.shape == (64, 64, 3) for a in first) and len({a.tobytes() for a in first}) == 6
    flips = Augmentation(flip=True, crop=False, colour=False).transform(64, torch.Generator().manual_seed(0))
    mirrored = np.asarray(v2.functional.horizontal_flip(image))
    outcomes = [np.asarray(flips(image)) for _ in range(40)]
    assert all(np.array_equal(o, mirrored) or np.array_equal(o, np.asarray(image)) for o in outcomes)
    assert 8 < sum(np.array_equal(o, mirrored) for o in outcomes) < 32


@pytest.fixture(scope="module")
def backbone():
    return backbone_from(registry.load_model("tinyvgg"))


def tuned(backbone, seed: int):
    images, labels = novel_examples(6, seed=2)
    head = seeded(lambda: nn.Linear(backbone.feature_dim, 3), torch.Generator().manual_seed(seed))
    result = fine_tune(
        backbone,
        head,
        images,
        torch.tensor(labels),
        images,
        torch.tensor(labels),
        steps=12,
        batch_size=8,
        seed=seed,
        every=4,
    )
    return result.history, result.network.state_dict()


def test_two_fine_tunings_in_two_threads_give_what_each_gives_alone(backbone):
    """The issue's case: fine-tunings draw their batches and augmentations from their own generators, so two at
    once, beside a thread that keeps drawing from (and reseeding) the global generator, change nothing."""
    alone = {seed: tuned(backbone, seed) for seed in (1, 2)}
    stop = threading.Event()

    def noise() -> None:
        while not stop.is_set():
            torch.manual_seed(0)
            torch.rand(1000)

    disturber = threading.Thread(target=noise, daemon=True)
    disturber.start()
    try:
        together = run_in_threads(lambda i: tuned(backbone, i + 1), count=2, repeats=1)
    finally:
        stop.set()
        disturber.join()
    for seed, (history, state) in zip((1, 2), together, strict=True):
        assert history == alone[seed][0]
        assert all(torch.equal(state[k], alone[seed][1][k]) for k in state)
    assert alone[1][0] != alone[2][0]  # the seeds do matter


@pytest.mark.slow
def test_two_playground_trainings_at_once_give_what_each_gives_alone():
    config = RunConfig(
        NetConfig(blocks=2, channels=8, dropout=0.3), steps=6, batch_size=16, train_size=200, held_out_size=50
    )

    def run(seed: int):
        from dataclasses import replace

        from cnnviz.server.jobs import WorkQueue

        trainer = Trainer(replace(config, seed=seed), queue=WorkQueue("test", 2, 2))
        trainer.start()
        assert trainer.wait(120) == "done"
        return trainer.snapshot().history, trainer.model.state_dict()

    alone = {seed: run(seed) for seed in (3, 4)}
    together = run_in_threads(lambda i: run(i + 3), count=2, repeats=1)
    for seed, (history, state) in zip((3, 4), together, strict=True):
        assert history == alone[seed][0] and all(torch.equal(state[k], alone[seed][1][k]) for k in state)
