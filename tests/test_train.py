"""cnnviz.training.train and the shipped embedded model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cnnviz.assets import MODELS_DIR
from cnnviz.data.shapes import CLASSES, generate
from cnnviz.models.embedded import held_out_seed, load_embedded
from cnnviz.models.tinyvgg import TINYVGG
from cnnviz.training.loop import accuracy
from cnnviz.training.tensors import channel_stats, to_tensor
from cnnviz.training.train import TrainConfig, main, mask_coverage, outside_share, save, train

TINY = TrainConfig(seed=3, train_size=160, held_out_size=20, epochs=1, batch_size=32, channels=(4, 8, 8))


@pytest.mark.slow
def test_training_is_deterministic_for_a_seed():
    """The seed alone decides the weights, and training leaves the process's random state as it found it."""
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    first, second = train(TINY), train(TINY)
    assert torch.equal(torch.rand(3), expected)
    for (name, a), (_, b) in zip(first.model.state_dict().items(), second.model.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    other = train(TrainConfig(**{**TINY.__dict__, "seed": 4}))
    assert not torch.equal(
        other.model.state_dict()["classifier.fc.weight"], first.model.state_dict()["classifier.fc.weight"]
    )


def test_training_reports_progress_and_freezes_the_result():
    seen = []
    result = train(TINY, seen.append)
    assert seen[-1].step == seen[-1].total_steps == 160 // 32
    assert not result.model.training
    assert not any(p.requires_grad for p in result.model.parameters())
    assert len(result.history) == 1 and 0 <= result.held_out_accuracy <= 1


def test_outside_share_by_hand():
    acts = torch.zeros(2, 2, 2, 2)
    acts[0, 0, 0, 0], acts[0, 1, 1, 1] = 3.0, 1.0  # mass [[3, 0], [0, 1]]
    acts[1, 0, 0, 1] = 2.0  # all of it on an uncovered cell
    coverage = torch.tensor([[[1.0, 0.0], [0.0, 0.5]], [[1.0, 0.0], [0.0, 0.0]]])
    # image 0: outside mass 3·0 + 1·0.5 = 0.5 of 4; image 1: 2 of 2
    assert float(outside_share(acts, coverage)) == pytest.approx((0.5 / 4 + 1.0) / 2, abs=1e-6)


def test_mask_coverage_averages_cells():
    masks = np.zeros((1, 4, 4), bool)
    masks[0, :2, :2] = True
    masks[0, 2, 3] = True
    expected = torch.tensor([[[1.0, 0.0], [0.0, 0.25]]])
    torch.testing.assert_close(mask_coverage(masks, 2), expected)


@pytest.mark.slow
def test_focus_loss_starts_after_the_first_epoch_and_changes_training():
    two_epochs = TrainConfig(**{**TINY.__dict__, "epochs": 2})
    focused, again = train(two_epochs), train(two_epochs)
    plain = train(TrainConfig(**{**two_epochs.__dict__, "focus_weight": 0.0}))
    first = train(TINY)
    no_focus_one_epoch = train(TrainConfig(**{**TINY.__dict__, "focus_weight": 0.0}))
    key = "features.conv_1_1.weight"
    assert torch.equal(focused.model.state_dict()[key], again.model.state_dict()[key])  # deterministic
    assert not torch.equal(focused.model.state_dict()[key], plain.model.state_dict()[key])  # the loss acts
    # During the first epoch the focus loss is off: one epoch with and without it gives the same weights.
    assert torch.equal(first.model.state_dict()[key], no_focus_one_epoch.model.state_dict()[key])


def test_shipped_model_was_trained_with_the_focus_loss():
    card = json.loads((MODELS_DIR / f"{TINYVGG}.json").read_text())
    assert card["training"]["focus_weight"] == TrainConfig().focus_weight > 0


def test_channel_stats_match_numpy(rng):
    images = rng.integers(0, 256, (30, 8, 8, 3), dtype=np.uint8)
    mean, std = channel_stats(images, chunk=7)
    pixels = images.reshape(-1, 3) / 255
    np.testing.assert_allclose(mean, pixels.mean(axis=0), atol=1e-4)
    np.testing.assert_allclose(std, pixels.std(axis=0), atol=1e-4)


def test_save_and_load_round_trip(tmp_path):
    result = train(TINY)
    weights, card = save(TINY, result, tmp_path, "tiny")
    model, meta = load_embedded(tmp_path, "tiny")
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(model(x), result.model(x), rtol=0, atol=0)
    assert meta["classes"] == list(CLASSES) and meta["seed"] == 3
    assert meta["held_out_seed"] == held_out_seed(3) != 3
    assert json.loads(card.read_text())["held_out_accuracy"] == round(result.held_out_accuracy, 4)
    assert weights.stat().st_size < 2 * 2**20


def test_command_line_writes_model(tmp_path, capsys):
    args = ["--seed", "1", "--epochs", "1", "--train-size", "64", "--held-out-size", "10", "--out", str(tmp_path)]
    assert main(args) == 0
    assert "held-out accuracy" in capsys.readouterr().out
    assert (tmp_path / f"{TINYVGG}.pt").is_file() and (tmp_path / f"{TINYVGG}.json").is_file()


def test_command_line_rejects_impossible_settings(capsys):
    with pytest.raises(SystemExit):
        main(["--epochs", "0"])
    assert "need --epochs" in capsys.readouterr().err


# --- the shipped model -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped():
    return load_embedded()


def test_shipped_files_are_small_and_described(shipped):
    _, meta = shipped
    assert (MODELS_DIR / f"{TINYVGG}.pt").stat().st_size <= 2 * 10**6
    assert meta["classes"] == list(CLASSES)
    assert meta["input_size"] == [64, 64]
    for key in ("mean", "std", "seed", "train_size", "held_out_seed", "held_out_size", "held_out_accuracy"):
        assert key in meta
    assert meta["held_out_seed"] != meta["seed"]


@pytest.mark.slow
def test_shipped_model_held_out_accuracy_is_at_least_95_percent(shipped):
    model, meta = shipped
    held_out = generate(meta["held_out_size"], meta["held_out_seed"])
    measured = accuracy(model, to_tensor(held_out.images, meta["mean"], meta["std"]), torch.from_numpy(held_out.labels))
    assert measured >= 0.95
    assert measured == pytest.approx(meta["held_out_accuracy"], abs=0.002)  # the card tells the truth


@pytest.mark.slow
def test_shipped_model_on_a_fresh_seed(shipped):
    model, meta = shipped
    fresh = generate(500, seed=987_654)  # neither the training nor the card's held-out seed
    measured = accuracy(model, to_tensor(fresh.images, meta["mean"], meta["std"]), torch.from_numpy(fresh.labels))
    assert measured >= 0.93
