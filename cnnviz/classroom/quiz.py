"""Quiz questions made from what a page shows, each with an exact answer worked out from the same objects the page
draws (a :class:`~cnnviz.arithmetic.geometry.Geometry`, a :class:`~cnnviz.arithmetic.steps.Scene`, a
:class:`~cnnviz.explain.predict.Prediction`), and the checking and tallying of the answers.

A question is plain data (:meth:`Question.as_dict`), so a room can carry it to its followers; its answer stays on
the server: a page shows :attr:`Question.text` and :attr:`Question.options`, never :attr:`Question.answer`, until
the answer is revealed. Answers typed by visitors are compared after :func:`normalise`, never shown as markup.
"""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from cnnviz.arithmetic.board import fmt
from cnnviz.arithmetic.geometry import OP_NAMES, Geometry, axis_sources
from cnnviz.arithmetic.steps import Scene
from cnnviz.learn.designed import closest_designed, correlation, designed_kernels

MAX_OPTIONS = 6
"""A multiple-choice question offers at most this many answers."""


@dataclass(frozen=True)
class Question:
    """One question: ``text`` (plain text), the ``answer`` it expects, ``options`` to pick from (empty: typed),
    a ``hint`` on the form of a typed answer and ``why`` (shown with the answer once revealed). ``kind`` names the
    generator (:data:`KINDS`)."""

    kind: str
    text: str
    answer: str
    options: tuple[str, ...] = ()
    hint: str = ""
    why: str = ""
    accepted: tuple[str, ...] = field(default=(), repr=False)  # other spellings of the answer, normalised

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Question:
        """A question a room carried (made by :meth:`as_dict`).

        Raises:
            ValueError: ``data`` is not a question.
        """
        try:
            return cls(
                kind=str(data["kind"]),
                text=str(data["text"]),
                answer=str(data["answer"]),
                options=tuple(str(o) for o in data.get("options", ())),
                hint=str(data.get("hint", "")),
                why=str(data.get("why", "")),
                accepted=tuple(str(a) for a in data.get("accepted", ())),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError("not a question") from exc

    def correct(self, given: str) -> bool:
        """Whether ``given`` (as a visitor typed or picked it) is the answer."""
        said = normalise(given)
        return bool(said) and (said == normalise(self.answer) or said in self.accepted)


def normalise(text: str) -> str:
    """An answer as compared: lower case, ``x`` / ``*`` / ``×`` / ``by`` read as ×, spaces dropped, a minus sign
    read as ``-``, a number written without trailing zeros (``3.50`` is ``3.5``, ``-0`` is ``0``)."""
    said = text.strip().lower().replace("−", "-").replace("*", "×").replace(" by ", "×")
    said = re.sub(r"(?<=\d)\s*x\s*(?=\d)", "×", said)
    said = re.sub(r"\s+", "", said)

    def number(match: re.Match[str]) -> str:
        value = float(match.group(0))
        return fmt(0.0 if value == 0 else value)

    return re.sub(r"-?\d+\.\d+|-?\d+", number, said)


def _size(rows: int, cols: int) -> str:
    return f"{rows}×{cols}"


def _padding(geo: Geometry) -> str:
    rows, cols = geo.rows, geo.cols
    if rows.pad_before == rows.pad_after == cols.pad_before == cols.pad_after:
        return str(rows.pad_before)
    return f"{rows.pad_before} top, {rows.pad_after} bottom, {cols.pad_before} left, {cols.pad_after} right"


def output_size(geo: Geometry) -> Question:
    """The output size of the shown setting (height × width), with the formula that gives it."""
    rows, cols = geo.rows, geo.cols
    same = (rows.kernel, rows.stride, rows.dilation) == (cols.kernel, cols.stride, cols.dilation)
    setting = f"input {_size(rows.size, cols.size)}, " + (
        f"kernel {rows.kernel}, stride {rows.stride}, dilation {rows.dilation}"
        if same
        else f"kernel {_size(rows.kernel, cols.kernel)}, stride {_size(rows.stride, cols.stride)}, "
        f"dilation {_size(rows.dilation, cols.dilation)}"
    )
    setting += f", padding {_padding(geo)}"
    if geo.op == "transposed":
        setting += f", output padding {_size(rows.output_padding, cols.output_padding)}"
    if geo.pooling and rows.ceil_mode:
        setting += ", ceil_mode"
    answer = _size(*geo.output_size)
    accepted = (normalise(str(rows.output)),) if rows.output == cols.output else ()
    if geo.op == "transposed":
        formula = "o = s(i − 1) − (p before + p after) + d(k − 1) + a + 1"
    else:
        rounding = "⌈⌉" if geo.pooling and rows.ceil_mode else "⌊⌋"
        formula = f"o = {rounding[0]}(i + p before + p after − d(k − 1) − 1) / s{rounding[1]} + 1"
    return Question(
        "output_size",
        f"{OP_NAMES[geo.op]} with {setting}: what is the output's height × width?",
        answer,
        hint="height × width, e.g. 3×3",
        why=f"{formula} gives {answer}.",
        accepted=accepted,
    )


def _cells(indices: Iterable[int], size: int) -> tuple[int, ...]:
    return tuple(sorted({i for i in indices if 0 <= i < size}))


def _span(indices: Sequence[int]) -> str:
    if not indices:
        return "none"
    if len(indices) > 1 and all(b - a == 1 for a, b in itertools.pairwise(indices)):
        return f"{indices[0]}–{indices[-1]}"
    return ", ".join(map(str, indices))


NO_CELL = "no input cell (only the bias)"


def _window(rows: Sequence[int], cols: Sequence[int]) -> str:
    return f"rows {_span(rows)}, columns {_span(cols)}" if rows and cols else NO_CELL


def _fed(geo: Geometry, cell: tuple[int, int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    rows = _cells((x for x, _ in axis_sources(geo.op, geo.rows, cell[0])), geo.rows.size)
    cols = _cells((x for x, _ in axis_sources(geo.op, geo.cols, cell[1])), geo.cols.size)
    return rows, cols


def feeding_cells(geo: Geometry, cell: tuple[int, int], seed: int = 0) -> Question:
    """Which input cells (padding left out) feed output cell ``cell`` (row, column): their rows and columns, picked
    among the windows shifted by one or by a stride and those of the neighbouring output cells (``seed`` shuffles
    the options with its own generator)."""
    r, c = cell
    rows, cols = _fed(geo, cell)
    answer = _window(rows, cols)
    candidates = []
    for dr, dc in ((1, 0), (0, 1), (-1, 0), (0, -1), (1, 1), (geo.rows.stride, 0), (0, geo.cols.stride), (-1, -1)):
        candidates.append(
            _window(_cells((y + dr for y in rows), geo.rows.size), _cells((x + dc for x in cols), geo.cols.size))
        )
    for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)):
        if 0 <= r + dr < geo.rows.output and 0 <= c + dc < geo.cols.output:
            candidates.append(_window(*_fed(geo, (r + dr, c + dc))))
    wrong = [w for w in dict.fromkeys(candidates) if w != answer]
    options = [answer, *wrong[: MAX_OPTIONS - 2]]
    random.Random(seed).shuffle(options)
    return Question(
        "feeding_cells",
        f"Input {_size(*geo.input_size)}, {OP_NAMES[geo.op].lower()} giving {_size(*geo.output_size)}: which input "
        f"cells feed output cell (row {r}, column {c})? Rows and columns count from 0; padding is left out.",
        answer,
        tuple(options),
        why=f"Output cell ({r}, {c}) reads {'input ' + answer if rows and cols else answer}.",
    )


def next_value(scene: Scene, shown_step: int) -> Question:
    """The value the animation writes at the step after ``shown_step`` (1-based, as the player counts; after the
    last step, step 1), in the sliding-window order of output cells."""
    steps = scene.num_steps
    target = shown_step % steps  # 0-based index of the next step
    oh, ow = scene.geo.output_size
    channel, rest = divmod(target, oh * ow)
    row, col = divmod(rest, ow)
    value = float(scene.output[channel, row, col])
    where = f"output cell (row {row}, column {col})" + (f" of out ch {channel + 1}" if scene.out_channels > 1 else "")
    return Question(
        "next_value",
        f"The animation shows step {shown_step} of {steps}. What value does step {target + 1} write into {where}?",
        fmt(value),
        hint="a number, e.g. -4 or 2.5",
        why=f"Step {target + 1} writes {fmt(value)} (what PyTorch computes for that cell).",
    )


def predicted_class(probabilities: Sequence[tuple[str, float]], seed: int = 0) -> Question:
    """Which class the model will predict, among its top classes (``probabilities``: (class name, probability),
    most likely first); the options are shuffled with their own generator."""
    if not probabilities:
        raise ValueError("no classes to ask about")
    names = [name for name, _ in probabilities[: MAX_OPTIONS - 2]]
    best, chance = probabilities[0]
    options = list(dict.fromkeys(names))
    random.Random(seed).shuffle(options)
    return Question(
        "predicted_class",
        "Which class will the model predict for this image?",
        best,
        tuple(options),
        why=f"The model gives {best} {chance:.0%}.",
    )


def designed_match(weight: np.ndarray, index: int, seed: int = 0) -> Question:
    """Which designed kernel first-layer filter ``index`` of ``weight`` (out, in, k, k; its input channels averaged)
    resembles most — the largest |correlation|, as Learn's step 4 finds it — among the closest few."""
    filt = np.asarray(weight, np.float64)[index].mean(axis=0)
    bank = designed_kernels(filt.shape[-1])
    scores = sorted(((abs(correlation(filt, k)), name) for name, k in bank.items()), key=lambda t: -t[0])
    best = next(m for m in closest_designed(weight) if m.filter_index == index)
    options = list(dict.fromkeys([best.name, *(name for _, name in scores)]))[: MAX_OPTIONS - 2]
    random.Random(seed).shuffle(options)
    return Question(
        "designed_match",
        f"Learned filter {index} of the first layer: which designed kernel does it resemble most?",
        best.name,
        tuple(options),
        why=f"{best.name} has the largest correlation with it: {best.correlation:+.2f}.",
    )


KINDS = {
    "output_size": "Output size",
    "feeding_cells": "Which input cells feed an output cell",
    "next_value": "The animation's next value",
    "predicted_class": "The class the model will predict",
    "designed_match": "The designed kernel a learned filter matches",
}
"""Each generator's name on the teacher's buttons."""


@dataclass(frozen=True)
class Tally:
    """The answers to one question: how many gave each answer (as given, the correct one marked), and the share
    correct."""

    counts: dict[str, int]
    correct: int
    total: int

    @property
    def share(self) -> float:
        return self.correct / self.total if self.total else 0.0


def tally(question: Question, answers: Iterable[str]) -> Tally:
    """Count ``answers`` (one per student) to ``question``: typed answers are grouped by their normalised form, shown
    as the first spelling seen (the expected answer's own spelling when they mean it)."""
    shown: dict[str, str] = {}
    counts: Counter[str] = Counter()
    correct = total = 0
    for given in answers:
        total += 1
        if question.correct(given):
            correct += 1
            label = question.answer
        else:
            label = shown.setdefault(normalise(given), given.strip())
        counts[label] += 1
    return Tally(dict(counts.most_common()), correct, total)
