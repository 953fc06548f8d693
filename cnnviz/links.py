"""What a page's URL may say: every query parameter a page binds to a control, with its type and range, and a
check that keeps the valid ones and explains the rest.

A link is typed or pasted by anyone, so it is checked before any control reads it: too many parameters, too
long a value, a number that is not a finite number in range, or a choice that is not offered falls back to the
control's default, with a notice saying which setting was ignored and why. Choices that depend on the model
(layer names) are checked for their form here and against the model's layers by the control itself.
"""

from __future__ import annotations

from collections.abc import Mapping

from cnnviz.arithmetic import ARITHMETIC_TABS
from cnnviz.arithmetic.board import VIEW_NAMES
from cnnviz.arithmetic.geometry import OP_NAMES, PRESETS, Preset
from cnnviz.arithmetic.kernels import KERNELS
from cnnviz.explain import EXPLAIN_TABS
from cnnviz.explain.methods import METHODS
from cnnviz.learn.lessons import lesson_settings
from cnnviz.network import NETWORK_TABS
from cnnviz.overlay import COLORMAPS
from cnnviz.params import Param, choices, flag, name, numbers, whole
from cnnviz.text import code

MAX_PARAMS = 40
"""More parameters than this are all ignored: no page binds half as many."""
MAX_LENGTH = 100
"""Longest value accepted (the longest label a control offers is under 50 characters)."""
SHOWN = 24
"""Characters of a key or value that a notice quotes (in a code span, made safe by :func:`cnnviz.text.code`)."""
ROOM_PARAM = "room"
"""A classroom room's code (``?room=CODE`` on any page: cnnviz.ui.rooms joins it, the code checked there)."""
APP_PARAMS = frozenset({"embed", "embed_options", ROOM_PARAM})
"""Parameters every page leaves alone: those Streamlit itself reads, and the room to follow."""


_SIZES = {
    "i": (1, 32, 5, "Input size i"),
    "k": (1, 7, 3, "Kernel size k"),
    "s": (1, 4, 1, "Stride s"),
    "d": (1, 4, 1, "Dilation d"),
    "p": (0, 64, 0, "Padding p"),
    "a": (0, 3, 0, "Output padding a"),
}
"""The arithmetic's sizes: range, default and label (``{axis}`` says height or width once they differ)."""
PAGE_PARAMS: dict[str, dict[str, Param]] = {
    "arithmetic": {
        **{key: whole(low, high, default, label + "{axis}") for key, (low, high, default, label) in _SIZES.items()},
        **{key + "w": whole(low, high, None, label + "{axis}") for key, (low, high, _, label) in _SIZES.items()},
        "cin": whole(1, 4, 1, "Input channels"),
        "cout": whole(1, 4, 1, "Output channels"),
        "g": whole(
            1,
            4,
            1,
            "Groups",
            help="nn.Conv2d's groups: the channels split into this many groups, each output channel reading only "
            "its group's input channels. Groups = input channels is a depthwise convolution; it must divide both "
            "channel counts.",
            widget="segmented_control",
        ),
        "flip": flag(
            "Flip the kernel (true convolution)",
            help="PyTorch's Conv2d slides the kernel as it is (cross-correlation); the convolution of mathematics "
            "rotates it by 180° first. On: the animation uses the flipped kernel, and both results are shown.",
            widget="checkbox",
        ),
        "seed": whole(0, 1_000_000, 0, "Seed", widget="number_input"),
        "step": whole(1, 100_000, 1, "Step"),
        "op": choices(OP_NAMES.values(), label="Operation", widget="segmented_control"),
        "preset": choices(
            ["custom", *(p.title for p in PRESETS)], label="Preset: a case of Dumoulin & Visin / conv_arithmetic"
        ),
        "sq": flag(
            "Height = width", True, help="One slider per setting for both axes; off: separate height and width."
        ),
        "ceil": flag("ceil_mode", widget="checkbox"),
        "bias": flag("Bias", True, widget="checkbox"),
        "present": flag(
            "Presentation mode",
            help="For a projector: the animation comes first and large, the sidebar is hidden and the settings fold "
            "away below it.",
        ),
        "pm": choices(["number", "valid", "same", "full"], label="Padding", widget="radio"),
        "vals": choices(
            ["random", "custom", "image"],
            label="Values",
            help="Seeded random integers, your own numbers, or a grayscale crop of the sidebar's image (levels 0–9).",
            widget="radio",
        ),
        "atab": choices(ARITHMETIC_TABS, label="Tab", widget="tabs"),
        "view": choices(VIEW_NAMES.values(), label="View", widget="radio"),
        "kernel": choices([*KERNELS, "custom 3×3", "custom 5×5"], label="Kernel"),
        "speed": numbers(("0.5", "1", "2", "4", "8"), "2", "Speed (steps per second)"),
    },
    "network": {
        "tab": choices(NETWORK_TABS, label="Tab", widget="tabs"),
        "filter_layer": name("Conv layer"),
        "map_layer": name("Layer"),
        "max_layer": name("Layer"),
        "map_scale": choices(
            ["unit", "module", "global"],
            label="Colour range",
            help="Per channel, per layer, or across every layer (CNN Explainer's Unit / Module / Global).",
            widget="radio",
        ),
        "map_sort": choices(["channel", "mean", "max"], label="Order", widget="radio"),
        "cmap": choices(COLORMAPS, label="Colour map"),
        "max_channel": whole(0, 100_000, 0, "Channel", widget="number_input"),
        "filter_index": whole(0, 100_000, 0, "{which}"),
        "map_count": whole(1, 100_000, None, "Channels shown"),
        "max_steps": Param("number", choices=("16", "32", "64", "128", "256"), label="Steps"),  # the model's default
        # the overview's selections, made by clicking (the maps component), kept in the link
        "ov_from": name("First stage shown", help="A deep model's overview shows a range of its stages from here."),
        "ov_layer": name("Layer enlarged"),
        "ov_map": whole(0, 100_000, None, "Channel enlarged"),
        "ov_row": whole(0, 100_000, None, "Unit row"),
        "ov_col": whole(0, 100_000, None, "Unit column"),
        "ov_class": whole(0, 100_000, None, "Class explained"),
    },
    "explain": {
        "method": choices(METHODS, label="Method"),
        "cmap_explain": choices(
            COLORMAPS, label="Colour map", help="cividis is designed for colour-vision deficiencies."
        ),
        "xtab": choices(EXPLAIN_TABS, label="Tab", widget="tabs"),
        "k": whole(1, 20, None, "Top classes shown"),
    },
    "learn": lesson_settings(),
    "": {},
    "playground": {},
    "transfer": {},
}
"""The parameters each page (by its URL path; "" is Home) binds to its controls."""


def arithmetic_query(
    op: str, size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1, output_padding: int = 0
) -> dict[str, str]:
    """The arithmetic page's URL parameters for a square case: every control's value, and the matching
    conv_arithmetic preset's title when there is one (the page then shows that preset chosen)."""
    values = {
        "op": OP_NAMES[op],
        "i": size,
        "k": kernel,
        "s": stride,
        "p": padding,
        "d": dilation,
        "a": output_padding,
        "sq": "true",
        "pm": "number",
        "step": 1,
    }
    same = (op, size, kernel, stride, padding, dilation, output_padding)
    preset = next(
        (
            p.title
            for p in PRESETS
            if (p.op, p.input_size, p.kernel_size, p.stride, p.padding, p.dilation, p.output_padding) == same
        ),
        "custom",
    )
    query = {key: str(value) for key, value in values.items()} | {"preset": preset}
    if op == "avgpool":
        del query["d"]
    if op != "transposed":
        del query["a"]
    return query


SHOWN_INPUT = 12
"""The largest input side "Open in the arithmetic page" shows for a real layer (its kernel, stride, padding,
dilation and groups kept): enough for several windows, small enough to animate every step in the browser."""


def layer_query(
    in_channels: int,
    out_channels: int,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    padding: tuple[int, int, int, int],
    dilation: tuple[int, ...],
    groups: int,
    input_size: tuple[int, ...],
) -> tuple[dict[str, str], list[str]]:
    """The arithmetic page's URL parameters for a real ``Conv2d`` (``padding`` as applied: left, right, top,
    bottom; the other sizes (height, width) pairs), and a sentence for each thing the page shows smaller than the
    layer: at most 4 channels (the groups' pattern kept: depthwise stays depthwise), an input of at most
    :data:`SHOWN_INPUT` per side, a kernel of at most 7, stride and dilation of at most 4. Asymmetric padding
    (TensorFlow's "SAME") is shown as ``same`` at stride 1, else as its top and left amounts."""
    sizes = PAGE_PARAMS["arithmetic"]
    notes: list[str] = []
    shown_groups = min(groups, 4)
    per_in = min(in_channels // groups, 4 // shown_groups)
    per_out = min(out_channels // groups, 4 // shown_groups)
    cin, cout = shown_groups * per_in, shown_groups * per_out
    if (cin, cout, shown_groups) != (in_channels, out_channels, groups):

        def grouped(n: int) -> str:
            return "1 group" if n == 1 else f"{n} groups"

        notes.append(
            f"{cin} → {cout} channels in {grouped(shown_groups)} stand for the layer's {in_channels} → "
            f"{out_channels} in {grouped(groups)}: each output channel still reads its group's input channels only."
        )

    def clamp(key: str, values: tuple[int, ...], what: str) -> tuple[int, ...]:
        high = sizes[key].high
        if max(values) > high:
            notes.append(f"The page shows {what} up to {high}; the layer's is {'×'.join(map(str, values))}.")
        return tuple(min(v, high) for v in values)

    k, s, d = clamp("k", kernel, "kernels"), clamp("s", stride, "strides"), clamp("d", dilation, "dilations")
    size = tuple(min(v, SHOWN_INPUT) for v in input_size)
    if size != tuple(input_size):
        notes.append(
            f"A {size[0]}×{size[1]} input stands for the layer's {input_size[0]}×{input_size[1]}: the same rule "
            "slides over every window."
        )
    left, right, top, bottom = padding
    query = {
        "op": OP_NAMES["conv"],
        "cin": str(cin),
        "cout": str(cout),
        "g": str(shown_groups),
        "sq": "true" if k[0] == k[1] and s[0] == s[1] and d[0] == d[1] and size[0] == size[1] else "false",
        "preset": "custom",
        "step": "1",
    }
    if (left, top) != (right, bottom):
        if s == (1, 1):
            query["pm"] = "same"
        else:
            notes.append(
                f"The layer pads {left}, {right}, {top}, {bottom} (left, right, top, bottom); shown as {top}, {left}."
            )
    if "pm" not in query:
        query["pm"] = "number"
        pads = (min(top, sizes["p"].high), min(left, sizes["p"].high))
        if top == left and query["sq"] == "true":
            query["p"] = str(pads[0])
        else:
            query |= {"p": str(pads[0]), "pw": str(pads[1])}
    for key, (a, b) in (("i", size), ("k", k), ("s", s), ("d", d)):
        query[key] = str(a)
        if query["sq"] == "false":
            query[key + "w"] = str(b)
    if query["sq"] == "false" and "p" in query and "pw" not in query:
        query["pw"] = query["p"]
    return query, notes


def preset_query(preset: Preset) -> dict[str, str]:
    """The arithmetic page's URL parameters showing ``preset``."""
    return arithmetic_query(
        preset.op,
        preset.input_size,
        preset.kernel_size,
        preset.stride,
        preset.padding,
        preset.dilation,
        preset.output_padding,
    )


def check_query(page: str, query: Mapping[str, list[str]]) -> tuple[dict[str, str], list[str]]:
    """The parameters of ``query`` that ``page`` can use, and a notice for each one it cannot.

    ``query`` maps each key to its values (a key may be repeated in a URL).
    """
    params = PAGE_PARAMS.get(page, {})
    keys = [key for key in query if key not in APP_PARAMS]
    if len(keys) > MAX_PARAMS:
        return {}, [f"The link has {len(keys)} settings, more than any page uses; all were ignored."]
    kept: dict[str, str] = {}
    notices: list[str] = []
    for key in keys:
        values = query[key]
        shown = code(key, SHOWN)
        if key not in params:
            if not any(key in other for other in PAGE_PARAMS.values()):  # another page's setting: dropped quietly
                notices.append(f"`{shown}` is not a setting of this page.")
            continue
        if len(values) != 1:
            notices.append(f"`{shown}` is given {len(values)} times.")
            continue
        value = values[0]
        if len(value) > MAX_LENGTH:
            notices.append(f"`{shown}` is {len(value)} characters long.")
        elif (problem := params[key].problem(value)) is not None:
            notices.append(f"`{shown}={code(value, SHOWN)}` {problem}.")
        else:
            kept[key] = value
    return kept, notices
