"""Sample images shipped in ``assets/samples``: CC0 / public-domain photos and one synthetic image per class.

``python -m cnnviz.data.samples`` regenerates the synthetic ones from the procedural dataset.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from cnnviz.assets import SAMPLES_DIR
from cnnviz.data.images import load_image
from cnnviz.data.shapes import CLASSES, make_sample

SYNTHETIC_SEED = 2026
"""Seed of the shipped synthetic samples; neither the training seed nor the held-out one."""

_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


@dataclass(frozen=True)
class SampleImage:
    """A shipped image: ``name`` is what the app lists, ``path`` where it lies."""

    name: str
    path: Path
    synthetic: bool


def list_samples(directory: Path = SAMPLES_DIR) -> list[SampleImage]:
    """Photos first, then the synthetic images, each group sorted by name. The folders are read again only when
    they change (every page run asks, several times: a room's thirty students' runs spent 6 % of the server's time
    listing them)."""
    synthetic_dir = directory / "synthetic"
    return list(_listed(directory, _stamp(directory), _stamp(synthetic_dir)))


def _stamp(folder: Path) -> int:
    """When ``folder``'s list of files last changed (-1: there is no such folder)."""
    try:
        return folder.stat().st_mtime_ns
    except FileNotFoundError:
        return -1


@functools.lru_cache(maxsize=16)
def _listed(directory: Path, *stamps: int) -> tuple[SampleImage, ...]:
    photos = sorted(p for p in directory.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
    synthetic_dir = directory / "synthetic"
    synthetic = sorted(synthetic_dir.glob("*.png")) if synthetic_dir.is_dir() else []
    return tuple(
        [SampleImage(f"photo: {p.stem}", p, False) for p in photos]
        + [SampleImage(f"synthetic: {p.stem}", p, True) for p in synthetic]
    )


def load_sample(name: str, directory: Path = SAMPLES_DIR) -> Image.Image:
    """The RGB image of the sample called ``name`` (as listed by :func:`list_samples`)."""
    for sample in list_samples(directory):
        if sample.name == name:
            return load_image(sample.path)
    raise KeyError(f"no sample image called {name!r}")


def write_synthetic_samples(directory: Path = SAMPLES_DIR / "synthetic", seed: int = SYNTHETIC_SEED) -> list[Path]:
    """Write the first sample of every class of the dataset with ``seed`` as ``<class>.png``."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for label, name in enumerate(CLASSES):
        path = directory / f"{name}.png"
        Image.fromarray(make_sample(seed, label).image).save(path, optimize=True)
        paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: regenerate the synthetic samples."""
    parser = argparse.ArgumentParser(prog="python -m cnnviz.data.samples", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SYNTHETIC_SEED)
    parser.add_argument("--out", type=Path, default=SAMPLES_DIR / "synthetic")
    args = parser.parse_args(argv)
    for path in write_synthetic_samples(args.out, args.seed):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
