"""A real unit's computation as the arithmetic step player animates it: one step per input channel of the unit's
group (the layer's real input around the window, its padding grey, the taps marked at the layer's stride and
dilation; the kernel slice; the products; the running sum), then the bias and the total. The numbers are
:func:`cnnviz.network.units.explain_unit`'s; the payload is the arithmetic player's
(:func:`cnnviz.arithmetic.player.panels_payload`), so it plays, steps and scrubs as the arithmetic page does."""

from __future__ import annotations

import numpy as np
import torch

from cnnviz.arithmetic.board import Change, Grid, fmt
from cnnviz.arithmetic.levels import value_range
from cnnviz.arithmetic.player import panels_payload
from cnnviz.network.units import ActivationUnit, LinearUnit, NormUnit, PoolUnit, SoftmaxUnit, UnitComputation


def unit_caption(c: UnitComputation) -> str:
    """Where the unit's window lies, in a sentence."""
    channel, row, column = c.unit
    (sh, sw), (dh, dw) = c.stride, c.dilation
    kh, kw = c.terms[0].kernel.shape
    return (
        f"{c.layer}, output channel {channel}, row {row}, column {column}: a {kh}×{kw} window at input row "
        f"{c.origin[0]}, column {c.origin[1]} (stride {sh}×{sw}, dilation {dh}×{dw}, padding {c.padding[2]} top "
        f"{c.padding[0]} left), over {len(c.terms)} input channel{'s' if len(c.terms) > 1 else ''}"
        + (f" of its group ({c.groups} groups)" if c.groups > 1 else "")
    )


def unit_payload(c: UnitComputation) -> dict:
    """The player's data for unit computation ``c``: ``len(c.terms) + 1`` steps."""
    regions = [t.region.double().numpy() for t in c.terms]
    kernels = [t.kernel.double().numpy() for t in c.terms]
    products = [t.products.double().numpy() for t in c.terms]
    lo, hi = value_range(np.concatenate([r.ravel() for r in regions]))
    klo, khi = value_range(np.concatenate([k.ravel() for k in kernels]))
    plo, phi = value_range(np.concatenate([p.ravel() for p in products]))
    sums = np.cumsum([float(p.sum()) for p in products])
    slo, shi = value_range(np.array([*sums, c.total, 0.0]))
    kh, kw = kernels[0].shape
    dh, dw = c.dilation
    grids: list[Grid] = []
    for t, region, kernel in zip(c.terms, regions, kernels, strict=True):
        grey = t.region_on_padding.numpy()
        title = f"Input ch {t.channel} around the window" + (" (grey: padding)" if grey.any() else "")
        grids.append(Grid(title, region, "input", "input", lo, hi, grey=grey if grey.any() else None))
        grids.append(Grid(f"Kernel slice {c.unit[0]}, {t.channel}", kernel, "signed", "kernel", klo, khi))
    product_grid = len(grids)
    grids.append(Grid("Products", np.full((kh, kw), np.nan), "signed", "products", plo, phi, transient=True))
    total_grid = len(grids)
    grids.append(Grid("Sum so far", np.full((1, 1), np.nan), "output", "output", slo, shi))
    layouts = [((2 * i, 2 * i + 1, product_grid, total_grid),) for i in range(len(c.terms))]
    changes = []
    for i, (t, product) in enumerate(zip(c.terms, products, strict=True)):
        r0, c0 = t.first_tap
        cols = grids[2 * i].cols
        taps = tuple((r0 + dh * a) * cols + (c0 + dw * b) for a in range(kh) for b in range(kw))
        writes = [(product_grid, a * kw + b, float(product[a, b])) for a in range(kh) for b in range(kw)]
        writes.append((total_grid, 0, float(sums[i])))
        caption = (
            f"In ch {t.channel}: Σ window × kernel = {fmt(float(product.sum()))}"
            + (f" ({t.on_padding.sum()} taps on padding)" if bool(t.on_padding.any()) else "")
            + f"; sum so far {fmt(float(sums[i]))}."
        )
        red = ((2 * i, taps), (2 * i + 1, tuple(range(kh * kw))))
        changes.append(Change(i, i, caption, red, ((total_grid, (0,)),), tuple(writes)))
    last = len(c.terms) - 1
    caption = (
        f"Sum {fmt(float(sums[-1]))} + bias {fmt(c.bias)} = {fmt(c.total)}: the activation PyTorch computed is "
        f"{fmt(c.activation)}."
    )
    kept = tuple(w for w in changes[-1].writes if w[0] == product_grid)  # the last channel's products stay shown
    changes.append(Change(last + 1, last, caption, (), ((total_grid, (0,)),), (*kept, (total_grid, 0, c.total))))
    return panels_payload("unit", grids, layouts, changes)


def unit_sentence(u: NormUnit | ActivationUnit | PoolUnit) -> str:
    """What a batch norm, an activation or a pooling unit computed, with its numbers, in a sentence of plain text."""
    where = f"{u.layer}, channel {u.unit[0]}, row {u.unit[1]}, column {u.unit[2]}"
    if isinstance(u, NormUnit):
        then = f", then {u.then} gives {fmt4(u.total)}" if u.then else ""
        return (
            f"{where}: ({fmt4(u.value)} − running mean {fmt4(u.mean)}) / √(running var {fmt4(u.var)} + {u.eps:g}) "
            f"= {fmt4(u.normalized)}; × weight {fmt4(u.weight)} + bias {fmt4(u.bias)} = {fmt4(u.affine)}{then}. "
            f"PyTorch computed {fmt4(u.activation)}."
        )
    if isinstance(u, ActivationUnit):
        return (
            f"{where}: {u.name}, {u.formula}, of v = {fmt4(u.value)} is {fmt4(u.total)}. "
            f"PyTorch computed {fmt4(u.activation)}."
        )
    cells = [fmt4(float(v)) for v, pad in zip(u.window.flatten(), u.on_padding.flatten(), strict=True) if not pad]
    if u.operation == "max":
        return (
            f"{where}: max of its window ({', '.join(cells)}) = {fmt4(u.total)}. PyTorch computed {fmt4(u.activation)}."
        )
    return (
        f"{where}: mean of its window, ({' + '.join(cells)}) / {u.divisor} = {fmt4(u.total)}. "
        f"PyTorch computed {fmt4(u.activation)}."
    )


def fmt4(value: float) -> str:
    """A real number with four significant digits (activations are rarely integers)."""
    return f"{value:.4g}"


def logit_sentence(u: LinearUnit, class_name: str, shown: int = 8) -> tuple[str, list[tuple[int, float, float, float]]]:
    """The logit of ``class_name`` as the linear combination it is: a sentence, and the ``shown`` inputs that add
    the most to it in size (index, input, weight, product)."""
    products = u.products.double()
    order = torch.argsort(-products.abs(), stable=True)[:shown]
    rows = [(int(i), float(u.inputs[i]), float(u.weights[i]), float(products[i])) for i in order]
    rest = float(products.sum()) - sum(r[3] for r in rows)
    sentence = (
        f"Logit of {class_name} = Σ input × weight over {products.numel()} inputs + bias = "
        + " + ".join(f"{fmt4(r[1])}·{fmt4(r[2])}" for r in rows)
        + f" + (the other {products.numel() - len(rows)} products: {fmt4(rest)}) + bias {fmt4(u.bias)} = "
        f"{fmt4(u.total)}. PyTorch computed {fmt4(u.activation)}."
    )
    return sentence, rows


def softmax_sentence(s: SoftmaxUnit, names: tuple[str, ...], shown: int = 4) -> str:
    """Class ``s.index``'s probability from the logits, with the numbers: e^(z − max z) over their sum."""
    exps = s.exps
    top = torch.argsort(-s.logits, stable=True)[:shown].tolist()
    terms = " + ".join(f"e^{fmt4(float(s.logits[j] - s.logits.max()))}" for j in top)
    return (
        f"Softmax: p({names[s.index]}) = e^(z − max z) / Σ e^(z − max z) = {fmt4(float(exps[s.index]))} / "
        f"({terms}{' + …' if len(s.logits) > shown else ''} = {fmt4(float(exps.sum()))}) = {s.total:.4f}."
    )
