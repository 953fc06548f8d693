"""ONNX image classifiers uploaded by a visitor: read as data, checked against a whitelist of operations and a
size budget before anything is converted, then turned into a torch module (``onnx2torch``: a real ``nn.Conv2d``
per Conv, so every page — filters, feature maps, Grad-CAM, the unit-by-unit view — works on it).

An ONNX file is a protobuf message, so reading it runs nothing. What could reach outside the file is refused:
external-data references (a read of a server file), control flow (``Loop``, ``If``, ``Scan``: subgraphs), custom
or unknown domains and operations, and local functions. Sizes are summed from the declared shapes before a
tensor is made.
"""

from __future__ import annotations

import io
import logging
import math
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import onnx
import torch
from google.protobuf.message import DecodeError
from torch import nn
from torch.overrides import TorchFunctionMode

from cnnviz.models import onnx_wire

logger = logging.getLogger(__name__)

OPERATIONS = frozenset(
    {
        "Conv",
        "Gemm",
        "MatMul",
        "BatchNormalization",
        "Relu",
        "Clip",
        "Sigmoid",
        "HardSigmoid",
        "HardSwish",
        "Tanh",
        "LeakyRelu",
        "Elu",
        "MaxPool",
        "AveragePool",
        "GlobalAveragePool",
        "ReduceMean",
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Concat",
        "Flatten",
        "Reshape",
        "Transpose",
        "Squeeze",
        "Unsqueeze",
        "Softmax",
        "Pad",
        "Resize",
        "Identity",
        "Constant",
        "LayerNormalization",
        "Erf",
        "Sqrt",
        "Pow",
        "Dropout",
    }
)
"""The operations an uploaded graph may use (the ONNX default domain only)."""
MIN_OPSET = 13
MAX_NODES = 5_000
MAX_ELEMENTS = 100_000_000
"""Elements of any one tensor (a declared shape of 10⁹ is refused before anything is made)."""
MAX_TENSOR_BYTES = 200 * 1024 * 1024
"""The initializers' bytes summed from their declared shapes and types."""
MAX_TYPED_VALUES = 65_536
"""Values of a tensor stored as a list of numbers (``float_data`` …), each a Python object when read: a larger
tensor must come as raw bytes."""
_TYPED_FIELDS = ("float_data", "int32_data", "int64_data", "double_data", "uint64_data", "string_data")
_ITEM_BYTES = {1: 4, 2: 1, 3: 1, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 16: 2}  # ONNX TensorProto data types


class OnnxFileError(ValueError):
    """An ONNX file that is refused, with the reason."""


@dataclass(frozen=True)
class OnnxModel:
    """A converted ONNX classifier: the module, its input's channels and size, its class count and the
    preprocessing its metadata gives (None where it says nothing)."""

    module: nn.Module
    channels: int
    input_size: tuple[int, int] | None
    classes: int
    mean: tuple[float, ...] | None
    std: tuple[float, ...] | None


def _parse(data: bytes) -> onnx.ModelProto:
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise OnnxFileError("This is not a readable ONNX file (truncated, or not a model).") from exc
    if not model.HasField("graph") or not model.graph.node:
        raise OnnxFileError("This ONNX file holds no graph.")
    return model


def _check(
    model: onnx.ModelProto, placed: dict[str, onnx_wire.Place]
) -> None:  # (check after check, each with its reason)
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    if set(opsets) - {"ai.onnx"}:
        raise OnnxFileError(f"The graph uses other operator sets ({', '.join(sorted(set(opsets) - {'ai.onnx'}))}).")
    if opsets.get("ai.onnx", 0) < MIN_OPSET:
        raise OnnxFileError(f"The graph's opset is {opsets.get('ai.onnx', 0)}; {MIN_OPSET} or later is needed.")
    if model.functions:
        raise OnnxFileError("The file defines functions of its own; only standard operations are accepted.")
    if model.training_info or model.graph.sparse_initializer:
        raise OnnxFileError("The file holds training steps or sparse tensors; only an inference graph is accepted.")
    graph = model.graph
    if len(graph.node) > MAX_NODES:
        raise OnnxFileError(f"The graph has {len(graph.node)} operations; at most {MAX_NODES} are accepted.")
    for node in graph.node:
        if node.domain not in ("", "ai.onnx"):
            raise OnnxFileError("The graph uses operations of a custom domain.")
        if node.op_type not in OPERATIONS:
            shown = node.op_type[:40]
            raise OnnxFileError(f"The graph uses {shown!r}, which is not among the supported operations.")
        for attribute in node.attribute:
            if attribute.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) or attribute.g.node:
                raise OnnxFileError("The graph has control flow (a subgraph); it is not accepted.")
            if attribute.HasField("t") and attribute.t.data_location == onnx.TensorProto.EXTERNAL:
                raise OnnxFileError("The graph refers to external data files; they are never read.")
            if attribute.HasField("sparse_tensor") or attribute.sparse_tensors or attribute.tensors:
                raise OnnxFileError("The graph holds sparse tensors or lists of tensors; they are not accepted.")
            if attribute.HasField("t") and node.op_type != "Constant":
                raise OnnxFileError(f"A {node.op_type[:40]!r} operation carries a tensor it does not take.")
    total = 0
    for tensor in list(graph.initializer) + [a.t for n in graph.node for a in n.attribute if a.HasField("t")]:
        if tensor.data_location == onnx.TensorProto.EXTERNAL or tensor.external_data:
            raise OnnxFileError("The graph refers to external data files; they are never read.")
        if tensor.data_type not in _ITEM_BYTES:
            raise OnnxFileError(f"A tensor of the graph has an unsupported data type ({tensor.data_type}).")
        if any(d < 0 for d in tensor.dims):
            raise OnnxFileError("A tensor of the graph has a negative size.")
        elements = math.prod(tensor.dims)
        if elements > MAX_ELEMENTS:
            raise OnnxFileError(f"A tensor of the graph declares {elements:,} elements; at most {MAX_ELEMENTS:,}.")
        total += elements * _ITEM_BYTES[tensor.data_type]
        if total > MAX_TENSOR_BYTES:
            raise OnnxFileError(f"The graph's tensors would take more than {MAX_TENSOR_BYTES // 2**20} MiB.")
        if sum(len(getattr(tensor, field)) for field in _TYPED_FIELDS) > MAX_TYPED_VALUES:
            raise OnnxFileError(
                "A large tensor is stored as a list of numbers; store it as raw bytes (as torch.onnx.export does)."
            )
        place = placed.get(tensor.name)
        if place is not None and place.length != elements * _ITEM_BYTES[tensor.data_type]:
            raise OnnxFileError("A tensor's data does not match its declared shape.")
    for value in graph.value_info:
        for d in value.type.tensor_type.shape.dim:
            if d.HasField("dim_value") and d.dim_value > MAX_ELEMENTS:
                raise OnnxFileError("A value of the graph declares an impossible size.")


def _check_converter(model: onnx.ModelProto) -> None:
    """Refuse a graph with an operation in a version onnx2torch has no converter for (opsets past 17 change
    ``ReduceMean``, ``Pad``, ``Resize`` and ``Constant``), saying how to export one it reads."""
    from onnx2torch.node_converters.registry import _CONVERTER_REGISTRY, OperationDescription

    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    for op in sorted({node.op_type for node in model.graph.node}):
        version = onnx.defs.get_schema(op, max_inclusive_version=opset, domain="").since_version
        if OperationDescription(domain="", operation_type=op, version=version) not in _CONVERTER_REGISTRY:
            raise OnnxFileError(
                f"The graph's opset is {opset}, and the converter does not read its {op}: export the model with "
                "torch.onnx.export(..., dynamo=False, opset_version=17) (opsets 13 to 17 are read)."
            )


def _image_input(model: onnx.ModelProto) -> tuple[int, tuple[int, int] | None]:
    """The one N×C×H×W float input: its channels and (when fixed) its size."""
    graph = model.graph
    constants = {t.name for t in graph.initializer}
    inputs = [v for v in graph.input if v.name not in constants]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise OnnxFileError("An image classifier has one input (N×C×H×W) and one output (N×classes).")
    kind = inputs[0].type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") else None for d in kind.shape.dim]
    if kind.elem_type != 1 or len(dims) != 4 or dims[1] not in (1, 3):
        raise OnnxFileError("The input must be a float N×C×H×W tensor of 3 (colour) or 1 (grey) channels.")
    h, w = dims[2], dims[3]
    if h is not None and w is not None and not (8 <= h <= 1024 and 8 <= w <= 1024):
        raise OnnxFileError("The input's height and width must be 8 to 1024 pixels.")
    return int(dims[1]), (int(h), int(w)) if h and w else None


MAX_ACTIVATION_BYTES = 1024 * 1024 * 1024
"""What every value of the graph takes for one image, summed from the shapes ONNX's shape inference works out
before anything runs: a graph that would grow (Concat after Concat, a huge Resize or Pad) is refused unrun."""


def _check_activations(model: onnx.ModelProto, channels: int, size: tuple[int, int]) -> list[onnx.ValueInfoProto]:
    """Refuse a graph whose values, for one image of ``size``, would take more than :data:`MAX_ACTIVATION_BYTES`
    or whose shapes cannot all be worked out in advance; else the shapes worked out (for the converter)."""
    # A light copy: the nodes and, for each initializer, its data only where small (a shape for Reshape); a large
    # one is declared as an input of its type and shape, so inference reads no weights and copies none.
    fixed = onnx.ModelProto()
    fixed.ir_version = model.ir_version
    fixed.opset_import.extend(model.opset_import)
    graph = fixed.graph
    for node in model.graph.node:
        constant = _constant_tensor(node)
        if constant is not None and math.prod(constant.dims) > 4096:  # (as a large initializer, below)
            graph.input.append(onnx.helper.make_tensor_value_info(node.output[0], constant.data_type, constant.dims))
        else:
            graph.node.add().CopyFrom(node)
    graph.output.extend(model.graph.output)
    constants = {t.name for t in model.graph.initializer}
    for value in model.graph.input:
        if value.name not in constants:  # one image of the size the check runs
            graph.input.add().CopyFrom(value)
            for d, n in zip(graph.input[-1].type.tensor_type.shape.dim, (1, channels, *size), strict=True):
                d.Clear()
                d.dim_value = n
    for tensor in model.graph.initializer:
        if math.prod(tensor.dims) <= 4096:
            graph.initializer.add().CopyFrom(tensor)
        else:
            graph.input.append(onnx.helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims)))
    try:
        inferred = onnx.shape_inference.infer_shapes(fixed, strict_mode=True, data_prop=True)
    except Exception as exc:  # onnx's inference errors (InferenceError, ValidationError) and worse
        raise OnnxFileError("The graph's shapes cannot be worked out; it is not accepted.") from exc
    total = 0
    values = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    for node in inferred.graph.node:
        for name in node.output:
            kind = values[name].type.tensor_type if name in values else None
            dims = [d.dim_value if d.HasField("dim_value") else -1 for d in kind.shape.dim] if kind else [-1]
            if kind is None or any(d < 0 for d in dims):
                raise OnnxFileError(
                    f"The size of a value of the graph ({name[:40]!r}) cannot be worked out in advance."
                )
            total += math.prod(dims) * _ITEM_BYTES.get(kind.elem_type, 8)
            if total > MAX_ACTIVATION_BYTES:
                raise OnnxFileError(
                    f"Running the graph on one image would take more than {MAX_ACTIVATION_BYTES // 2**20} MiB."
                )
    return list(inferred.graph.value_info)


def _shapes_given(model: onnx.ModelProto, **_settings: object) -> onnx.ModelProto:
    """onnx2torch's shape inference, replaced: :func:`read_onnx` gives the graph the shapes it worked out on a
    light copy, where onnx2torch's would serialise and parse the whole model, weights included, twice over."""
    return model


def _inline_identities(model: onnx.ModelProto, placed: dict[str, onnx_wire.Place]) -> None:
    """PyTorch's exporter writes an initializer used twice once, and an ``Identity`` node for each further use;
    the converter reads a Conv's weights from the initializers by name, so each such Identity becomes a copy of
    its initializer under its output's name (whose bytes, if not in the structure, lie where its source's do)."""
    graph = model.graph
    tensors = {t.name: t for t in graph.initializer}
    kept = []
    for node in graph.node:
        if node.op_type == "Identity" and len(node.input) == 1 and node.input[0] in tensors:
            copy = onnx.TensorProto()
            copy.CopyFrom(tensors[node.input[0]])
            copy.name = node.output[0]
            graph.initializer.append(copy)
            tensors[copy.name] = copy
            if node.input[0] in placed:
                placed[copy.name] = placed[node.input[0]]
        else:
            kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)


_TAKEN = threading.local()
"""This thread's initializers as torch tensors while :func:`read_onnx` converts (name to tensor)."""


def _placed(model: onnx.ModelProto, parts: onnx_wire.Split) -> dict[str, onnx_wire.Place]:
    """Where in the file each tensor left out of the parsed structure lies, by name: an initializer's, or a
    ``Constant`` operation's (named here after its output, the initializer it becomes)."""
    graph = model.graph
    placed = {}
    for index, place in parts.initializers.items():
        placed[graph.initializer[index].name] = place
    for (n, a), place in parts.attributes.items():
        node = graph.node[n]
        constant = _constant_tensor(node)
        if constant is None or node.attribute[a].name != "value" or not node.output:
            raise OnnxFileError(f"A {node.op_type[:40]!r} operation carries a tensor it does not take.")
        constant.name = node.output[0]
        placed[constant.name] = place
    return placed


def _take_initializers(
    model: onnx.ModelProto, data: bytes, placed: dict[str, onnx_wire.Place]
) -> dict[str, torch.Tensor]:
    """Each initializer and ``Constant`` tensor as a torch tensor, copied once: a large one straight out of the
    file's bytes (``placed``), a small one out of the parsed structure. Each ``Constant`` operation becomes an
    initializer of its output's name (onnx2torch reads a Conv's weights from the initializers only)."""
    tensors = {}
    graph = model.graph
    constants = []
    for node in graph.node:
        if (constant := _constant_tensor(node)) is not None:
            constant.name = node.output[0]
            constants.append(constant)
    view = memoryview(data)
    for tensor in [*graph.initializer, *constants]:
        dtype, shape = _TORCH_TYPES[tensor.data_type], tuple(tensor.dims)
        expected = math.prod(shape) * _ITEM_BYTES[tensor.data_type]
        if tensor.HasField("raw_data"):
            raw = bytearray(tensor.raw_data)
            tensor.ClearField("raw_data")
        elif tensor.name in placed:
            place = placed[tensor.name]
            raw = bytearray(view[place.offset : place.offset + place.length])
        else:
            continue  # (values in typed fields, bounded by _check: left to the converter)
        if len(raw) != expected:
            raise OnnxFileError("A tensor's data does not match its declared shape.")
        # (frombuffer refuses an empty buffer: a tensor with a zero in its shape is made empty)
        tensors[tensor.name] = (
            torch.frombuffer(raw, dtype=dtype).reshape(shape) if raw else torch.empty(shape, dtype=dtype)
        )
    graph.initializer.extend(constants)  # (a copy of their shapes and names: their bytes are taken)
    kept = [node for node in graph.node if _constant_tensor(node) is None]
    del graph.node[:]
    graph.node.extend(kept)
    return tensors


_TORCH_TYPES = {
    1: torch.float32,
    2: torch.uint8,
    3: torch.int8,
    5: torch.int16,
    6: torch.int32,
    7: torch.int64,
    9: torch.bool,
    10: torch.float16,
    11: torch.float64,
    16: torch.bfloat16,
}


def _constant_tensor(node: onnx.NodeProto) -> onnx.TensorProto | None:
    """The tensor a ``Constant`` operation gives, if it gives one."""
    if node.op_type == "Constant":
        for attribute in node.attribute:
            if attribute.name == "value" and attribute.HasField("t"):
                return attribute.t
    return None


def _to_torch(tensor: Any) -> torch.Tensor:
    """``OnnxTensor.to_torch``, replaced: an initializer :func:`_take_initializers` made comes as made."""
    taken = getattr(_TAKEN, "tensors", {})
    proto = tensor.proto
    made = taken.get(proto.name) if not proto.HasField("raw_data") else None
    if made is not None and tuple(made.shape) == tuple(proto.dims) and made.dtype == _TORCH_TYPES.get(proto.data_type):
        return made
    return _TO_TORCH(tensor)


_TO_TORCH: Callable[[Any], torch.Tensor]


_KEEPING_INITS = frozenset({"ones_", "zeros_", "constant_", "eye_", "dirac_"})


class _Converting(TorchFunctionMode):
    """What onnx2torch computes only to throw away, skipped while it converts (this thread only):

    - each new layer's random initialisation (a full write of each weight, replaced by the file's at once: an
      allocation never written to takes no memory); the tensors skipped are kept until :meth:`settle` makes
      sure none is left in the module;
    - the scaling of each Gemm's weights by ``alpha``, 1 in every exported model (a copy of the largest tensor):
      multiplying by the number 1 gives the tensor itself, the same values.
    """

    def __init__(self) -> None:
        super().__init__()
        self.skipped: list[torch.UntypedStorage] = []

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        random_init = func in (torch.Tensor.uniform_, torch.Tensor.normal_) or (
            getattr(func, "__module__", None) == "torch.nn.init" and func.__name__ not in _KEEPING_INITS
        )
        target = args[0] if args else (kwargs or {}).get("tensor")  # (nn.init passes it by name)
        if random_init and isinstance(target, torch.Tensor):
            self.skipped.append(target.untyped_storage())  # (the memory itself: a parameter's may be replaced)
            return target
        if (
            func in (torch.Tensor.__mul__, torch.Tensor.mul, torch.mul)
            and not kwargs
            and len(args) == 2
            and isinstance(args[0], torch.Tensor)
            and args[0].is_floating_point()
            and type(args[1]) in (int, float)
            and args[1] == 1
        ):
            return args[0]
        return func(*args, **(kwargs or {}))

    def settle(self, module: nn.Module) -> None:
        """Zero any tensor of ``module`` whose initialisation was skipped and that the file did not replace (none
        in onnx2torch's converters: a safeguard, so no tensor holds what its memory held before)."""
        skipped = {m.data_ptr() for m in self.skipped if m.nbytes()}  # (held, so their addresses are unique)
        for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
            if tensor.numel() and tensor.untyped_storage().data_ptr() in skipped:
                logger.warning("the ONNX converter left %s at its initialisation: zeroed", name)
                with torch.no_grad():
                    tensor.zero_()
        self.skipped.clear()


@contextmanager
def _converting(tensors: dict[str, torch.Tensor]) -> Iterator[_Converting]:
    global _TO_TORCH
    import onnx2torch.converter
    from onnx2torch.onnx_tensor import OnnxTensor

    onnx2torch.converter.safe_shape_inference = _shapes_given  # (cnnviz is its only user in the process)
    if OnnxTensor.to_torch is not _to_torch:
        _TO_TORCH = OnnxTensor.to_torch
        OnnxTensor.to_torch = _to_torch
    _TAKEN.tensors = tensors
    mode = _Converting()
    try:
        with mode:
            yield mode
    finally:
        _TAKEN.tensors = {}
        mode.skipped.clear()


def _floats(text: str | None) -> tuple[float, ...] | None:
    if not text:
        return None
    try:
        values = tuple(float(v) for v in text.replace(";", ",").split(",")[:4])
    except ValueError:
        return None
    return values if all(math.isfinite(v) for v in values) else None


def read_onnx(data: bytes, size_if_free: tuple[int, int] = (224, 224)) -> OnnxModel:
    """The ONNX classifier in ``data``, checked and converted; a graph whose input's height and width are free is
    checked and run at ``size_if_free``.

    Raises:
        OnnxFileError: anything refused, with the reason (the only exception it raises).
    """
    try:
        return _read(data, size_if_free)
    except OnnxFileError:
        raise
    except Exception as exc:  # a case the checks did not foresee: refused all the same, the traceback logged
        logger.exception("an ONNX file could not be read")
        raise OnnxFileError("This ONNX file could not be read.") from exc


def _read(data: bytes, size_if_free: tuple[int, int]) -> OnnxModel:
    try:
        parts = onnx_wire.split(data)  # (the file without its large tensors' bytes, and where they lie)
    except onnx_wire.Unreadable as exc:
        raise OnnxFileError(str(exc)) from exc
    model = _parse(parts.structure)
    placed = _placed(model, parts)
    _check(model, placed)
    _check_converter(model)
    channels, size = _image_input(model)
    shapes = _check_activations(model, channels, size or size_if_free)
    _inline_identities(model, placed)
    del model.graph.value_info[:]
    model.graph.value_info.extend(shapes)
    meta = {p.key: p.value for p in model.metadata_props}
    tensors = _take_initializers(model, data, placed)
    try:
        import onnx2torch.converter

        with _converting(tensors) as converting:
            module = onnx2torch.converter.convert(model).eval()
            converting.settle(module)
    except OnnxFileError:
        raise
    except Exception as exc:  # the converter's own errors: the visitor gets a reason, the log the rest
        logger.info("an ONNX graph could not be converted", exc_info=True)
        raise OnnxFileError(
            "The graph could not be converted to PyTorch (an unsupported use of an operation)."
        ) from exc
    for p in module.parameters():
        p.requires_grad_(False)
    side = size or size_if_free
    try:
        with torch.no_grad():
            out = module(torch.zeros(1, channels, *side))
    except Exception as exc:
        logger.info("a converted ONNX graph failed on a blank image", exc_info=True)
        raise OnnxFileError(f"The graph does not run on a {side[0]}×{side[1]} image.") from exc
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != 1 or not torch.isfinite(out).all():
        raise OnnxFileError("The graph's output is not one row of class scores per image.")
    mean, std = _floats(meta.get("mean")), _floats(meta.get("std"))
    if mean is not None and std is not None and (len(mean) != channels or len(std) != channels or min(std) <= 0):
        mean = std = None
    return OnnxModel(module, channels, size, int(out.shape[1]), mean, std)


def onnx_file(
    module: nn.Module, channels: int, size: tuple[int, int], mean: tuple[float, ...], std: tuple[float, ...]
) -> bytes:
    """``module`` as an ONNX file that :func:`read_onnx` reads back (TorchScript-based exporter, opset 17), its
    preprocessing's ``mean`` and ``std`` in the metadata: e.g. a head trained on an uploaded graph, to download."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation notice and tracer warnings
        example = (torch.zeros(1, channels, *size),)  # (export writes to a file object too)
        torch.onnx.export(module, example, buffer, dynamo=False, opset_version=17)  # type: ignore[arg-type]
    model = onnx.load_from_string(buffer.getvalue())
    onnx.helper.set_model_props(model, {"mean": ", ".join(map(str, mean)), "std": ", ".join(map(str, std))})
    return model.SerializeToString()
