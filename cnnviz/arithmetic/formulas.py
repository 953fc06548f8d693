"""Human-readable views of a setting: the output-size formula with its numbers, and the PyTorch call."""

from __future__ import annotations

from cnnviz.arithmetic.geometry import Axis, Geometry


def _padding_term(axis: Axis) -> tuple[str, str]:
    """The padding term of the formula, symbolic and with numbers (asymmetric 'same' shows both sides)."""
    if axis.pad_before == axis.pad_after:
        return "2p", rf"2 \cdot {axis.pad_before}"
    return "p_1 + p_2", f"{axis.pad_before} + {axis.pad_after}"


def formula_latex(geo: Geometry, which: str = "rows") -> str:
    """The output-size formula for one axis (``"rows"`` or ``"cols"``): symbols, numbers and result."""
    a: Axis = getattr(geo, which)
    i, k, s, d, o = a.size, a.kernel, a.stride, a.dilation, a.output
    pad_sym, pad_num = _padding_term(a)
    if geo.op == "transposed":
        return (
            rf"o' = (i'-1)\,s - 2p + d\,(k-1) + a + 1 = ({i}-1) \cdot {s} - 2 \cdot {a.pad_before}"
            rf" + {d} \cdot ({k}-1) + {a.output_padding} + 1 = {o}"
        )
    if geo.op == "conv":
        return (
            rf"o = \left\lfloor \frac{{i + {pad_sym} - d\,(k-1) - 1}}{{s}} \right\rfloor + 1"
            rf" = \left\lfloor \frac{{{i} + {pad_num} - {d} \cdot ({k}-1) - 1}}{{{s}}} \right\rfloor + 1 = {o}"
        )
    dil_sym, dil_num = (
        (r" - d\,(k-1)", rf" - {d} \cdot ({k}-1)") if geo.op == "maxpool" else (" - (k-1)", f" - ({k}-1)")
    )
    left, right = (r"\left\lceil", r"\right\rceil") if a.ceil_mode else (r"\left\lfloor", r"\right\rfloor")
    text = (
        rf"o = {left} \frac{{i + 2p{dil_sym} - 1}}{{s}} {right} + 1"
        rf" = {left} \frac{{{i} + 2 \cdot {a.pad_before}{dil_num} - 1}}{{{s}}} {right} + 1"
    )
    numerator = i + 2 * a.pad_before - d * (k - 1) - 1
    raw = -(-numerator // s) + 1 if a.ceil_mode else numerator // s + 1
    if raw != o:
        text += rf" = {raw} \to {o}"
    return text + f" = {o}" if raw == o else text


def stacked(latex: str, two_lines: bool = False, label: str | None = None) -> str:
    """A chain ``a = b = c`` of :func:`formula_latex` as aligned lines, for narrow screens: one ``= …`` per
    line, or with ``two_lines`` the symbols on the first line and the numbers with the result on the second;
    a ``label`` gets a line of its own above them."""
    first, *rest = latex.split(" = ")
    if not rest:
        return latex
    if two_lines:
        rest = [rest[0], " = ".join(rest[1:])] if len(rest) > 1 else rest
    lines = [f"{first} &= {rest[0]}", *(f"&= {part}" for part in rest[1:])]
    if label:
        lines.insert(0, rf"&\text{{{label}:}}")
    return r"\begin{aligned} " + r" \\ ".join(lines) + r" \end{aligned}"


def ceil_mode_note(geo: Geometry) -> str | None:
    """Why ceil mode dropped a window, where it did."""
    notes = []
    for name, a in (("height", geo.rows), ("width", geo.cols)):
        if a.ceil_mode:
            numerator = a.size + 2 * a.pad_before - a.dilation * (a.kernel - 1) - 1
            raw = -(-numerator // a.stride) + 1
            if raw != a.output:
                notes.append(
                    f"{name}: the last ceil-mode window would start at {(raw - 1) * a.stride - a.pad_before}, "
                    "inside the right padding, so PyTorch drops it"
                )
    return "; ".join(notes) or None


def _fmt_pair(a: int, b: int) -> str:
    return str(a) if a == b else f"({a}, {b})"


def pytorch_code(
    geo: Geometry, in_channels: int = 1, out_channels: int = 1, bias: bool = True, groups: int = 1, flip: bool = False
) -> str:
    """The ``torch.nn`` layer and shapes that reproduce the view (a true convolution: the layer with its
    kernel flipped)."""
    r, c = geo.rows, geo.cols
    kernel, stride = _fmt_pair(r.kernel, c.kernel), _fmt_pair(r.stride, c.stride)
    dilation = _fmt_pair(r.dilation, c.dilation)
    if geo.padding_preset in ("valid", "same") and geo.op == "conv":
        padding = repr(geo.padding_preset)
    else:
        padding = _fmt_pair(r.pad_before, c.pad_before)
    args = [f"kernel_size={kernel}", f"stride={stride}", f"padding={padding}"]
    if geo.op == "conv":
        layer = f"nn.Conv2d({in_channels}, {out_channels}, "
        args += [f"dilation={dilation}"] + ([f"groups={groups}"] if groups != 1 else []) + [f"bias={bias}"]
    elif geo.op == "transposed":
        layer = f"nn.ConvTranspose2d({in_channels}, {out_channels}, "
        args += [
            f"output_padding={_fmt_pair(r.output_padding, c.output_padding)}",
            f"dilation={dilation}",
            f"bias={bias}",
        ]
    elif geo.op == "maxpool":
        layer, out_channels = "nn.MaxPool2d(", in_channels
        args += [f"dilation={dilation}", f"ceil_mode={r.ceil_mode}"]
    else:
        layer, out_channels = "nn.AvgPool2d(", in_channels
        args += [f"ceil_mode={r.ceil_mode}"]
    (h, w), (oh, ow) = geo.input_size, geo.output_size
    return (
        "import torch\nfrom torch import nn\n\n"
        f"layer = {layer}{', '.join(args)})\n"
        f"x = torch.randn(1, {in_channels}, {h}, {w})  # (batch, channels, height, width)\n"
        + (
            "# a true convolution: the same layer with its kernel rotated by 180 degrees\n"
            "y = torch.nn.functional.conv2d(x, layer.weight.flip(-1, -2), layer.bias, layer.stride, layer.padding, "
            "layer.dilation, layer.groups)\n"
            if flip
            else "y = layer(x)\n"
        )
        + f"print(y.shape)  # torch.Size([1, {out_channels}, {oh}, {ow}])\n"
    )
