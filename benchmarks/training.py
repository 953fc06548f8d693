"""Playground training speed on this machine: steps per second of the default run, measured in one run.

Run: ``.venv/bin/python benchmarks/training.py``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnviz.playground import RunConfig, Trainer


def main(steps: int = 200) -> None:
    config = RunConfig(steps=steps)
    trainer = Trainer(config)
    trainer._prepare()  # data generation is timed apart from the steps
    started = time.perf_counter()
    trainer.start()
    trainer.wait()
    seconds = time.perf_counter() - started
    print(f"default playground run ({config.net}), batch {config.batch_size}, torch threads {torch.get_num_threads()}")
    print(f"  {steps} steps in {seconds:.1f} s: {steps / seconds:.2f} steps/s, "
          f"{steps * config.batch_size / seconds:.0f} images/s")  # fmt: skip
    started = time.perf_counter()
    Trainer(config)._prepare()
    print(f"  generating {config.train_size} + {config.held_out_size} images: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
