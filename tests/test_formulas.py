"""cnnviz.arithmetic.formulas: the formula panel and the PyTorch code, checked against PyTorch."""

from __future__ import annotations

import contextlib
import io

import pytest

from cnnviz.arithmetic import geometry as ar
from cnnviz.arithmetic.formulas import ceil_mode_note, formula_latex, pytorch_code, stacked

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def test_conv_formula_has_the_numbers_and_result():
    text = formula_latex(ar.geometry("conv", 5, 3, 2, 1))
    assert r"\frac{5 + 2 \cdot 1 - 1 \cdot (3-1) - 1}{2}" in text and text.endswith("= 3")
    assert r"i + 2p - d\,(k-1) - 1" in text  # the 2p term is there (a known complaint about an anchor)


def test_asymmetric_same_padding_shows_both_sides():
    geo = ar.geometry("conv", 6, 4, 1, "same")
    assert "1 + 2" in formula_latex(geo) and formula_latex(geo).endswith("= 6")


def test_transposed_formula():
    text = formula_latex(ar.geometry("transposed", 3, 3, 2, 1, 1, 1))
    assert "(3-1) \\cdot 2 - 2 \\cdot 1 + 1 \\cdot (3-1) + 1 + 1 = 6" in text


def test_ceil_mode_formula_and_dropped_window():
    geo = ar.geometry("maxpool", 5, 2, 2, 1, ceil_mode=True)  # ceil((5+2-1-1)/2)+1 = 4, last window dropped
    assert geo.output_size == (3, 3)
    text = formula_latex(geo, "cols")
    assert r"\left\lceil" in text and r"4 \to 3" in text
    assert "drops it" in ceil_mode_note(geo)
    assert ceil_mode_note(ar.geometry("maxpool", 5, 2, 2)) is None


@pytest.mark.parametrize(
    "args",
    [
        ("conv", (5, 7), (3, 2), (2, 1), (1, 0), (1, 2)),
        ("conv", 6, 4, 1, "same", 1),
        ("transposed", 3, 3, 2, 1, 1, 1),
        ("maxpool", 7, 3, 2, 1, 2),
        ("avgpool", (6, 5), 2, 2, 1),
    ],
)
def test_pytorch_code_runs_and_reproduces_the_shape(args):
    geo = ar.geometry(*args)
    code = pytorch_code(geo, in_channels=2, out_channels=2, bias=False)
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(code, namespace)  # the snippet is what a student would paste
    assert tuple(namespace["y"].shape[-2:]) == geo.output_size
    assert printed.getvalue().strip().split("  #")[0] == f"torch.Size([1, 2, {geo.rows.output}, {geo.cols.output}])"


def test_stacked_formula_keeps_every_part_on_its_own_line():
    chain = formula_latex(ar.geometry("transposed", 3, 3, 2, 1, 1, 1))
    lines = stacked(chain).removeprefix(r"\begin{aligned} ").removesuffix(r" \end{aligned}").split(r" \\ ")
    assert len(lines) == 3 and lines[0].startswith("o' &= ") and lines[-1] == "&= 6"
    rejoined = lines[0].replace(" &= ", " = ") + "".join(" = " + line.removeprefix("&= ") for line in lines[1:])
    assert rejoined == chain  # nothing lost or reordered
    assert stacked("o") == "o"


def test_two_line_formula_puts_symbols_then_numbers_under_its_label():
    """The arithmetic page's form, narrow enough for a projector: label, symbols, then numbers and result."""
    chain = formula_latex(ar.geometry("maxpool", 3, 2, 3, 0, ceil_mode=True))  # ceil mode drops a window: 2 -> 1
    assert chain.count(" = ") == 3  # o = symbols = numbers = 2 \to 1
    text = stacked(chain, two_lines=True, label="height")
    lines = text.removeprefix(r"\begin{aligned} ").removesuffix(r" \end{aligned}").split(r" \\ ")
    assert lines[0] == r"&\text{height:}" and len(lines) == 3
    symbols, numbers = lines[1].split(" &= "), lines[2].removeprefix("&= ")
    assert " = ".join([*symbols, numbers]) == chain  # nothing lost or reordered
    assert symbols[0] == "o" and "i + 2p" in symbols[1] and "2p" not in numbers and numbers.endswith(r"= 2 \to 1")
