"""Transfer learning on this machine, per backbone, in one run.

Run: ``.venv/bin/python benchmarks/transfer.py``. For 60 images (3 classes of 20, the generated example
classes) it prints, per backbone: feature extraction in images per second, the linear probe's training time,
seconds from images to a trained probe (features + probe, the issue's "< 10 s on 2 cores" for the embedded
TinyVGG), and 20 fine-tuning steps. Torchvision backbones whose weights are not cached get seeded random
weights in a temporary ``TORCH_HOME`` (their speed does not depend on the values; their accuracy does, so it
is only printed for the embedded model, on 150 more held-out images).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnviz.models import registry
from cnnviz.transfer.backbones import BACKBONES, backbone_from, features
from cnnviz.transfer.examples import NOVEL_CLASSES, novel_examples
from cnnviz.transfer.finetune import fine_tune
from cnnviz.transfer.probe import train_probe


def main() -> None:
    torch.set_num_threads(os.cpu_count() or 1)
    train_images, train_labels = novel_examples(20, seed=0)
    test_images, test_labels = novel_examples(50, seed=1000)
    y, test_y = torch.tensor(train_labels), torch.tensor(test_labels)
    print(f"{len(train_images)} training images ({len(NOVEL_CLASSES)} classes of 20), {os.cpu_count()} cores")
    print(
        f"{'backbone':<20}{'features img/s':>16}{'probe s':>10}{'to a probe s':>14}{'20 fine-tune steps s':>22}"
        f"{'held-out acc':>14}"
    )
    home = tempfile.mkdtemp(prefix="cnnviz-bench-")
    for key in BACKBONES:
        if key != "tinyvgg" and not registry.weights_cached(key):
            os.environ["TORCH_HOME"] = home
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from tests.conftest import cache_random_weights

            cache_random_weights(key)
        backbone = backbone_from(registry.load_model(key))
        features(backbone, train_images[:4])  # warm up
        started = time.perf_counter()
        table = features(backbone, train_images)
        extract = time.perf_counter() - started
        test_table = features(backbone, test_images)
        started = time.perf_counter()
        probe = train_probe(table, y, test_table, test_y, len(NOVEL_CLASSES))
        probing = time.perf_counter() - started
        started = time.perf_counter()
        fine_tune(backbone, probe.head, train_images, y, test_images[:30], test_y[:30], steps=20, every=20)
        tuning = time.perf_counter() - started
        accuracy = f"{probe.history[-1]['held_out_accuracy']:.1%}" if key == "tinyvgg" else "(random w.)"
        print(
            f"{key:<20}{len(train_images) / extract:>16.1f}{probing:>10.2f}{extract + probing:>14.2f}"
            f"{tuning:>22.1f}{accuracy:>14}"
        )


if __name__ == "__main__":
    main()
