"""Results shared across reruns and sessions: one per model (and layer, image or case), kept by Streamlit's caches."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st
from torch import Tensor

from cnnviz.arithmetic import player
from cnnviz.arithmetic.board import Board, View, board
from cnnviz.arithmetic.geometry import Geometry
from cnnviz.arithmetic.steps import Scene, make_scene
from cnnviz.data.shapes import Batch, generate
from cnnviz.explain.cams import default_layer
from cnnviz.learn.training_aids import batch_normalised
from cnnviz.models.registry import LoadedModel
from cnnviz.network.architecture import Summary, summarize
from cnnviz.network.features import activations, conv_layers
from cnnviz.network.maximize import channel_means
from cnnviz.training.tensors import to_tensor

POOL_SEED, POOL_SIZE = 4242, 600
"""The synthetic images searched for a channel's favourites."""


@st.cache_resource(show_spinner=False, max_entries=8)
def cam_layers(model_key: str, _model: LoadedModel) -> tuple[str, list[str]]:
    """The model's default CAM layer, then every conv layer."""
    default = default_layer(_model.module, _model.input_size, len(_model.mean))
    return default, list(dict.fromkeys([default, *conv_layers(_model.module)]))


@st.cache_resource(show_spinner="Tracing the network…", max_entries=8)
def layer_table(model_key: str, _model: LoadedModel) -> Summary:
    """The model's layer table."""
    return summarize(_model.module, _model.input_size, len(_model.mean))


@st.cache_resource(show_spinner="Scoring synthetic images…", max_entries=16)
def pool_scores(model_key: str, layer: str, _model: LoadedModel) -> tuple[Batch, Tensor]:
    """The synthetic pool and each image's mean activation per channel of ``layer``."""
    pool = generate(POOL_SIZE, POOL_SEED)
    return pool, channel_means(_model.module, to_tensor(pool.images, _model.mean, _model.std), layer)


@st.cache_data(show_spinner=False, max_entries=32)
def global_ranges(
    model_key: str, digest: str, layers: tuple[str, ...], _model: LoadedModel, _x: Tensor
) -> tuple[float, float]:
    """The lowest and highest activation over ``layers`` for the image of ``digest``."""
    acts = activations(_model.module, _x, layers)
    return min(float(a.min()) for a in acts.values()), max(float(a.max()) for a in acts.values())


@st.cache_data(max_entries=64, show_spinner=False)
def arithmetic_scene(
    geo: Geometry, x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None, groups: int, flip: bool
) -> Scene:
    """A case's scene with PyTorch's output (:func:`cnnviz.arithmetic.steps.make_scene`), computed once for every
    session that shows the case (a room's students all open the teacher's at once); each run gets its own copy."""
    return make_scene(geo, x, weight, bias, groups, flip)


@st.cache_resource(max_entries=16, show_spinner=False)
def arithmetic_board(scene: Scene, view: View) -> Board:
    """A case's board (:func:`cnnviz.arithmetic.board.board`), made once for every step the server draws of it, its
    GIF and its mapping figure, and shared by the sessions that show the case (the renderers only read it)."""
    return board(scene, view)


@st.cache_data(max_entries=16, show_spinner=False)
def player_payload(scene: Scene, view: View) -> dict[str, Any]:
    """The browser player's data for a case (:func:`cnnviz.arithmetic.player.payload`)."""
    return player.payload(scene, view)


BATCH_SEED, BATCH_SIZE, BATCH_LAYER = 7, 32, "features.conv_1_1"
"""The batch of synthetic images Learn's batch-norm step normalises, and the layer it reads."""


@st.cache_resource(show_spinner=False, max_entries=4)
def batch_activations(model_key: str, _model: LoadedModel) -> tuple[Tensor, Tensor]:
    """:data:`BATCH_LAYER`'s outputs over the fixed batch, before and after batch normalisation (the same on every
    rerun: only the shown channel changes)."""
    batch = generate(BATCH_SIZE, seed=BATCH_SEED)
    acts = activations(_model.module, to_tensor(batch.images, _model.mean, _model.std), [BATCH_LAYER])[BATCH_LAYER]
    return acts, batch_normalised(acts)
