"""Quiz questions: each answer checked against PyTorch itself (output shapes, which inputs a cell's gradient reaches,
the values F.conv2d computes), the answer checking and the tally against values worked out by hand."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnviz.arithmetic import geometry as ar
from cnnviz.arithmetic.steps import make_scene, random_values
from cnnviz.classroom import quiz
from cnnviz.classroom.charts import answers_figure


def _random_geometry(rng: random.Random) -> ar.Geometry:
    while True:
        op = rng.choice(ar.OPS)
        i, k, s = rng.randint(3, 12), rng.randint(1, 5), rng.randint(1, 3)
        d = 1 if op == "avgpool" else rng.randint(1, 3)
        p = rng.randint(0, k // 2) if op.endswith("pool") else rng.randint(0, 3)
        a = rng.randint(0, ar.max_output_padding(s, d)) if op == "transposed" else 0
        try:
            return ar.geometry(
                op, (i, i + rng.randint(0, 2)), k, s, p, d, a, ceil_mode=op.endswith("pool") and rng.random() < 0.3
            )
        except ValueError:
            continue


def _torch_output_shape(geo: ar.Geometry) -> tuple[int, int]:
    x = torch.zeros(1, 1, *geo.input_size)
    k, s, d = (
        (geo.rows.kernel, geo.cols.kernel),
        (geo.rows.stride, geo.cols.stride),
        (geo.rows.dilation, geo.cols.dilation),
    )
    p = (geo.rows.pad_before, geo.cols.pad_before)
    if geo.op == "conv":
        out = F.conv2d(x, torch.zeros(1, 1, *k), stride=s, padding=p, dilation=d)
    elif geo.op == "transposed":
        a = (geo.rows.output_padding, geo.cols.output_padding)
        out = F.conv_transpose2d(x, torch.zeros(1, 1, *k), stride=s, padding=p, output_padding=a, dilation=d)
    elif geo.op == "maxpool":
        out = F.max_pool2d(x, k, s, p, d, ceil_mode=geo.rows.ceil_mode)
    else:
        out = F.avg_pool2d(x, k, s, p, ceil_mode=geo.rows.ceil_mode)
    return int(out.shape[-2]), int(out.shape[-1])


def test_the_output_size_question_expects_what_pytorch_gives_for_200_random_settings():
    rng = random.Random(0)
    for _ in range(200):
        geo = _random_geometry(rng)
        question = quiz.output_size(geo)
        rows, cols = _torch_output_shape(geo)
        assert question.answer == f"{rows}×{cols}"
        assert question.correct(f"{rows} x {cols}") and question.correct(f"{rows}*{cols}")
        assert question.correct(f" {rows} by {cols} ")
        assert question.correct(str(rows)) == (rows == cols)  # one number for a square output
        assert not question.correct(f"{rows + 1}×{cols}")
        assert str(geo.rows.size) in question.text and f"kernel {geo.rows.kernel}" in question.text
        assert question.options == ()  # typed


def test_the_output_size_question_of_a_worked_case_by_hand():
    # Dumoulin & Visin's padding with strides: i=5, k=3, p=1, s=2 -> 3
    question = quiz.output_size(ar.geometry("conv", 5, 3, 2, 1))
    assert question.answer == "3×3"
    assert question.text == (
        "Convolution with input 5×5, kernel 3, stride 2, dilation 1, padding 1: what is the output's height × width?"
    )
    assert "gives 3×3" in question.why


def _fed_by(geo: ar.Geometry, cell: tuple[int, int]) -> tuple[set[int], set[int]]:
    """The input rows and columns whose cells reach output ``cell``: where its gradient is non-zero (weights of
    ones, so nothing cancels)."""
    x = torch.zeros(1, 1, *geo.input_size, dtype=torch.float64, requires_grad=True)
    k, s, d = (
        (geo.rows.kernel, geo.cols.kernel),
        (geo.rows.stride, geo.cols.stride),
        (geo.rows.dilation, geo.cols.dilation),
    )
    p = (geo.rows.pad_before, geo.cols.pad_before)
    ones = torch.ones(1, 1, *k, dtype=torch.float64)
    if geo.op == "conv":
        out = F.conv2d(x + 1, ones, stride=s, padding=p, dilation=d)
    elif geo.op == "transposed":
        a = (geo.rows.output_padding, geo.cols.output_padding)
        out = F.conv_transpose2d(x + 1, ones, stride=s, padding=p, output_padding=a, dilation=d)
    else:
        out = F.avg_pool2d(x + 1, k, s, p, ceil_mode=geo.rows.ceil_mode, count_include_pad=True)
    out[0, 0, cell[0], cell[1]].backward()
    grad = x.grad[0, 0].numpy()
    rows, cols = np.nonzero(grad)
    return set(rows.tolist()), set(cols.tolist())


def test_the_feeding_cells_question_expects_the_inputs_the_cells_gradient_reaches():
    rng = random.Random(1)
    asked = 0
    while asked < 120:
        geo = _random_geometry(rng)
        if geo.op == "maxpool" and geo.rows.dilation > 1:  # avg_pool2d has no dilation: the reference needs one
            continue
        if geo.op == "maxpool":
            geo = ar.geometry("avgpool", geo.input_size, geo.rows.kernel, geo.rows.stride, geo.rows.pad_before)
        cell = (rng.randrange(geo.rows.output), rng.randrange(geo.cols.output))
        question = quiz.feeding_cells(geo, cell, seed=asked)
        rows, cols = _fed_by(geo, cell)
        assert question.answer == quiz._window(sorted(rows), sorted(cols)), (geo, cell)
        assert question.answer in question.options
        assert len(set(question.options)) == len(question.options) <= quiz.MAX_OPTIONS
        assert question.correct(question.answer)
        assert not any(question.correct(o) for o in question.options if o != question.answer)
        asked += 1


def test_feeding_cells_by_hand():
    # i=5, k=3, s=2, p=1: output (1, 2) reads rows 1..3 and columns 3..5, of which column 5 is padding
    question = quiz.feeding_cells(ar.geometry("conv", 5, 3, 2, 1), (1, 2))
    assert question.answer == "rows 1–3, columns 3–4"
    # dilation 2: rows 0, 2, 4
    assert quiz.feeding_cells(ar.geometry("conv", 7, 3, 1, 0, 2), (0, 1)).answer == "rows 0, 2, 4, columns 1, 3, 5"


def test_the_next_value_question_expects_what_pytorch_writes():
    rng = random.Random(2)
    for n in range(60):
        op = rng.choice(("conv", "maxpool", "avgpool"))
        geo = ar.geometry(op, rng.randint(4, 8), rng.randint(2, 3), rng.randint(1, 2), 1 if op == "conv" else 0)
        cin = rng.randint(1, 2)
        cout = rng.randint(1, 2) if op == "conv" else cin
        x, weight, bias = random_values(geo, cin, cout, seed=n, bias=op == "conv")
        scene = make_scene(geo, x, weight, bias)
        t = torch.tensor(x).unsqueeze(0)
        if op == "conv":
            reference = F.conv2d(t, torch.tensor(weight), torch.tensor(bias), stride=geo.rows.stride, padding=1)
        elif op == "maxpool":
            reference = F.max_pool2d(t, geo.rows.kernel, geo.rows.stride)
        else:
            reference = F.avg_pool2d(t, geo.rows.kernel, geo.rows.stride)
        flat = reference[0].flatten()  # channel-major, then row-major: the animation's order
        shown = rng.randint(1, scene.num_steps)
        question = quiz.next_value(scene, shown)
        following = shown % scene.num_steps
        assert question.correct(str(float(flat[following])))
        assert f"step {following + 1}" in question.text
    last = quiz.next_value(scene, scene.num_steps)  # after the last step comes step 1
    assert "write into output cell (row 0, column 0)" in last.text


@pytest.mark.parametrize(
    ("given", "expected"),
    [("3 x 3", "3×3"), ("3X3", "3×3"), ("−4", "-4"), ("2.50", "2.5"), ("-0.0", "0"), ("  Tabby Cat ", "tabbycat")],
)
def test_answers_are_compared_in_one_form(given, expected):
    assert quiz.normalise(given) == expected


def test_the_class_question_and_the_tally():
    question = quiz.predicted_class([("circle", 0.7), ("square", 0.2), ("star", 0.1)], seed=3)
    assert question.answer == "circle" and sorted(question.options) == ["circle", "square", "star"]
    assert quiz.Question.from_dict(question.as_dict()) == question
    counts = quiz.tally(question, ["circle", "Circle ", "star", "square", "star", "circle"])
    assert counts.counts == {"circle": 3, "star": 2, "square": 1}
    assert (counts.correct, counts.total, round(counts.share, 3)) == (3, 6, 0.5)
    figure = answers_figure(counts.counts, question.answer)
    bar = figure.data[0]
    assert list(bar.y) == ["circle", "star", "square"] and list(bar.x) == [3, 2, 1]
    assert bar.marker.color[0] != bar.marker.color[1]  # the right answer stands out
    with pytest.raises(ValueError):
        quiz.Question.from_dict({"text": "no kind"})


def test_the_designed_kernel_question_expects_the_largest_correlation_numpy_finds():
    from cnnviz.learn.designed import designed_kernels
    from cnnviz.models.registry import load_model
    from cnnviz.models.tinyvgg import TINYVGG

    weight = load_model(TINYVGG).module.features.conv_1_1.weight.detach().numpy()
    bank = designed_kernels(weight.shape[-1])
    for index in range(weight.shape[0]):
        question = quiz.designed_match(weight, index, seed=index)
        filt = weight[index].mean(axis=0).ravel()
        scores = {n: abs(np.corrcoef(filt, k.ravel())[0, 1]) for n, k in bank.items() if k.std() > 0}
        assert scores[question.answer] == pytest.approx(max(scores.values()))
        assert question.answer in question.options and len(question.options) == quiz.MAX_OPTIONS - 2
        assert f"Learned filter {index} " in question.text
