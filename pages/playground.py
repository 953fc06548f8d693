"""Train a CNN live: configure a TinyVGG variant, watch its curves, filters and feature maps as it learns."""

import copy
import uuid

import streamlit as st

from cnnviz.data.shapes import CLASSES
from cnnviz.models.registry import ModelSpec, crop_transform, synthetic_model
from cnnviz.network import figures
from cnnviz.network.features import activations, layer_names
from cnnviz.server.jobs import ServerBusy
from cnnviz.text import md
from cnnviz.training.charts import confusion_figure, training_curves
from cnnviz.training.playground import QUICK, STANDARD, NetConfig, RunConfig, Trainer
from cnnviz.ui.runs import fragment
from cnnviz.ui.selection import selection
from cnnviz.ui.uploads import add_session_model
from cnnviz.ui.work import session_alive

TRAINER_KEY = "_cnnviz_trainer"
LIVE_EVERY_S = 2.0  # live view refresh: each one takes CPU from the training on a small server
choice = selection()
state = st.session_state
trainer: Trainer | None = state.get(TRAINER_KEY)

st.title("Train a CNN")
st.caption(
    "Train the embedded architecture, or a variant of it, on the synthetic shapes and textures, and watch it "
    "learn: loss and accuracy, the first layer's filters and a layer's feature maps change as it trains. "
    "One training per session runs in the background; the page stays responsive."
)

busy = trainer is not None and trainer.state in ("queued", "running")


def use_trained(run: Trainer, accuracy: float) -> None:
    """Button callback (before the sidebar is drawn): offer a frozen copy of the trained net everywhere."""
    net, step = run.config.net, run.snapshot().step
    spec = ModelSpec(f"trained-{uuid.uuid4().hex}", f"my CNN · step {step}", "session")
    description = (
        f"Trained in the playground: {net.blocks} blocks from {net.channels} channels, {net.kernel_size}×"
        f"{net.kernel_size} kernels, {net.pooling} pooling, batch norm {net.batch_norm}, dropout {net.dropout}."
    )
    note = f"held-out accuracy on {run.config.held_out_size} synthetic images, trained in this session"
    model = synthetic_model(
        spec,
        copy.deepcopy(run.model),
        tuple(run.mean),
        tuple(run.std),
        accuracy,
        note,
        description,
        architecture="playground CNN",
    )
    add_session_model(model)


PRESETS = {"quick": ("Quick (≈1 min)", QUICK), "standard": ("Standard (≈4 min)", STANDARD)}


def config_values(run: RunConfig) -> dict:
    """The form's controls for ``run``."""
    net = run.net
    return {
        "t_blocks": net.blocks,
        "t_channels": net.channels,
        "t_kernel": net.kernel_size,
        "t_pool": net.pooling,
        "t_dropout": net.dropout,
        "t_bn": net.batch_norm,
        "t_rate": run.learning_rate,
        "t_batch": run.batch_size,
        "t_steps": run.steps,
    }


def apply_training_preset() -> None:
    state.update(config_values(PRESETS[state.train_preset][1]))


for name, value in config_values(STANDARD).items():
    state.setdefault(name, value)
preset = st.radio(
    "Preset",
    list(PRESETS),
    format_func=lambda k: PRESETS[k][0],
    key="train_preset",
    horizontal=True,
    index=1,
    on_change=apply_training_preset,
    disabled=busy,
    help=f"Quick: {QUICK.net.channels} channels, {QUICK.steps} steps on {QUICK.train_size} images, "
    "about 78% held out. Standard: the embedded TinyVGG's settings, about 94%.",
)
with st.form("config"):
    cols = st.columns(5)
    blocks = cols[0].slider("Conv blocks", 1, 4, key="t_blocks", disabled=busy)
    channels = cols[1].select_slider("Channels (first block)", [4, 8, 16, 32], key="t_channels", disabled=busy)
    kernel = cols[2].radio("Kernel size", [3, 5], horizontal=True, key="t_kernel", disabled=busy)
    pooling = cols[3].radio("Pooling", ["max", "avg"], horizontal=True, key="t_pool", disabled=busy)
    dropout = cols[4].slider("Dropout", 0.0, 0.5, step=0.1, key="t_dropout", disabled=busy)
    cols = st.columns(5)
    batch_norm = cols[0].checkbox("Batch norm", key="t_bn", disabled=busy)
    rate = cols[1].select_slider("Learning rate", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2], key="t_rate", disabled=busy)
    batch = cols[2].select_slider("Batch size", [16, 32, 64, 128], key="t_batch", disabled=busy)
    steps = cols[3].number_input("Steps", 10, 5000, step=10, key="t_steps", disabled=busy)
    seed = cols[4].number_input("Seed", 0, 10_000, 0, disabled=busy)
    if st.form_submit_button("Start a new training", icon=":material/play_arrow:", disabled=busy):
        net = NetConfig(blocks, channels, kernel, "avg" if pooling == "avg" else "max", dropout, batch_norm)
        images = PRESETS[preset][1].train_size
        run = RunConfig(net, rate, batch, int(steps), int(seed), train_size=images)
        candidate = Trainer(run, alive=session_alive())
        try:
            candidate.start()
            trainer = state[TRAINER_KEY] = candidate
            busy = True
        except ServerBusy as exc:
            st.warning(str(exc), icon=":material/hourglass_disabled:")

if trainer is None:
    st.info(
        "Choose a preset or your own settings and start a training: Quick fits a lesson, Standard reaches "
        "about 94% held-out accuracy."
    )
    st.stop()

controls = st.columns(3)
if controls[0].button("Stop", key="stop", icon=":material/pause:", disabled=not busy):
    trainer.stop()
    trainer.wait(timeout=30)
    st.rerun()
if controls[1].button("Resume", key="resume", icon=":material/play_arrow:", disabled=trainer.state != "stopped"):
    try:
        trainer.start()
        st.rerun()
    except ServerBusy as exc:
        st.warning(str(exc), icon=":material/hourglass_disabled:")


@fragment(run_every=LIVE_EVERY_S if busy else None)
def live(trainer: Trainer) -> None:
    snap = trainer.snapshot()
    if snap.state not in ("queued", "running") and busy:
        st.rerun(scope="app")  # finished or stopped: show the results and stop the timer
    label = {
        "queued": f"waiting for the server, {snap.ahead} ahead of you…",
        "running": "training…",
        "stopped": "stopped (its session had gone)" if snap.abandoned else "stopped",
        "done": "done",
        "failed": f"failed: {snap.error}",
        "ready": "ready",
    }[snap.state]
    if snap.state == "running" and snap.step == 0 and snap.images_made < snap.images_total:
        st.progress(
            snap.images_made / snap.images_total,
            text=f"making the images first: {snap.images_made} of {snap.images_total} "
            f"({snap.total_steps} training steps follow)",
        )
    else:
        st.progress(snap.step / snap.total_steps, text=f"step {snap.step} of {snap.total_steps} · {label}")
    left, right = st.columns(2)
    history = snap.history
    left.plotly_chart(training_curves(history), key="curves")
    right.image(
        figures.rgb_filters_image(snap.first_filters),
        caption=f"First-layer filters at step {snap.step}",
        width="stretch",
    )
    if choice.image is not None and trainer.mean:
        names = [n for n in layer_names(trainer.model) if n.startswith("features.")]
        layer = st.selectbox("Feature maps of", names, index=min(2, len(names) - 1), key="play_layer")
        x = crop_transform(tuple(trainer.mean), tuple(trainer.std))(choice.image.convert("RGB"))[None]
        maps = activations(trainer.model, x, [layer])[layer][0].numpy()
        flat = maps.reshape(len(maps), -1)
        st.image(
            figures.feature_grid_image(maps, list(range(len(maps))), flat.min(1), flat.max(1)),
            caption=f"{layer} for {md(choice.image_name)} at step {snap.step}",
        )


live(trainer)

if trainer.state in ("stopped", "done"):
    evaluation = trainer.evaluate()
    st.subheader(f"Held-out accuracy {evaluation.accuracy:.1%} on {len(evaluation.truth)} images")
    # the full width: ten classes' counts and names at 16 px need it on a projector's 1024 px
    st.plotly_chart(confusion_figure(evaluation.confusion, list(CLASSES)), key="confusion")
    st.markdown(f"**Misclassified: {len(evaluation.misclassified)}** (the first 12; true class, then predicted)")
    grid = st.columns(6)  # wide enough for the longest class names on one line each
    for n, (index, truth, predicted) in enumerate(evaluation.misclassified[:12]):
        grid[n % 6].image(
            trainer.held_out_images().images[index],
            caption=f"{CLASSES[truth]}\n→ {CLASSES[predicted]}",
            width="stretch",
        )
    st.button(
        "Use this model on every page",
        key="use_model",
        icon=":material/check:",
        on_click=use_trained,
        args=(trainer, evaluation.accuracy),
    )
