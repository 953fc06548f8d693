"""The user's own classes: a few images each, decoded safely (bad ones skipped with a message naming them),
and a stratified split into training and held-out images."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from cnnviz.data.images import ImageError, load_image
from cnnviz.server.logs import refused

logger = logging.getLogger(__name__)

MIN_CLASSES, MAX_CLASSES = 2, 6
MIN_PER_CLASS, MAX_PER_CLASS = 5, 50
"""Class and image counts a training accepts (the issue's 2–6 classes of 5–50 images)."""
MAX_SIDE = 256
"""Images are kept at most this many pixels a side: every backbone's input is smaller."""
MAX_FILE_BYTES = 10 * 1024 * 1024
"""One image file's limit: 50 × 6 uploads stay within 3 GiB of upload traffic at worst, 300 × 256² RGB in memory."""


@dataclass
class ImageSet:
    """Images with integer labels into ``classes``, and a message for each file that was skipped."""

    classes: tuple[str, ...]
    images: list[Image.Image] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def counts(self) -> list[int]:
        return [self.labels.count(i) for i in range(len(self.classes))]

    def problem(self) -> str | None:
        """Why a training cannot start on this set, or None."""
        if not MIN_CLASSES <= len(self.classes) <= MAX_CLASSES:
            return f"Make {MIN_CLASSES} to {MAX_CLASSES} classes (there are {len(self.classes)})."
        if len(set(self.classes)) != len(self.classes) or not all(c.strip() for c in self.classes):
            return "Give every class a different, non-empty name."
        short = [f"{name} ({n})" for name, n in zip(self.classes, self.counts(), strict=True) if n < MIN_PER_CLASS]
        if short:
            return f"Every class needs at least {MIN_PER_CLASS} images; add more to: {', '.join(short)}."
        return None


def read_classes(files: Sequence[Sequence[tuple[str, bytes]]], classes: Sequence[str]) -> ImageSet:
    """Decode each class's files (name, bytes), at most :data:`MAX_PER_CLASS` per class; a file that is not a
    usable image, or one too many, is skipped with a message naming it and the rest are kept."""
    result = ImageSet(tuple(classes))
    for label, class_files in enumerate(files):
        kept = 0
        for name, data in class_files:
            if kept == MAX_PER_CLASS:
                result.skipped.append(f"{name}: {classes[label]} already has {MAX_PER_CLASS} images.")
                continue
            try:
                image = load_image(data, max_bytes=MAX_FILE_BYTES, max_side=MAX_SIDE)
            except ImageError as exc:
                refused(logger, "image", len(data), exc)
                result.skipped.append(f"{name}: {exc}")
                continue
            result.images.append(image)
            result.labels.append(label)
            result.names.append(name)
            kept += 1
    return result


def stratified_split(labels: Sequence[int], held_out: float = 0.25, seed: int = 0) -> tuple[list[int], list[int]]:
    """Indices for training and for the held-out check: in every class, a ``held_out`` share (at least one
    image, and at least one left for training) is held out, chosen at random with ``seed``."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    labels = np.asarray(labels)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label)).tolist()
        count = min(max(1, round(held_out * len(members))), len(members) - 1)
        test += members[:count]
        train += members[count:]
    return sorted(train), sorted(test)
