"""Teach it your own classes: a new head on a pretrained backbone, trained on a few of your images."""

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from cnnviz.charts import readable
from cnnviz.models import registry
from cnnviz.server.jobs import Job, ServerBusy
from cnnviz.text import html, md
from cnnviz.training.charts import confusion_figure, training_curves
from cnnviz.transfer import data
from cnnviz.transfer.backbones import BACKBONES, backbone_from, can_be_backbone
from cnnviz.transfer.examples import NOVEL_CLASSES, novel_examples
from cnnviz.transfer.finetune import MAX_SECONDS, Augmentation
from cnnviz.transfer.probe import CROSS_CHECKS, FEW_HELD_OUT, CrossCheck, accuracy_note, default_cross_check
from cnnviz.transfer.run import Mode, TransferResult, class_names_file, model_download, transfer_job
from cnnviz.ui.downloads import shared_model
from cnnviz.ui.runs import fragment
from cnnviz.ui.selection import selection
from cnnviz.ui.sessions import let_go
from cnnviz.ui.uploads import add_session_model, session_models, widget_cap_mb
from cnnviz.ui.work import queued, session_alive

choice = selection()
state = st.session_state
RESULT_KEY, FEATURES_KEY, HELD_KEY = "_transfer_result", "_transfer_features", "_transfer_images"
ROUND_KEY, SKIPPED_KEY, SEEN_KEY = "_transfer_round", "_transfer_skipped", "_transfer_seen"
JOB_KEY = "_transfer_job"
LIVE_EVERY_S = 1.0  # the running training's progress is redrawn this often
IMAGE_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]
held: list[data.ClassImages] = state.setdefault(HELD_KEY, [data.ClassImages() for _ in range(data.MAX_CLASSES)])
rounds: list[int] = state.setdefault(ROUND_KEY, [0] * data.MAX_CLASSES)  # an uploader's key: new once it is read


def use_examples() -> None:
    """Fill the classes with generated examples the embedded model never saw (no camera needed)."""
    seed = int(state.get("transfer_example_seed", 0))
    images, labels = novel_examples(20, seed=seed)
    state.transfer_count = len(NOVEL_CLASSES)
    for label, name in enumerate(NOVEL_CLASSES):
        state[f"transfer_name_{label}"] = name
        picked = [image for image, y in zip(images, labels, strict=True) if y == label]
        held[label] = data.ClassImages(picked, [f"{name} {i + 1}.png" for i in range(len(picked))])
    state.transfer_example_seed = seed + 1


def forget(label: int) -> None:
    held[label] = data.ClassImages()


def use_model() -> None:
    add_session_model(state[RESULT_KEY].model)


def scatter(points: np.ndarray, labels: list[str], title: str):
    figure = px.scatter(
        x=points[:, 0],
        y=points[:, 1],
        color=labels,
        title=title,
        labels={"x": "component 1", "y": "component 2", "color": "class"},
    )
    figure.update_traces(marker={"size": 10})
    figure.update_layout(height=380, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return readable(figure)


st.title("Teach it your own classes")
st.caption(
    "Transfer learning: a network trained on other pictures already computes useful features, so a new last "
    f"layer for your own {data.MIN_CLASSES}–{data.MAX_CLASSES} classes learns from {data.MIN_PER_CLASS}–"
    f"{data.MAX_PER_CLASS} images each in seconds. Make the classes from uploads or camera shots, train, then "
    "use the model on every page."
)

top = st.columns([2, 3], vertical_alignment="bottom")
count = int(top[0].number_input("Classes", data.MIN_CLASSES, data.MAX_CLASSES, 2, key="transfer_count"))
top[1].button(
    "Try example classes",
    on_click=use_examples,
    icon=":material/auto_awesome:",
    key="transfer_examples",
    help="Fills three classes with 20 generated images each (hexagons, square frames, zigzags), "
    "shapes the embedded model never saw; again for new ones.",
)
seen: set[str] = state.setdefault(SEEN_KEY, set())  # camera shots already added
arrived: list[tuple[int, list, bool]] = []  # (class, files, from the camera) sent since the last run
names = []
columns = st.columns(min(count, 3))
for label in range(count):
    with columns[label % len(columns)].container(border=True):
        name = st.text_input("Class name", f"class {label + 1}", key=f"transfer_name_{label}", max_chars=30)
        uploads = st.file_uploader(
            "Images",
            type=IMAGE_TYPES,
            accept_multiple_files=True,
            key=f"transfer_upload_{label}_{rounds[label]}",
            max_upload_size=widget_cap_mb(data.MAX_FILE_BYTES),
            help=f"Up to {data.MAX_PER_CLASS} images a class; they are read at once "
            "(kept at 256 px) and the files let go.",
        )
        if uploads:
            arrived.append((label, uploads, False))
        if st.toggle("Camera", key=f"transfer_camera_on_{label}"):
            photo = st.camera_input("Take a photo", key=f"transfer_camera_{label}", label_visibility="collapsed")
            if photo is not None and photo.file_id not in seen:
                seen.add(photo.file_id)
                arrived.append((label, [photo], True))
        room = data.room(held[label])
        st.caption(
            f"{len(held[label].images)} image{'s' * (len(held[label].images) != 1)}"
            + (f", room for {room} more" if room else ", full")
        )
        if held[label].images:
            st.button("Clear this class", key=f"transfer_forget_{label}", on_click=forget, args=(label,))
    names.append(name.strip())

if arrived:  # read in the server's queue, one file at a time, then the uploaders are emptied (their files let go)
    skipped = state[SKIPPED_KEY] = []
    with queued("Reading the images"):
        bar = st.progress(0.0, text="Reading the images…")
        for label, files, camera in arrived:

            def reading(done: int, total: int, label: int = label) -> None:
                bar.progress(done / total, text=f"Reading the images of {md(names[label])}: {done} of {total}")

            shot = f"camera {len(held[label].images) + 1}.jpg"
            named = [(shot if camera else f.name, f.size, f.getvalue) for f in files]
            skipped += data.add_files(held[label], named, reading, session_alive())
            if not camera:
                let_go(files)  # read: Streamlit's copy of the files goes now, not when the session ends
                rounds[label] += 1
    st.rerun()
for message in state.get(SKIPPED_KEY, []):
    st.warning(md(f"Skipped {message}"), icon=":material/image_not_supported:")
images = data.image_set(held, names)

st.subheader("Train")
offline = [key for key in BACKBONES[1:] if not registry.weights_cached(key)]
uploaded = {key: model for key, model in session_models().items() if can_be_backbone(model)}
offered = [key for key in BACKBONES if key not in offline] + list(uploaded)
settings = st.columns(3)
backbone_key = settings[0].selectbox(
    "Backbone",
    offered,
    key="transfer_backbone",
    format_func=lambda k: uploaded[k].spec.label if k in uploaded else registry.get_spec(k).label,
    help="Torchvision's models are offered once their ImageNet weights are on this "
    "server (choose them once in the sidebar's model list); ONNX graphs uploaded in this session too.",
)
mode: Mode = settings[1].radio(
    "Mode",
    ["probe", "fine-tune"],
    key="transfer_mode",
    format_func={"probe": "Linear probe (frozen features)", "fine-tune": "Fine-tune the last stage"}.get,
)
held_out = settings[2].slider(
    "Held out for checking",
    0.2,
    0.4,
    0.25,
    0.05,
    key="transfer_held_out",
    help="A share of every class, never used in training.",
)
checks: list[CrossCheck] = list(CROSS_CHECKS)
cross_check: CrossCheck = st.selectbox(
    "Also check the linear probe on every image",
    checks,
    index=checks.index(default_cross_check(len(images.images))),
    key="transfer_cross_check",
    format_func=CROSS_CHECKS.__getitem__,
    help="A few held-out images say little. Cross-validation trains one probe per fold on the features already "
    "computed (a few seconds) and checks every image with a probe that never saw it.",
)
augmentation = Augmentation()
if mode == "fine-tune":
    flags = st.columns(4)
    augmentation = Augmentation(
        flags[0].toggle("Flip", True, key="transfer_flip"),
        flags[1].toggle("Crop", True, key="transfer_crop"),
        flags[2].toggle("Colour jitter", True, key="transfer_colour"),
    )
    steps = int(flags[3].select_slider("Steps", [20, 40, 60, 100], 60, key="transfer_steps"))
    st.caption(f"Fine-tuning stops after {MAX_SECONDS:.0f} s whatever the step count.")
else:
    steps = 0
if offline:
    st.caption(f"Not offered until their weights are here: {', '.join(offline)}.")

problem = images.problem()
if problem:
    st.info(md(problem), icon=":material/info:")
job: Job[TransferResult] | None = state.get(JOB_KEY)
training = job is not None and job.state in ("queued", "running")
if job is not None and not training:  # it has finished: its result is shown below, its job let go
    del state[JOB_KEY]
    if job.result is not None:
        state[RESULT_KEY] = job.result
    outcome = job.status
    if outcome.state == "failed":
        st.error(f"The training failed: {outcome.error}.", icon=":material/error:")
    elif job.result is None:
        st.info("The training was stopped before it had a result.", icon=":material/info:")
if st.button(
    "Train",
    key="transfer_train",
    type="primary",
    disabled=problem is not None or training,
    icon=":material/model_training:",
):
    backbone = backbone_from(uploaded[backbone_key] if backbone_key in uploaded else shared_model(backbone_key))
    cache = state.setdefault(FEATURES_KEY, {})
    if len(cache) > 4:
        cache.clear()
    job = transfer_job(
        backbone,
        images,
        mode=mode,
        augmentation=augmentation,
        held_out=held_out,
        fine_tune_steps=steps,
        cross_check=cross_check,
        cache=cache,
        alive=session_alive(),
    )
    try:
        job.start()
        state[JOB_KEY], training = job, True
    except ServerBusy as exc:
        st.warning(str(exc), icon=":material/hourglass_disabled:")


@fragment(run_every=LIVE_EVERY_S if training else None)
def live(job: Job[TransferResult]) -> None:
    """The training's progress and learning curves while it runs in the background; the page reruns when it ends."""
    status = job.status
    if status.state not in ("queued", "running"):
        st.rerun(scope="app")
    if status.state == "queued":
        st.progress(0.0, text=f"Training: waiting for the server, {status.ahead} ahead of you…")
    else:
        share = status.done / status.total if status.total else 0.0
        st.progress(share, text=f"Training, {status.stage or 'starting'}: {status.done} of {status.total}")
    if status.history:
        st.plotly_chart(training_curves(list(status.history)), key="transfer_live")
    st.button("Stop", key="transfer_stop", icon=":material/stop:", on_click=job.stop)


if training and job is not None:
    live(job)

result: TransferResult | None = state.get(RESULT_KEY)
if result is not None:
    st.subheader("Result")
    stop_note = " (stopped at the time limit)" if result.stopped_early else ""
    st.markdown(
        f"**Held-out accuracy {result.accuracy:.0%}** on {len(result.held_out)} images, trained on "
        f"{len(result.train)} in {result.seconds:.1f} s{stop_note}."
    )
    correct = int((result.predicted == result.truth).sum())
    (st.warning if len(result.held_out) < FEW_HELD_OUT else st.caption)(accuracy_note(correct, len(result.held_out)))
    if (crossed := result.cross_validation) is not None:
        probe_only = " (of the linear probe; fine-tuning is not cross-validated)" if result.mode == "fine-tune" else ""
        st.markdown(f"**{crossed.summary()}**{probe_only}")
        (st.warning if crossed.total < FEW_HELD_OUT else st.caption)(accuracy_note(crossed.correct, crossed.total))
    st.caption(md(result.model.card.description))
    trained, checked = result.split_counts()
    split = pd.DataFrame({"class": result.classes, "training": trained, "held out": checked})
    left, right = st.columns(2)
    left.plotly_chart(training_curves(result.history), key="transfer_curves")
    right.plotly_chart(confusion_figure(result.confusion, list(result.classes)), key="transfer_confusion")
    left.dataframe(split, hide_index=True)
    trained_on = result.images
    tags = [html(result.classes[label]) for label in trained_on.labels]
    plots = st.columns(2)
    plots[0].plotly_chart(scatter(result.before, tags, "Backbone features (PCA)"), key="transfer_before")
    if result.after is not None:
        plots[1].plotly_chart(scatter(result.after, tags, "After fine-tuning (PCA)"), key="transfer_after")
    wrong = result.misclassified
    st.markdown(f"**Misclassified held-out images: {len(wrong)}**")
    grid = st.columns(6)
    for n, (index, predicted) in enumerate(wrong[:12]):
        grid[n % 6].image(
            trained_on.images[index],
            width="stretch",
            caption=md(
                f"{trained_on.names[index]}: {result.classes[trained_on.labels[index]]} → {result.classes[predicted]}"
            ),
        )
    actions = st.columns(3)
    actions[0].button(
        "Use this model on every page", on_click=use_model, key="transfer_use", type="primary", icon=":material/check:"
    )
    download = model_download(result)
    actions[1].download_button(
        download.label, download.data, download.file_name, key="transfer_weights", icon=":material/download:"
    )
    actions[2].download_button(
        "Download class names",
        class_names_file(result.classes),
        download.file_name.rsplit(".", 1)[0] + ".txt",
        key="transfer_names",
        icon=":material/download:",
    )
    st.caption(
        f"To load it again: sidebar → Bring your own model, {download.how_to_load}, the class names file's lines "
        "as class names."
    )
