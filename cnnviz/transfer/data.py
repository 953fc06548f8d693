"""The user's own classes: a few images each, decoded safely (bad ones skipped with a message naming them),
and a stratified split into training and held-out images."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from cnnviz.data.images import ImageError, load_image
from cnnviz.progress import Progress
from cnnviz.server.jobs import always
from cnnviz.server.logs import refused

logger = logging.getLogger(__name__)

MIN_CLASSES, MAX_CLASSES = 2, 6
MIN_PER_CLASS, MAX_PER_CLASS = 5, 50
"""Class and image counts a training accepts (the issue's 2–6 classes of 5–50 images)."""
MAX_IMAGES = MAX_CLASSES * MAX_PER_CLASS
"""Images all classes together may hold: 300, each at most :data:`MAX_SIDE` a side (about 59 MiB of pixels)."""
MAX_SIDE = 256
"""Images are kept at most this many pixels a side: every backbone's input is smaller."""
MAX_FILE_BYTES = 10 * 1024 * 1024
"""One image file's limit. A class's files are read as they arrive, one at a time, and the uploader is cleared
after, so the server holds at most one class's uploads (50 × 10 MiB) at once, and keeps only the 256 px images."""


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


@dataclass
class ClassImages:
    """The images one class holds, decoded and at most :data:`MAX_SIDE` a side, with their file names; the bytes
    they came from are not kept."""

    images: list[Image.Image] = field(default_factory=list)
    names: list[str] = field(default_factory=list)


def room(held: ClassImages) -> int:
    """How many more images a class may take (:data:`MAX_PER_CLASS` each, so :data:`MAX_IMAGES` in all)."""
    return max(0, MAX_PER_CLASS - len(held.images))


def _reader(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def add_files(
    target: ClassImages,
    files: Iterable[tuple[str, int, Callable[[], bytes]]],
    progress: Progress | None = None,
    keep_going: Callable[[], bool] = always,
) -> list[str]:
    """Decode ``files`` (name, size in bytes, a way to read the bytes) into the class ``target`` while it has
    :func:`room`, one at a time; a file that is not a usable image, too large, or one too many is skipped with a
    message naming it and never read (too large or too many) or kept. Stops early, saying so, once
    ``keep_going()`` turns false."""
    files = list(files)
    messages = []
    for done, (name, size, read) in enumerate(files):
        if not keep_going():
            messages.append(f"{len(files) - done} files were not read: the session ended.")
            break
        if room(target) == 0:
            messages.append(f"{name}: not added, this class already has {MAX_PER_CLASS} images.")
        elif size > MAX_FILE_BYTES:
            refused(logger, "image", size, "over the file limit")
            limit = MAX_FILE_BYTES / 2**20
            messages.append(f"{name}: the file is {size / 2**20:.1f} MiB; the limit is {limit:.0f} MiB.")
        else:
            data = read()
            try:
                image = load_image(data, max_bytes=MAX_FILE_BYTES, max_side=MAX_SIDE)
            except ImageError as exc:
                refused(logger, "image", len(data), exc)
                messages.append(f"{name}: {exc}")
            else:
                target.images.append(image)
                target.names.append(name)
            del data
        if progress:
            progress(done + 1, len(files))
    return messages


def image_set(classes: Sequence[ClassImages], names: Sequence[str]) -> ImageSet:
    """The training set of the classes ``names`` name (the first ``len(names)`` of ``classes``)."""
    result = ImageSet(tuple(names))
    for label, held in enumerate(classes[: len(names)]):
        result.images += held.images
        result.names += held.names
        result.labels += [label] * len(held.images)
    return result


def read_classes(files: Sequence[Sequence[tuple[str, bytes]]], classes: Sequence[str]) -> ImageSet:
    """Decode each class's files (name, bytes) with :func:`add_files` into an :class:`ImageSet` whose ``skipped``
    lists a message for every file left out."""
    held = [ClassImages() for _ in classes]
    skipped = []
    for label, class_files in enumerate(files):
        skipped += add_files(held[label], [(name, len(data), _reader(data)) for name, data in class_files])
    result = image_set(held, classes)
    result.skipped = skipped
    return result


def stratified_split(labels: Sequence[int], held_out: float = 0.25, seed: int = 0) -> tuple[list[int], list[int]]:
    """Indices for training and for the held-out check: in every class, a ``held_out`` share (at least one
    image, and at least one left for training) is held out, chosen at random with ``seed``."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    by_label = np.asarray(labels)
    for label in np.unique(by_label):
        members = rng.permutation(np.flatnonzero(by_label == label)).tolist()
        count = min(max(1, round(held_out * len(members))), len(members) - 1)
        test += members[:count]
        train += members[count:]
    return sorted(train), sorted(test)
