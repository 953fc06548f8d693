"""ONNX files the tests make: real models exported with torch.onnx.export, and crafted hostile graphs."""

from __future__ import annotations

import io
import warnings

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn


def exported(model: nn.Module, shape: tuple[int, ...], opset: int = 17) -> bytes:
    """``model`` (in eval mode) exported by PyTorch's TorchScript-based exporter for an input of ``shape``."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation notice and tracer warnings
        torch.onnx.export(model.eval(), (torch.zeros(*shape),), buffer, dynamo=False, opset_version=opset)
    return buffer.getvalue()


class Squeeze(nn.Module):
    """Squeeze-and-excitation: channel weights from the channels' averages."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Conv2d(channels, channels // 4, 1), nn.Conv2d(channels // 4, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean((2, 3), keepdim=True)))))
        return x * w


class StudentNet(nn.Module):
    """What a student writes: a stem with batch norm, a residual block, a depthwise-separable block with
    squeeze-and-excitation, pooling and a linear head."""

    def __init__(self, classes: int = 4, channels: int = 3) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(channels, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU())
        self.res = nn.Sequential(nn.Conv2d(16, 16, 3, 1, 1), nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, 16, 3, 1, 1))
        self.dw = nn.Sequential(nn.Conv2d(16, 16, 3, 1, 1, groups=16), nn.BatchNorm2d(16), nn.Hardswish())
        self.se = Squeeze(16)
        self.pw = nn.Sequential(nn.Conv2d(16, 32, 1), nn.BatchNorm2d(32), nn.ReLU6())
        self.head = nn.Linear(32, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = torch.relu(x + self.res(x))
        x = self.pw(self.se(self.dw(x)))
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def graph_file(nodes, inputs, outputs, initializers=(), opset: int = 17, domains=()) -> bytes:
    """A crafted model of ``nodes`` (helper.make_node), serialised without any check."""
    graph = helper.make_graph(list(nodes), "crafted", list(inputs), list(outputs), list(initializers))
    opsets = [helper.make_opsetid("", opset), *[helper.make_opsetid(d, 1) for d in domains]]
    model = helper.make_model(graph, opset_imports=opsets)
    return model.SerializeToString()


def image_input(name: str = "x", shape=(1, 3, 8, 8)):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def scores_output(name: str = "y", classes: int = 2):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, classes])


def hostile() -> list[tuple[str, bytes, str]]:
    """(what, file, the reason it must be refused with)."""
    x, y = image_input(), scores_output()
    flatten_gemm = [
        helper.make_node("GlobalAveragePool", ["x"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "w", "b"], ["y"], transB=1),
    ]
    w = helper.make_tensor("w", TensorProto.FLOAT, [2, 3], [0.0] * 6)
    b = helper.make_tensor("b", TensorProto.FLOAT, [2], [0.0] * 2)
    external = TensorProto()
    external.CopyFrom(w)
    external.ClearField("float_data")
    external.data_location = TensorProto.EXTERNAL
    entry = external.external_data.add()
    entry.key, entry.value = "location", "/etc/passwd"
    huge = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[60_000_000])  # 229 MiB declared, none stored
    billion = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1000, 1000, 1000])
    branch = helper.make_graph([helper.make_node("Identity", ["x"], ["z"])], "b", [], [image_input("z")])
    then = helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=branch)
    loop = helper.make_node("Loop", ["n", "c"], ["y"], body=branch)
    many = [helper.make_node("Relu", [f"r{i}" if i else "x"], [f"r{i + 1}"]) for i in range(5_001)]
    many += [helper.make_node("Flatten", ["r5001"], ["y"])]
    valid = graph_file(flatten_gemm, [x], [y], [w, b])
    return [
        ("external data", graph_file(flatten_gemm, [x], [y], [external, b]), "external data"),
        ("If (control flow)", graph_file([then], [x], [y]), "not among the supported operations"),
        ("Loop (control flow)", graph_file([loop], [x], [y]), "not among the supported operations"),
        (
            "custom domain",
            graph_file([helper.make_node("Relu", ["x"], ["y"], domain="evil.ops")], [x], [y], domains=["evil.ops"]),
            "other operator sets",
        ),
        ("unknown op", graph_file([helper.make_node("FooBar", ["x"], ["y"])], [x], [y]), "not among the supported"),
        ("initializers past the budget", graph_file(flatten_gemm, [x], [y], [huge, b]), "more than 200 MiB"),
        ("10⁹ elements", graph_file(flatten_gemm, [x], [y], [billion, b]), "declares 1,000,000,000 elements"),
        ("truncated", valid[: len(valid) // 2], "not a readable ONNX file"),
        ("not protobuf", b"\xff" * 64, "not a readable ONNX file"),
        ("too many nodes", graph_file(many, [x], [y]), "at most 5000 are accepted"),
        ("nested past bounds", nested_graphs(200), "not a readable ONNX file"),
        ("opset 11", graph_file(flatten_gemm, [x], [y], [w, b], opset=11), "13 or later is needed"),
        ("data shorter than its shape", _short_raw(flatten_gemm, x, y, b), "does not match its declared shape"),
        ("four channels", graph_file(flatten_gemm, [image_input(shape=(1, 4, 8, 8))], [y], [w, b]), "3 (colour) or 1"),
        ("a tensor on a Relu", graph_file(_carrying(flatten_gemm, t=w), [x], [y], [w, b]), "carries a tensor it does"),
        ("a sparse tensor", graph_file(_carrying(flatten_gemm, sparse_value=_sparse()), [x], [y], [w, b]), "sparse"),
        ("17 MiB besides its tensors", _with(valid, doc_string="x" * 17 * 2**20), "Besides its tensors the file"),
        ("a large tensor as numbers", graph_file(flatten_gemm, [x], [y], [_listed(), b]), "store it as raw bytes"),
        ("training steps", _with(valid, training_info=[onnx.TrainingInfoProto()]), "training steps"),
    ]


def _with(data: bytes, **fields) -> bytes:
    """The model in ``data`` with ``fields`` set (a repeated field extended)."""
    model = onnx.load_from_string(data)
    for name, value in fields.items():
        if isinstance(value, list):
            getattr(model, name).extend(value)
        else:
            setattr(model, name, value)
    return model.SerializeToString()


def _listed():
    """The Gemm's weights (2 × 3) declared as 2 × 40,000 and stored as 80,000 numbers in ``float_data``."""
    return helper.make_tensor("w", TensorProto.FLOAT, [2, 40_000], [0.0] * 80_000)


def _carrying(nodes, **attributes):
    """``nodes`` after a Relu on the input that carries ``attributes`` it does not take."""
    first = helper.make_node("Relu", ["x"], ["x1"], **attributes)
    rest = [helper.make_node(n.op_type, ["x1" if i == "x" else i for i in n.input], n.output) for n in nodes]
    for new, old in zip(rest, nodes, strict=True):
        new.attribute.extend(old.attribute)
    return [first, *rest]


def _sparse():
    """A sparse tensor of one value that declares 10⁹ elements."""
    values = helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])
    indices = helper.make_tensor("i", TensorProto.INT64, [1], [0])
    return helper.make_sparse_tensor(values, indices, [1000, 1000, 1000])


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (the wire format written by hand: protobuf itself refuses to build a
    message nested this deep)."""
    length, size = b"", len(payload)
    while True:
        length += bytes([(size & 0x7F) | (0x80 if size > 0x7F else 0)])
        size >>= 7
        if not size:
            break
    return bytes([number << 3 | 2]) + length + payload


def nested_graphs(depth: int) -> bytes:
    """A model whose graph holds an If whose branch holds an If … ``depth`` times."""
    graph = b""
    for _ in range(depth):
        attribute = _field(1, b"then_branch") + _field(6, graph) + b"\xa0\x01\x05"  # name, g, type GRAPH
        graph = _field(1, _field(4, b"If") + _field(5, attribute))  # a graph with one node
    return b"\x08\x08" + _field(8, b"\x10\x11") + _field(7, graph)  # ir_version 8, opset 17, the graph


def _short_raw(nodes, x, y, b) -> bytes:
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2, 3], raw_data=b"\x00" * 8)
    return graph_file(nodes, [x], [y], [w, b])


def conv_classifier(kernel: np.ndarray, weight: np.ndarray, bias: np.ndarray, side: int = 8) -> bytes:
    """A small ONNX classifier written node by node: Conv (``kernel``, padding 1), Relu, GlobalAveragePool,
    Flatten, Gemm (``weight`` (classes, channels), ``bias``)."""
    x = image_input(shape=(1, kernel.shape[1], side, side))
    y = scores_output(classes=weight.shape[0])
    nodes = [
        helper.make_node("Conv", ["x", "k"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "w", "b"], ["y"], transB=1),
    ]
    tensors = [
        numpy_helper.from_array(np.ascontiguousarray(a, np.float32), n)
        for a, n in ((kernel, "k"), (weight, "w"), (bias, "b"))
    ]
    graph = helper.make_graph(nodes, "classifier", [x], [y], tensors)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def valid_small() -> bytes:
    kernel = (0.1 * (np.arange(108) % 7 - 3)).reshape(4, 3, 3, 3)
    weight = np.array([[0.5, -0.5, 0.25, 1.0], [-1.0, 0.5, 0.0, 2.0]])
    return conv_classifier(kernel, weight, np.array([0.1, -0.1]))
