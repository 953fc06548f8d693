"""cnnviz.transfer: the split, safe reading, the linear probe's accuracy on classes the embedded model never
saw, fine-tuning, and the end-to-end pipeline on torchvision architectures whose weights the tests make."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from cnnviz.models import custom, registry
from cnnviz.server.jobs import WorkQueue
from cnnviz.training.loop import confusion
from cnnviz.transfer import data
from cnnviz.transfer.backbones import assemble, backbone_from, features
from cnnviz.transfer.examples import NOVEL_CLASSES, novel_examples
from cnnviz.transfer.finetune import Augmentation, fine_tune
from cnnviz.transfer.probe import pca_2d, train_probe
from cnnviz.transfer.run import class_names_file, train_transfer, transfer_job, weights_file
from tests.conftest import cache_random_weights, encode
from tests.reference import hook_count


def test_stratified_split_holds_out_a_share_of_every_class():
    labels = [0] * 5 + [1] * 20 + [2] * 8
    train, test = data.stratified_split(labels, 0.25, seed=3)
    assert sorted(train + test) == list(range(len(labels))) and not set(train) & set(test)
    held = np.bincount(np.asarray(labels)[test])
    assert held.tolist() == [1, 5, 2]  # round(0.25·n), at least one
    assert (train, test) == data.stratified_split(labels, 0.25, seed=3)
    assert len(data.stratified_split([0, 0, 1, 1], 0.9)[0]) == 2  # one image of each class left to train on


def test_reading_skips_bad_files_by_name_and_caps_each_class():
    png = encode(Image.new("RGB", (600, 300), (10, 200, 30)))
    files = [[("a.png", png), ("notes.txt", b"hello"), ("b.png", png)], [(f"{i}.png", png) for i in range(52)]]
    images = data.read_classes(files, ["one", "two"])
    assert images.counts() == [2, data.MAX_PER_CLASS]
    assert images.skipped[0].startswith("notes.txt: ") and len(images.skipped) == 3
    assert images.skipped[1].startswith("50.png: not added, this class already has 50 images")
    assert max(images.images[0].size) == data.MAX_SIDE  # kept small
    assert "at least 5 images" in images.problem() and "one (2)" in images.problem()
    assert data.ImageSet(("a",)).problem().startswith("Make 2 to 6 classes")
    assert data.ImageSet(("a", "a")).problem().startswith("Give every class a different")


@pytest.fixture(scope="module")
def embedded_backbone():
    return backbone_from(registry.load_model("tinyvgg"))


def test_a_linear_probe_on_the_embedded_backbone_learns_new_classes_from_20_images_each(embedded_backbone):
    """The issue's bar: at least 90 % held out, from 20 images per class of shapes the model was never taught
    (the time it takes is measured in benchmarks/transfer.py)."""
    train_images, train_labels = novel_examples(20, seed=0)
    test_images, test_labels = novel_examples(50, seed=1000)
    train_x, test_x = features(embedded_backbone, train_images), features(embedded_backbone, test_images)
    probe = train_probe(train_x, torch.tensor(train_labels), test_x, torch.tensor(test_labels), len(NOVEL_CLASSES))
    assert probe.history[-1]["held_out_accuracy"] >= 0.9
    model = assemble(embedded_backbone, probe.head)  # the standardisation is folded into the head exactly
    with torch.no_grad():
        logits = model(torch.cat([embedded_backbone.source.preprocess(i) for i in test_images]))
    accuracy = float((logits.argmax(1) == torch.tensor(test_labels)).float().mean())
    assert accuracy == pytest.approx(probe.history[-1]["held_out_accuracy"])


def test_the_backbone_is_a_copy_and_the_shared_model_is_left_alone(embedded_backbone):
    shared = registry.load_model("tinyvgg")
    before = {k: v.clone() for k, v in shared.module.state_dict().items()}
    backbone = backbone_from(shared)
    images, labels = novel_examples(6, seed=2)
    tuned = fine_tune(
        backbone,
        torch.nn.Linear(backbone.feature_dim, 3),
        images,
        torch.tensor(labels),
        images,
        torch.tensor(labels),
        steps=3,
        every=1,
    )
    assert all(before[k].equal(v) for k, v in shared.module.state_dict().items())
    assert hook_count(shared.module) == 0 and not any(p.requires_grad for p in shared.module.parameters())
    assert not any(p.requires_grad for p in backbone.network.parameters()) and len(tuned.history) == 3
    changed = {k for k, v in tuned.network.state_dict().items() if k.startswith("features.") and not v.equal(before[k])}
    assert changed == {
        "features.conv_3_1.weight",
        "features.conv_3_1.bias",
        "features.conv_3_2.weight",
        "features.conv_3_2.bias",
    }  # only the last stage of the features was trained


def test_fine_tuning_stops_at_its_time_budget_and_when_the_session_ends(embedded_backbone):
    images, labels = novel_examples(5, seed=4)
    y = torch.tensor(labels)
    head = torch.nn.Linear(embedded_backbone.feature_dim, 3)
    assert fine_tune(embedded_backbone, head, images, y, images, y, steps=50, max_seconds=0).stopped_early
    assert fine_tune(embedded_backbone, head, images, y, images, y, steps=50, keep_going=lambda: False).history == []
    plain = Augmentation(False, False, False).transform(64, torch.Generator())
    assert plain(images[0]) is images[0]


def test_confusion_and_pca_against_numpy():
    assert confusion(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 0]), 3).tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]
    points = np.random.default_rng(0).normal(size=(40, 6)) * [5, 3, 1, 1, 1, 1]
    projected = pca_2d(points)
    eigenvalues = np.sort(np.linalg.eigvalsh(np.cov(points.T)))[::-1]
    np.testing.assert_allclose(projected.var(axis=0, ddof=1), eigenvalues[:2], rtol=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("key", ["resnet18", "mobilenet_v3_large", "efficientnet_b0"])
def test_the_pipeline_runs_end_to_end_on_torchvision_architectures(torch_home, offline, key):
    cache_random_weights(key)  # seeded random weights where the download would go: no network
    backbone = backbone_from(registry.load_model(key))
    images, labels = novel_examples(6, seed=5, size=96)
    image_set = data.ImageSet(NOVEL_CLASSES, images, labels, [f"{i}.png" for i in range(len(images))])
    result = train_transfer(backbone, image_set, "fine-tune", fine_tune_steps=2)
    assert result.model.classes == NOVEL_CLASSES and result.model.card.architecture == key
    assert result.after is not None and result.confusion.sum() == len(result.held_out) == 6
    reference = torchvision.models.get_model(key, weights=None, num_classes=3).state_dict()
    state = result.model.module.state_dict()
    assert {k: v.shape for k, v in state.items()} == {k: v.shape for k, v in reference.items()}
    back = custom.load_uploaded_model(
        weights_file(result.model.module), key, 3, custom.parse_class_names(class_names_file(NOVEL_CLASSES))
    )
    x = result.model.preprocess(images[0])
    with torch.no_grad():
        torch.testing.assert_close(back.module(x), result.model.module(x))
    assert offline == []  # nothing was downloaded


def test_files_are_read_one_at_a_time_and_skipped_ones_never():
    """add_files reads a file only when it will decode it: one too many or one over the size limit is named in a
    message without its bytes being read; a session that ends stops the reading."""
    png = encode(Image.new("RGB", (600, 300), (10, 200, 30)))
    read: list[str] = []

    def file(name: str, size: int = len(png)):
        return name, size, lambda: read.append(name) or png

    held = data.ClassImages()
    files = [file(f"{i}.png") for i in range(data.MAX_PER_CLASS - 1)] + [file("big.png", data.MAX_FILE_BYTES + 1)]
    messages = data.add_files(held, [*files, file("last.png"), file("extra.png")])
    assert len(held.images) == data.MAX_PER_CLASS and held.names[-1] == "last.png"
    assert "big.png" not in read and "extra.png" not in read and len(read) == data.MAX_PER_CLASS
    assert messages == [
        "big.png: the file is 10.0 MiB; the limit is 10 MiB.",
        "extra.png: not added, this class already has 50 images.",
    ]
    assert all(max(image.size) == data.MAX_SIDE for image in held.images)
    calls = iter([True, True, False])
    later = data.ClassImages()
    stopped = data.add_files(later, [file(f"s{i}.png") for i in range(5)], keep_going=lambda: next(calls))
    assert len(later.images) == 2 and stopped == ["3 files were not read: the session ended."]
    together = data.image_set([held, later, data.ClassImages()], ["a", "b"])
    assert together.counts() == [data.MAX_PER_CLASS, 2] and together.names[-1] == "s1.png"


def test_a_file_over_the_limit_is_skipped_before_it_is_decoded():
    huge = encode(Image.new("RGB", (8, 8))) + b"\0" * data.MAX_FILE_BYTES  # a valid PNG padded past the limit
    images = data.read_classes([[("huge.png", huge)]], ["one"])
    assert images.images == [] and images.skipped[0].startswith("huge.png: ") and "MiB" in images.skipped[0]


def test_the_confusion_matrix_writes_its_counts_at_a_readable_size():
    from cnnviz.training.charts import confusion_figure

    counts = confusion(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), 3)
    figure = confusion_figure(counts, list(NOVEL_CLASSES))
    assert figure.data[0].textfont.size >= 16 and figure.layout.font.size >= 16
    assert np.array_equal(np.asarray(figure.data[0].text), counts)


def test_a_transfer_job_trains_in_the_background_and_stops_when_asked(embedded_backbone):
    """The page's training is a background job: it gives what train_transfer gives, and a stop during
    fine-tuning ends it with the result so far (stopped early), a stop while it waits ends it without one."""
    images, labels = novel_examples(8, seed=5)
    classes = data.ImageSet(NOVEL_CLASSES, images, labels, [f"{i}.png" for i in range(len(images))])
    job = transfer_job(embedded_backbone, classes)
    job.start()
    assert job.wait(120) == "done"
    direct = train_transfer(embedded_backbone, classes)
    assert job.result.accuracy == direct.accuracy and np.array_equal(job.result.predicted, direct.predicted)
    assert job.status.stage == "probe" and job.status.done == job.status.total == 150

    tuning = transfer_job(embedded_backbone, classes, mode="fine-tune", fine_tune_steps=2000)
    tuning.start()
    deadline = time.monotonic() + 120
    while not tuning.status.history or tuning.status.stage != "fine-tune":
        assert time.monotonic() < deadline and tuning.state in ("queued", "running"), tuning.status
        time.sleep(0.05)
    tuning.stop()
    assert tuning.wait(120) == "stopped"
    assert tuning.result.stopped_early and tuning.result.history[-1]["step"] < 150 + 2000

    queue = WorkQueue("trainings", workers=1, max_waiting=1, poll_s=0.01)
    busy = queue.join()
    waiting = transfer_job(embedded_backbone, classes, queue=queue)
    waiting.start()
    assert waiting.state == "queued" and waiting.status.ahead == 0
    waiting.stop()
    assert waiting.wait(10) == "stopped" and waiting.result is None and queue.counts() == (1, 0)
    queue.leave(busy)


@pytest.mark.parametrize(("correct", "total"), [(1, 2), (0, 2), (2, 2), (7, 9), (30, 40), (0, 1)])
def test_the_wilson_interval_is_scipys(correct, total):
    from scipy.stats import binomtest  # the reference (scipy comes with scikit-image, a dev requirement)

    from cnnviz.transfer.probe import wilson_interval

    reference = binomtest(correct, total).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(correct, total) == pytest.approx((reference.low, reference.high), abs=1e-6)


def test_few_held_out_images_come_with_a_warning():
    from cnnviz.transfer.probe import accuracy_note

    few = accuracy_note(1, 2)
    assert "1 of 2 correct; 95 % interval 9% to 91%." in few and "measure almost nothing" in few
    assert "almost nothing" not in accuracy_note(18, 20)


def test_stratified_folds_deal_every_class_over_the_folds():
    from cnnviz.transfer.probe import stratified_folds

    labels = np.array([0] * 7 + [1] * 5 + [2] * 3)
    fold = stratified_folds(labels, 5, seed=2)
    per_fold = np.array([np.bincount(labels[fold == f], minlength=3) for f in range(5)])
    assert per_fold.sum(0).tolist() == [7, 5, 3] and (per_fold.max(0) - per_fold.min(0) <= 1).all()
    assert sorted(np.bincount(fold).tolist()) == [3, 3, 3, 3, 3]  # the folds stay the same size
    assert (fold == stratified_folds(labels, 5, seed=2)).all() and (fold != stratified_folds(labels, 5, seed=3)).any()


def _clusters(per_class: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Features of three classes: three well-separated clusters in 16 dimensions."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(3, 16, generator=g) * 4
    labels = torch.arange(3).repeat_interleave(per_class)
    return centres[labels] + torch.randn(len(labels), 16, generator=g), labels


@pytest.mark.parametrize("method", ["leave-one-out", "5-fold"])
def test_cross_validation_checks_each_image_with_a_probe_that_never_saw_it(method):
    from cnnviz.transfer.probe import cross_validate

    table, labels = _clusters(6)
    crossed = cross_validate(table, labels, 3, method, steps=60)
    assert crossed.total == 18 and crossed.folds == (18 if method == "leave-one-out" else 5)
    assert crossed.accuracy == 1.0  # separable clusters: every image right
    # an image's own label never reaches the probe that judges it: relabelling the images of one fold (here: the
    # first image's fold) leaves their predictions exactly as they were
    from cnnviz.transfer.probe import stratified_folds

    fold = np.arange(18) if method == "leave-one-out" else stratified_folds(labels.numpy(), 5)
    inside = fold == fold[0]
    relabelled = labels.clone()
    relabelled[torch.from_numpy(inside)] = (labels[torch.from_numpy(inside)] + 1) % 3
    again = cross_validate(table, relabelled, 3, method, steps=60)
    assert (again.predicted[inside] == crossed.predicted[inside]).all()
    assert (again.predicted[inside] != again.truth[inside]).all()  # so they are now counted wrong
    assert again.correct <= 18 - inside.sum()  # (a mislabelled image also misleads the other folds' probes)
    # features that carry no information about the labels give about chance (a third), not a flattering figure
    noise = torch.randn(60, 16, generator=torch.Generator().manual_seed(1))
    chance = cross_validate(noise, torch.arange(3).repeat_interleave(20), 3, method, steps=60)
    assert chance.accuracy < 0.6
    with pytest.raises(ValueError, match="off"):
        cross_validate(table, labels, 3, "off")


def test_the_run_cross_validates_the_probe_on_every_image(embedded_backbone):
    from cnnviz.transfer.probe import default_cross_check

    pictures, labels = novel_examples(6, seed=5)
    image_set = data.ImageSet(NOVEL_CLASSES, pictures, labels, [f"{i}.png" for i in range(len(labels))])
    stages = []
    result = train_transfer(
        embedded_backbone, image_set, cross_check="leave-one-out", report=lambda s, d, n, _h: stages.append((s, d, n))
    )
    crossed = result.cross_validation
    assert crossed is not None and crossed.total == len(pictures) and crossed.method == "leave-one-out"
    assert (crossed.truth == np.asarray(labels)).all() and crossed.accuracy >= 0.6
    assert ("cross-validation", len(pictures), len(pictures)) in stages
    assert crossed.summary().startswith(f"Cross-validated (leave-one-out): {crossed.accuracy:.0%}, each of the ")
    assert train_transfer(embedded_backbone, image_set).cross_validation is None  # off unless asked
    assert default_cross_check(60) == "leave-one-out" and default_cross_check(61) == "5-fold"


@pytest.mark.slow
def test_efficientnet_lite0_is_a_backbone_for_real_photos_offline(offline):
    """Two classes of real photos (crops of the shipped cat and coffee photos): the probe on the packaged ImageNet
    model tells every held-out crop apart, fine-tuning runs, and the new model is fed as EfficientNet-Lite0 is."""
    from cnnviz.data.samples import load_sample
    from cnnviz.models.lite0 import LITE0

    rng = np.random.default_rng(0)
    images, labels = [], []
    for label, name in enumerate(("photo: cat", "photo: coffee")):
        photo = load_sample(name)
        for _ in range(8):
            side = int(rng.integers(160, 240))
            left, top = (int(rng.integers(0, d - side)) for d in photo.size)
            images.append(photo.crop((left, top, left + side, top + side)))
            labels.append(label)
    image_set = data.ImageSet(("cat", "coffee"), images, labels, [f"{i}.jpg" for i in range(len(images))])
    source = registry.load_model(LITE0)
    backbone = backbone_from(source)
    assert backbone.feature_dim == 1280
    probe = train_transfer(backbone, image_set, "probe")
    assert probe.accuracy == 1.0 and len(probe.held_out) == 4
    model = probe.model
    assert model.card.architecture == "EfficientNet-Lite0" and model.classes == ("cat", "coffee")
    assert model.transform is source.transform and model.framing == source.framing
    tuned = train_transfer(backbone, image_set, "fine-tune", fine_tune_steps=2)
    assert tuned.after is not None and tuned.confusion.sum() == 4
    assert offline == []


@pytest.mark.parametrize("mode", ["probe", "fine-tune"])
def test_an_uploaded_onnx_graph_is_a_backbone_and_its_model_comes_back_as_an_onnx_file(mode):
    from cnnviz.transfer.backbones import can_be_backbone
    from cnnviz.transfer.run import model_download
    from tests.onnx_files import StudentNet, exported

    torch.manual_seed(0)
    uploaded = custom.load_uploaded_model(exported(StudentNet(4), (1, 3, 48, 48)), "onnx", None, None, "s.onnx")
    before = {k: v.clone() for k, v in uploaded.module.state_dict().items()}
    assert can_be_backbone(uploaded) and not can_be_backbone(registry.load_model("tinyvgg"))
    backbone = backbone_from(uploaded)
    assert backbone.architecture == custom.ONNX_GRAPH and backbone.feature_dim == 32  # StudentNet's head reads 32
    conv = backbone.network.get_submodule(backbone.last_stage[0])
    assert isinstance(conv, torch.nn.Conv2d) and conv.out_channels == 32  # the last convolution
    images, labels = novel_examples(6, seed=5, size=64)
    image_set = data.ImageSet(NOVEL_CLASSES, images, labels, [f"{i}.png" for i in range(len(images))])
    result = train_transfer(backbone, image_set, mode, fine_tune_steps=2)
    assert result.model.classes == NOVEL_CLASSES and result.confusion.sum() == len(result.held_out)
    assert (result.after is not None) == (mode == "fine-tune")
    download = model_download(result)
    assert download.file_name.endswith(".onnx") and "ONNX file" in download.how_to_load
    back = custom.load_uploaded_model(download.data, "onnx", 3, NOVEL_CLASSES, download.file_name)
    assert back.mean == uploaded.mean and back.std == uploaded.std and back.input_size == (48, 48)
    x = result.model.preprocess(images[0])
    torch.testing.assert_close(back.preprocess(images[0]), x)
    with torch.no_grad():
        torch.testing.assert_close(back.module(x), result.model.module(x), rtol=1e-4, atol=1e-5)
    after = uploaded.module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the uploaded model is left as it was
