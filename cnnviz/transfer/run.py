"""One transfer-learning run from start to finish: split the user's images, compute the backbone's features
once (cached by image content), train the linear probe, optionally fine-tune, and evaluate on the held-out
images; the result becomes a model the whole app can use."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import safetensors.torch
import torch
from torch import nn

from cnnviz.models import registry
from cnnviz.models.custom import ONNX, ONNX_GRAPH, architecture_label
from cnnviz.models.onnx_files import onnx_file
from cnnviz.progress import Progress, Stopped
from cnnviz.server.jobs import COMPUTATIONS, Alive, Job, WorkQueue, always
from cnnviz.training.loop import evaluation
from cnnviz.transfer.backbones import Backbone, assemble, features, headless, transfer_model
from cnnviz.transfer.data import ImageSet, stratified_split
from cnnviz.transfer.finetune import EVERY_AUGMENTATION, Augmentation, fine_tune
from cnnviz.transfer.probe import CrossCheck, CrossValidation, cross_validate, pca_2d, train_probe

logger = logging.getLogger(__name__)
Mode = Literal["probe", "fine-tune"]
Report = Callable[[str, int, int, list[dict[str, float]]], None]
"""Progress: what is being done, how far (done of total), and the learning curves so far."""


@dataclass
class TransferResult:
    """What a run produced: the split, the curves, the held-out evaluation, the backbone's features of every
    image in 2-D (PCA) before and, after fine-tuning, after it, and the model."""

    architecture: str
    mode: Mode
    images: ImageSet  # what it was trained and checked on
    train: list[int]
    held_out: list[int]
    history: list[dict[str, float]]
    truth: np.ndarray  # the held-out images' labels, in their order
    predicted: np.ndarray  # and what the model says
    confusion: np.ndarray
    before: np.ndarray
    after: np.ndarray | None
    model: registry.LoadedModel
    accuracy: float
    seconds: float
    stopped_early: bool
    cross_validation: CrossValidation | None = None  # the linear probe checked on every image (frozen features)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.images.classes

    @property
    def misclassified(self) -> list[tuple[int, int]]:
        """(image index, predicted label) of each held-out image the model gets wrong."""
        pairs = zip(self.held_out, self.predicted, self.truth, strict=True)
        return [(i, int(p)) for i, p, t in pairs if p != t]

    def split_counts(self) -> tuple[list[int], list[int]]:
        """Training and held-out images per class."""
        labels = np.asarray(self.images.labels)
        count = len(self.classes)
        return (
            np.bincount(labels[self.train], minlength=count).tolist(),
            np.bincount(labels[self.held_out], minlength=count).tolist(),
        )


def weights_file(model: nn.Module) -> bytes:
    """The model's state dict as a safetensors file (what "bring your own model" reads back)."""
    return safetensors.torch.save({name: tensor.contiguous() for name, tensor in model.state_dict().items()})


def class_names_file(classes: tuple[str, ...]) -> str:
    """The class names one per line (what "bring your own model" takes as class names)."""
    return "\n".join(classes) + "\n"


@dataclass(frozen=True)
class ModelDownload:
    """A trained model as the file "bring your own model" takes back, and how to load it there."""

    label: str  # the download button's
    data: bytes
    file_name: str
    how_to_load: str  # a sentence (plain text)


def model_download(result: TransferResult) -> ModelDownload:
    """The weights as safetensors for a registry architecture, or the whole network as an ONNX file (its mean and
    std in the metadata) for one trained on an uploaded ONNX graph."""
    model, classes = result.model, result.classes
    if result.architecture == ONNX_GRAPH:
        with model.lock:
            data = onnx_file(model.module, len(model.mean), model.input_size, model.mean, model.std)
        stem = hashlib.sha1(data).hexdigest()[:8]
        how = f"architecture {architecture_label(ONNX)}; the graph says its {len(classes)} classes"
        return ModelDownload("Download model (ONNX)", data, f"transfer-{stem}.onnx", how)
    data = weights_file(model.module)
    stem = hashlib.sha1(data).hexdigest()[:8]
    how = f"architecture {architecture_label(result.architecture)}, {len(classes)} classes"
    return ModelDownload("Download weights (safetensors)", data, f"transfer-{stem}.safetensors", how)


def image_key(backbone: Backbone, images: ImageSet) -> str:
    """A key for the features of ``images`` under ``backbone``: the model it was made from (two TinyVGGs or two
    uploaded graphs differ) and every image's content."""
    digest = hashlib.sha1(backbone.source.spec.key.encode())
    for image in images.images:
        digest.update(f"{image.size}{image.mode}".encode())
        digest.update(image.tobytes())
    return digest.hexdigest()


def train_transfer(
    backbone: Backbone,
    images: ImageSet,
    mode: Mode = "probe",
    augmentation: Augmentation = EVERY_AUGMENTATION,
    held_out: float = 0.25,
    seed: int = 0,
    fine_tune_steps: int = 60,
    cross_check: CrossCheck = "off",
    cache: dict | None = None,
    report: Report | None = None,
    keep_going: Callable[[], bool] = lambda: True,
) -> TransferResult:
    """Train a head for ``images``'s classes on ``backbone`` (see the module's docstring); with ``cross_check``
    (leave-one-out or 5-fold) the linear probe is also cross-validated on every image's cached features."""
    if problem := images.problem():
        raise ValueError(problem)
    start = time.monotonic()

    def stage(name: str) -> Progress:  # the features and the probe: of no use half done, so a stop ends the run
        def progress(done: int, total: int) -> None:
            if not keep_going():
                raise Stopped
            if report:
                report(name, done, total, [])

        return progress

    labels = torch.tensor(images.labels)
    train, test = stratified_split(images.labels, held_out, seed)
    key = image_key(backbone, images)
    if cache is not None and key in cache:
        table = cache[key]
    else:
        table = features(backbone, images.images, progress=stage("features"))
        if cache is not None:
            cache[key] = table
    probe = train_probe(
        table[train],
        labels[train],
        table[test],
        labels[test],
        len(images.classes),
        seed=seed,
        progress=stage("probe"),
    )
    crossed = None
    if cross_check != "off":  # on the cached features: one small probe per fold
        crossed = cross_validate(
            table, labels, len(images.classes), cross_check, seed=seed, progress=stage("cross-validation")
        )
    history, stopped, after, final = probe.history, False, None, table
    network = assemble(backbone, probe.head)
    if mode == "fine-tune":
        tuned = fine_tune(
            backbone,
            probe.head,
            [images.images[i] for i in train],
            labels[train],
            [images.images[i] for i in test],
            labels[test],
            steps=fine_tune_steps,
            augmentation=augmentation,
            seed=seed,
            keep_going=keep_going,
            progress=report and (lambda d, n, h: report("fine-tune", d, n, h)),
        )
        network, stopped = tuned.network, tuned.stopped_early
        offset = probe.history[-1]["step"]
        history = probe.history + [{**h, "step": h["step"] + offset} for h in tuned.history]
        body = headless(copy.deepcopy(network), backbone.head_name)
        final = features(dataclasses.replace(backbone, network=body), images.images)
        after = pca_2d(final)
    with torch.inference_mode():  # the head on the features already computed: what the network says of the images
        predicted = network.get_submodule(backbone.head_name)(final[test]).argmax(1).numpy()
    truth = labels[test].numpy()
    checked = evaluation(truth, predicted, len(images.classes))
    accuracy = checked.accuracy
    how = "a linear probe on frozen features" if mode == "probe" else "the last stage fine-tuned"
    trained_on = f"{len(train)} of your images ({', '.join(images.classes)}), {how}"
    model = transfer_model(backbone, network, images.classes, accuracy, len(test), trained_on)
    return TransferResult(
        backbone.architecture,
        mode,
        images,
        train,
        test,
        history,
        truth,
        predicted,
        checked.confusion,
        pca_2d(table),
        after,
        model,
        accuracy,
        time.monotonic() - start,
        stopped,
        crossed,
    )


def transfer_job(
    backbone: Backbone, images: ImageSet, *, alive: Alive = always, queue: WorkQueue = COMPUTATIONS, **settings: Any
) -> Job[TransferResult]:
    """:func:`train_transfer` of ``backbone`` on ``images`` with ``settings`` (its ``mode``, ``augmentation``,
    ``held_out``, ``seed``, ``fine_tune_steps``, ``cross_check``, ``cache``) as a background
    :class:`~cnnviz.server.jobs.Job` (not started): it waits its turn in ``queue``, reports its stages and learning
    curves, stops when asked or when its session (``alive``) has gone, and its result is the
    :class:`TransferResult` (a fine-tuning stopped midway still gives one)."""
    if problem := images.problem():
        raise ValueError(problem)
    if taken := {"report", "keep_going"} & set(settings):
        raise TypeError(f"the job reports and stops the run itself: {sorted(taken)} cannot be given")

    def work(job: Job[TransferResult]) -> TransferResult:
        def report(stage: str, done: int, total: int, history: list[dict[str, float]]) -> None:
            job.report(stage, done, total, history or None)

        return train_transfer(backbone, images, report=report, keep_going=job.keep_going, **settings)

    name = f"{settings.get('mode', 'probe')} on {backbone.architecture}"
    return Job(work, alive, queue=queue, name=name, log=logger)
