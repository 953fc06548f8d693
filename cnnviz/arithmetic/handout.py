"""A printable handout of an arithmetic case: its setting, the output-size formula with its numbers, the input,
kernels and output as number grids, every step's numbers as the player's captions write them, and the PyTorch code
— one HTML document laid out for A4 or Letter paper by its print style sheet (any browser prints it).

Every part comes from the declarations the page uses (:func:`~cnnviz.arithmetic.formulas.formula_latex`,
:func:`~cnnviz.arithmetic.board.step_caption`, :func:`~cnnviz.arithmetic.formulas.pytorch_code`), so the handout
cannot say other numbers than the page. Everything is escaped: nothing in it is markup but its own.
"""

from __future__ import annotations

import html
import re

import numpy as np

from cnnviz.arithmetic.board import fmt, step_caption, views_for
from cnnviz.arithmetic.formulas import formula_latex, pytorch_code
from cnnviz.arithmetic.geometry import OP_NAMES
from cnnviz.arithmetic.steps import Scene

MAX_STEPS = 600
"""A handout lists at most this many steps (about 14 pages); a larger case says how many it leaves out."""

STYLE = """
@page { margin: 14mm; }
body { font: 11pt/1.35 "DejaVu Sans", Arial, sans-serif; color: #111; margin: 0 auto; max-width: 180mm; }
h1 { font-size: 16pt; margin: 0 0 4pt; }
h2 { font-size: 12.5pt; margin: 12pt 0 4pt; break-after: avoid; }
p.setting { margin: 0 0 6pt; }
.formula { font-family: "DejaVu Sans Mono", monospace; font-size: 10pt; margin: 2pt 0; }
.grids { display: flex; flex-wrap: wrap; gap: 8pt 14pt; }
figure { margin: 0; break-inside: avoid; }
figcaption { font-size: 9.5pt; margin-bottom: 2pt; }
table.grid { border-collapse: collapse; font-size: 9pt; }
table.grid td { border: 0.6pt solid #777; min-width: 15pt; height: 13pt; text-align: center; padding: 0 2pt; }
ol.steps { font-family: "DejaVu Sans Mono", monospace; font-size: 9pt; padding-left: 26pt; margin: 0; }
ol.steps li { break-inside: avoid; margin: 0.5pt 0; }
pre { font-size: 8.5pt; background: #f4f4f4; padding: 6pt; white-space: pre-wrap; break-inside: avoid; }
.note { font-size: 9.5pt; color: #444; }
@media screen { body { margin: 16px auto; } }
"""


def _text_formula(latex: str) -> str:
    """The output-size formula of :func:`formula_latex` in plain text (⌊ ⌋, fractions as ``(a) / b``)."""
    text = latex
    for macro, plain in (
        (r"\left\lfloor", "⌊"),
        (r"\right\rfloor", "⌋"),
        (r"\left\lceil", "⌈"),
        (r"\right\rceil", "⌉"),
        (r"\cdot", "·"),
        (r"\to", "→"),
        (r"\,", ""),
    ):
        text = text.replace(macro, plain)
    text = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"(\1) / \2", text)
    text = re.sub(r"\s+", " ", text.replace("{", "").replace("}", "")).strip()
    return re.sub(r" ([⌋⌉])", r"\1", re.sub(r"([⌊⌈]) ", r"\1", text))


def _grid(values: np.ndarray, caption: str) -> str:
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(fmt(float(v)))}</td>" for v in row) + "</tr>" for row in values)
    return f'<figure><figcaption>{html.escape(caption)}</figcaption><table class="grid">{rows}</table></figure>'


def setting_text(scene: Scene) -> str:
    """The case in one sentence: operation, sizes, channels."""
    geo = scene.geo
    r, c = geo.rows, geo.cols
    pad = (
        f"padding {r.pad_before}"
        if r.pad_before == r.pad_after == c.pad_before == c.pad_after
        else f"padding {r.pad_before}/{r.pad_after} (top/bottom), {c.pad_before}/{c.pad_after} (left/right)"
    )
    parts = [
        f"input {r.size}×{c.size} in {scene.in_channels} channel{'s' if scene.in_channels > 1 else ''}",
        f"kernel {r.kernel}×{c.kernel}",
        f"stride {r.stride}×{c.stride}",
        pad,
        f"dilation {r.dilation}×{c.dilation}",
    ]
    if geo.op == "transposed":
        parts.append(f"output padding {r.output_padding}×{c.output_padding}")
    if geo.pooling and r.ceil_mode:
        parts.append("ceil_mode")
    if scene.groups > 1:
        parts.append(f"{scene.groups} groups")
    if scene.flipped:
        parts.append("kernel flipped (true convolution)")
    output = f"output {geo.rows.output}×{geo.cols.output} in {scene.out_channels} channel"
    return f"{OP_NAMES[geo.op]}: {', '.join(parts)}; {output}{'s' if scene.out_channels > 1 else ''}."


def handout_html(scene: Scene) -> str:
    """The handout of ``scene`` as a complete HTML document."""
    geo = scene.geo
    formulas = [_text_formula(formula_latex(geo, "rows"))]
    if (geo.rows.size, geo.rows.kernel, geo.rows.stride, geo.rows.pad_before) != (
        geo.cols.size,
        geo.cols.kernel,
        geo.cols.stride,
        geo.cols.pad_before,
    ):
        formulas = [f"height: {formulas[0]}", f"width: {_text_formula(formula_latex(geo, 'cols'))}"]
    grids = [_grid(scene.x[ch], f"input, in ch {ch + 1}") for ch in range(scene.in_channels)]
    if scene.weight is not None:
        for o in range(scene.weight.shape[0]):
            for i in range(scene.weight.shape[1]):
                if geo.op == "conv":  # a grouped output channel reads its group's input channels only
                    which = f"out ch {o + 1} ← in ch {scene.group_channels(o)[i] + 1}"
                else:
                    which = f"in ch {o + 1} → out ch {i + 1}"
                grids.append(_grid(scene.applied[o, i] if geo.op == "conv" else scene.weight[o, i], f"kernel {which}"))
    if scene.bias is not None:
        grids.append(_grid(scene.bias[None, :], "bias per out ch"))
    grids += [_grid(scene.output[ch], f"output, out ch {ch + 1}") for ch in range(scene.out_channels)]
    view = "direct" if geo.op == "transposed" else views_for(geo)[0]
    shown = min(scene.num_steps, MAX_STEPS)
    steps = "".join(f"<li>{html.escape(step_caption(scene, i, view))}</li>" for i in range(shown))
    left_out = (
        f'<p class="note">The first {shown} of {scene.num_steps} steps; the others follow the same rule.</p>'
        if shown < scene.num_steps
        else ""
    )
    order = (
        "each output cell from the zero-inserted, padded input"
        if geo.op == "transposed"
        else "output cells channel by channel, row by row"
    )
    code = pytorch_code(geo, scene.in_channels, scene.out_channels, scene.bias is not None, scene.groups, scene.flipped)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>cnnviz handout: {html.escape(OP_NAMES[geo.op])}</title><style>{STYLE}</style></head><body>"
        f"<h1>Convolution arithmetic: {html.escape(OP_NAMES[geo.op].lower())}</h1>"
        f'<p class="setting">{html.escape(setting_text(scene))}</p>'
        "<h2>Output size</h2>"
        + "".join(f'<p class="formula">{html.escape(f)}</p>' for f in formulas)
        + f'<h2>The numbers</h2><div class="grids">{"".join(grids)}</div>'
        f'<h2>Every step ({html.escape(order)})</h2><ol class="steps">{steps}</ol>{left_out}'
        f"<h2>The same in PyTorch</h2><pre>{html.escape(code)}</pre>"
        "</body></html>"
    )
