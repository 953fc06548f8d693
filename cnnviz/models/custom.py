"""Bring your own model: weights for one of the registry's torchvision architectures, any of timm's image models
by name, or a TinyVGG with the embedded model's layers reading its channels' averages (what the transfer page
saves), as a safetensors file (recommended) or a ``torch.save`` state dict.

Uploaded files are hostile until proven otherwise, so nothing in them is ever executed and every size is
checked before anything is allocated:

- safetensors files are a JSON header plus raw numbers: there is nothing to execute. The header's dtypes
  and shapes are checked against the architecture before a single tensor is read.
- ``torch.save`` files load with ``torch.load(weights_only=True)``, which only rebuilds tensors and plain
  containers and refuses any other class or function. Only the zip format is accepted, with every record
  stored uncompressed, so the tensors cannot take more memory than the file itself (a compressed record
  could inflate a few megabytes into gigabytes). TorchScript archives are programs and are refused unread.
- The network is first built on PyTorch's ``meta`` device, which allocates nothing, so a class count that
  would make it too large is refused before any memory is spent on it.
- Whatever is wrong with a file, the only exception is :class:`ModelFileError` with a reason: a safetensors header
  is parsed only after its nesting depth is checked, and every entry's dtype, shape and byte range is checked
  against the file; a ``torch.save`` file's tensors must be dense, unquantized, in memory (not ``meta``),
  contiguous and not overlapping one another. The dtype rule: a floating tensor (16, 32 or 64 bit) fills a
  floating parameter and is converted to its dtype, an integer tensor fills an integer buffer (batch norm's
  ``num_batches_tracked``); anything else (bool, complex, an integer weight) is refused, and so is a NaN or an
  infinity, naming the tensor.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import math
import pickle
import re
import struct
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import safetensors
import safetensors.torch
import timm
import torch
import torchvision
from torch import nn

from cnnviz.models import registry
from cnnviz.models.embedded import embedded_card, embedded_config
from cnnviz.models.onnx_files import OnnxFileError, read_onnx
from cnnviz.models.registry import (
    MAX_LABEL,
    TORCHVISION_MODELS,
    LoadedModel,
    ModelSpec,
    default_weights,
    with_weights_preprocessing,
)
from cnnviz.models.tinyvgg import TINYVGG, TinyVGG

MAX_MODEL_BYTES = 200 * 1024 * 1024
"""Largest model file accepted, and the largest network that may be built for one (200 MiB of parameters:
resnet50's 98 MiB fit; vgg16's 528 MiB and alexnet's 233 MiB do not)."""

MAX_HEADER_BYTES = 8 * 1024 * 1024
"""Largest safetensors header or ``data.pkl`` accepted (resnet50's are 30 KiB and 60 KiB)."""

MAX_HEADER_DEPTH = 4
"""Deepest nesting of lists and tables a safetensors header may have (a real one has 3: table, entry, shape)."""

MAX_DIMENSIONS = 8
"""Most dimensions a tensor may have (the architectures' have at most 4)."""

MAX_CLASSES = 100_000
"""Largest class count that may be asked for (the parameter budget usually refuses far fewer)."""

LEGACY_MESSAGE = (
    "This file is in the format of PyTorch before 1.6, which is not accepted (it declares its sizes before "
    "they can be checked). Save the state dict again with a current PyTorch, or as safetensors."
)
NOT_A_MODEL = "This file is neither a safetensors file nor a PyTorch state dict"
_LEGACY_START = b"\x80\x02\x8a\x0a"  # pickle protocol 2, then the long magic number torch.save wrote before 1.6
_ZIP_START = b"PK\x03\x04"  # as a safetensors header length, 67 MB: more than any header may be


logger = logging.getLogger(__name__)

SAFETENSORS_DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
"""The safetensors dtypes whose sizes are known here; a header naming any other is refused."""
_FLOATING = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_INTEGER = (torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64)


class ModelFileError(ValueError):
    """The uploaded model cannot be used. The message is written for the user."""


def parse_class_names(text: str) -> tuple[str, ...]:
    """Class names typed one per line or separated by commas; blank entries are dropped."""
    separator = "\n" if "\n" in text.strip() else ","
    return tuple(name.strip() for name in text.split(separator) if name.strip())


def _mib(size: int) -> str:
    return f"{size / 2**20:.0f} MiB" if size >= 2**20 else f"{size / 2**10:.1f} KiB"


def _check_size(data: bytes) -> None:
    if not data:
        raise ModelFileError("The model file is empty.")
    if len(data) > MAX_MODEL_BYTES:
        raise ModelFileError(f"The model file is {_mib(len(data))}; the limit is {_mib(MAX_MODEL_BYTES)}.")


BUILT_IN_ARCHITECTURES = (*TORCHVISION_MODELS, TINYVGG)
"""The registry's torchvision architectures, and the embedded TinyVGG's layers with a head on their channels'
averages (``global_pool``), as the transfer page trains it."""
TIMM_PREFIX = "timm/"
"""How a timm architecture is named among :func:`architectures` (``timm/resnet18``: timm's, not torchvision's)."""


@functools.cache
def timm_architectures() -> tuple[str, ...]:
    """timm's image models by name (``timm.list_models()`` of the pinned timm), each with :data:`TIMM_PREFIX`."""
    return tuple(TIMM_PREFIX + name for name in timm.list_models())


@functools.cache
def timm_pretrained() -> frozenset[str]:
    """The timm architectures (with :data:`TIMM_PREFIX`) for which timm knows pretrained weights to fetch."""
    return frozenset(TIMM_PREFIX + name.split(".")[0] for name in timm.list_models(pretrained=True))


ONNX = "onnx"
"""The architecture of an uploaded ONNX file: the graph itself says what it is."""
ONNX_GRAPH = "ONNX graph"
"""The architecture an uploaded ONNX file's model card names (and a transfer model trained on one)."""
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def architectures() -> tuple[str, ...]:
    """What an uploaded file may hold: a built-in architecture, an ONNX graph, or any of timm's image models."""
    return (*BUILT_IN_ARCHITECTURES, ONNX, *timm_architectures())


def architecture_label(architecture: str) -> str:
    """How ``architecture`` (one of :func:`architectures`) is named to people."""
    if architecture == TINYVGG:
        return "TinyVGG (pooled head)"
    if architecture == ONNX:
        return "ONNX file (any architecture)"
    if architecture.startswith(TIMM_PREFIX):
        return f"{architecture.removeprefix(TIMM_PREFIX)} (timm)"
    return architecture


def _class_names(names: Sequence[str] | None, count: int) -> tuple[str, ...]:
    if not names:
        return tuple(f"class {i}" for i in range(count))
    if len(names) != count:
        raise ModelFileError(f"{len(names)} class names were given for a model with {count} classes.")
    return tuple(names)


def load_timm_pretrained(architecture: str) -> LoadedModel:
    """timm's ``architecture`` with the pretrained weights timm fetches for it (from the Hugging Face hub, read as
    safetensors or with ``torch.load(weights_only=True)`` by timm), its own classes and preprocessing.

    Raises:
        ModelFileError: not a timm architecture with pretrained weights, a network over the budget, or weights
            that cannot be fetched (this server offline, the hub unreachable): said in a sentence.
    """
    if architecture not in timm_pretrained():
        raise ModelFileError(f"timm has no pretrained weights for {architecture_label(architecture)}.")
    name = architecture.removeprefix(TIMM_PREFIX)
    with torch.device("meta"):  # its size at its own class count, before anything is fetched or allocated
        classes = int(getattr(timm.create_model(name, pretrained=False), "num_classes", 0) or 0)
    meta_network(architecture, max(classes, 1))
    try:
        module = timm.create_model(name, pretrained=True).eval()
    except Exception as exc:  # hub, network and file errors alike: the visitor gets the reason, the log the rest
        logger.warning("timm's pretrained weights for %s could not be fetched", name, exc_info=True)
        raise ModelFileError(
            f"timm's pretrained weights for {name} could not be fetched ({type(exc).__name__}): this server "
            "cannot reach the Hugging Face hub (offline?). Upload a state dict of the model instead."
        ) from exc
    names = registry.IMAGENET_CLASSES if classes == len(registry.IMAGENET_CLASSES) else _class_names(None, classes)
    spec = ModelSpec(f"timm-{uuid.uuid4().hex}", f"{name} (timm, pretrained)"[:MAX_LABEL], "session")
    return registry.with_timm_preprocessing(
        spec,
        name,
        module,
        names,
        None,
        "see timm's model card",
        f"timm's {name} with the pretrained weights timm fetched from the Hugging Face hub.",
    )


def meta_network(architecture: str, num_classes: int) -> nn.Module:
    """torchvision's ``architecture`` with ``num_classes`` outputs on the ``meta`` device: its tensors have shapes
    and dtypes but no memory, so its size is known before anything is allocated.

    Raises:
        ModelFileError: unknown architecture, a class count out of range, or a network over the budget.
    """
    if architecture not in BUILT_IN_ARCHITECTURES and architecture not in timm_architectures():
        shown = architecture if len(architecture) <= 60 else architecture[:59] + "…"
        raise ModelFileError(
            f"Unknown architecture {shown!r}; choose one of {', '.join(BUILT_IN_ARCHITECTURES)} or a timm model."
        )
    if not 1 <= num_classes <= MAX_CLASSES:
        raise ModelFileError(f"The number of classes must be between 1 and {MAX_CLASSES}.")
    network: nn.Module
    with torch.device("meta"):
        if architecture == TINYVGG:
            network = TinyVGG(**{**embedded_config(), "num_classes": num_classes, "global_pool": True})
        elif architecture.startswith(TIMM_PREFIX):
            name = architecture.removeprefix(TIMM_PREFIX)
            try:
                network = timm.create_model(name, pretrained=False, num_classes=num_classes)
            except Exception as exc:  # timm's own constructors: any of them may refuse a setting
                logger.warning("timm could not build %s with %d classes", name, num_classes, exc_info=True)
                raise ModelFileError(f"timm cannot build {name} with {num_classes} classes.") from exc
        else:
            network = torchvision.models.get_model(architecture, weights=None, num_classes=num_classes)
    size = sum(t.numel() * t.element_size() for t in network.state_dict().values())
    if size > MAX_MODEL_BYTES:
        raise ModelFileError(
            f"{architecture} with {num_classes} classes would hold {_mib(size)} of parameters; the limit is "
            f"{_mib(MAX_MODEL_BYTES)}. Choose fewer classes or a smaller architecture."
        )
    return network


def _strip_wrappers(loaded: object) -> dict[str, torch.Tensor]:
    """The state dict inside a checkpoint (``{"state_dict": ...}`` and the like), without ``module.`` prefixes."""
    if isinstance(loaded, Mapping):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(loaded.get(key), Mapping):
                loaded = loaded[key]
                break
    if not isinstance(loaded, Mapping) or not loaded or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise ModelFileError("The file does not hold a state dict (a mapping of parameter names to tensors).")
    return _strip_prefix({str(k): v for k, v in loaded.items()})


def _strip_prefix(table: dict[str, object]) -> dict:
    """Without DataParallel's ``module.`` prefix, when every name has it."""
    prefix = "module."
    if all(name.startswith(prefix) for name in table):
        return {name[len(prefix) :]: value for name, value in table.items()}
    return table


def _check_torch_zip(data: bytes) -> None:
    """Refuse a ``torch.save`` file whose records could take more memory than the file, or that is a program."""
    if not data.startswith(_ZIP_START):
        raise ModelFileError(LEGACY_MESSAGE if data.startswith(_LEGACY_START) else "This is not a PyTorch state dict.")
    try:
        entries = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ModelFileError("This file is not a PyTorch state dict saved with torch.save (a damaged zip).") from exc
    names = [entry.filename for entry in entries]
    if any(name.split("/", 1)[-1].startswith(("code/", "constants.pkl")) for name in names):
        raise ModelFileError(
            "This is a TorchScript file: TorchScript models are programs, and running an uploaded program could "
            "take over the server, so they are not accepted. Upload the model's state_dict() (safetensors or .pt)."
        )
    if any(entry.compress_type != zipfile.ZIP_STORED for entry in entries):
        raise ModelFileError("The file holds compressed records, which torch.save never writes; it is refused.")
    if sum(entry.file_size for entry in entries) > len(data):
        raise ModelFileError("The file's records claim more bytes than the file holds; it is refused.")
    pickles = [entry for entry in entries if entry.filename.endswith("data.pkl")]
    if len(pickles) != 1:
        raise ModelFileError("This file is not a PyTorch state dict saved with torch.save (no data.pkl).")
    if pickles[0].file_size > MAX_HEADER_BYTES:
        raise ModelFileError(f"The file's table of tensors is over {_mib(MAX_HEADER_BYTES)}; it is refused.")


def read_state_dict(data: bytes) -> dict[str, torch.Tensor]:
    """The tensors of a ``torch.save`` state dict (also inside a ``{"state_dict": ...}`` checkpoint, with
    DataParallel's ``module.`` prefixes removed). Never runs pickled code; never takes more memory than the file.

    Raises:
        ModelFileError: too large, not a zip-format ``torch.save`` file, TorchScript, compressed records, code or
            objects inside, or not a state dict.
    """
    _check_size(data)
    _check_torch_zip(data)
    try:
        loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "GLOBAL" not in str(exc):  # no class or function named inside: not a pickle at all
            raise ModelFileError("This file is not a PyTorch state dict saved with torch.save.") from exc
        raise ModelFileError(
            "The file contains Python objects or code, not only tensors, and is refused unread "
            "(loading it could run code). Save the model's state_dict() instead."
        ) from exc
    except Exception as exc:  # whatever a hostile file makes torch.load raise, the visitor gets a reason
        logger.debug("torch.load refused an upload", exc_info=True)
        raise ModelFileError("This file is not a PyTorch state dict saved with torch.save.") from exc
    state = _strip_wrappers(loaded)
    _check_storages(state)
    return state


def _check_storages(state: Mapping[str, torch.Tensor]) -> None:
    """Every tensor dense, unquantized, in CPU memory and contiguous within its storage, and no two sharing bytes
    (a view that repeats or overlaps storage could make one small file stand for far more memory)."""
    spans: dict[int, list[tuple[int, int, str]]] = {}
    for name, tensor in state.items():
        shown = name[:80]
        if tensor.layout != torch.strided:
            raise ModelFileError(f"The tensor {shown!r} is sparse; only dense tensors are accepted.")
        if tensor.is_quantized:
            raise ModelFileError(f"The tensor {shown!r} is quantized; only floating-point weights are accepted.")
        if tensor.device.type != "cpu":
            raise ModelFileError(f"The tensor {shown!r} holds no values (it is on the {tensor.device.type} device).")
        if not tensor.is_contiguous():
            raise ModelFileError(f"The tensor {shown!r} is not contiguous in its storage; save a plain state dict.")
        storage = tensor.untyped_storage()
        start = tensor.storage_offset() * tensor.element_size()
        end = start + tensor.numel() * tensor.element_size()
        if end > storage.nbytes():
            raise ModelFileError(f"The tensor {shown!r} reaches past its storage.")
        spans.setdefault(storage.data_ptr(), []).append((int(start), int(end), shown))
    for parts in spans.values():
        parts.sort()
        for (_, end, first), (start, _, second) in pairwise(parts):
            if start < end:
                raise ModelFileError(f"The tensors {first!r} and {second!r} overlap in one storage.")


def safetensors_header(data: bytes) -> dict[str, dict]:
    """The tensor table of a safetensors file (name -> dtype, shape, offsets), read without loading any tensor.

    Raises:
        ModelFileError: not a safetensors file, or a header too large.
    """
    _check_size(data)
    if len(data) < 8:
        raise ModelFileError(f"{NOT_A_MODEL} (too short).")
    (length,) = struct.unpack("<Q", data[:8])
    if length > min(MAX_HEADER_BYTES, len(data) - 8):
        raise ModelFileError(f"{NOT_A_MODEL}.")
    text = data[8 : 8 + length]
    if json_depth(text) > MAX_HEADER_DEPTH:
        raise ModelFileError(f"{NOT_A_MODEL} (its header is nested deeper than a safetensors header is).")
    try:
        header = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFileError(f"{NOT_A_MODEL} (a safetensors header must be JSON).") from exc
    if not isinstance(header, dict):
        raise ModelFileError(f"{NOT_A_MODEL} (a safetensors header must be a table).")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not (isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())):
        raise ModelFileError("The safetensors file's metadata must be a table of texts.")
    if not header:
        raise ModelFileError("The safetensors file holds no tensors.")
    _check_entries(header, len(data) - 8 - length)
    return header


def json_depth(text: bytes) -> int:
    """How deeply the lists and tables of the JSON ``text`` nest (counted without parsing it, so any depth is
    cheap to measure: the brackets outside strings, summed as they open and close)."""
    bare = re.sub(rb'"(?:[^"\\]|\\.)*"', b"", text)  # strings (with their escapes) hold no structure
    steps = np.frombuffer(bare, dtype=np.uint8)
    change = np.isin(steps, (ord("["), ord("{"))).astype(np.int64) - np.isin(steps, (ord("]"), ord("}")))
    return int(np.cumsum(change).max(initial=0))


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_entries(header: dict, body: int) -> None:
    """Every tensor entry names a known dtype, a shape of counts and the byte range its shape needs, inside the
    ``body`` bytes after the header; the ranges neither overlap nor leave gaps (as safetensors writes them)."""
    ranges = []
    for name, entry in header.items():
        shown = str(name)[:80]
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise ModelFileError(f"The safetensors entry {shown!r} is not a tensor's dtype, shape and offsets.")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in SAFETENSORS_DTYPES:
            raise ModelFileError(f"The tensor {shown!r} has the dtype {str(dtype)[:20]!r}, which is not accepted.")
        if not (isinstance(shape, list) and len(shape) <= MAX_DIMENSIONS and all(map(_is_count, shape))):
            raise ModelFileError(f"The tensor {shown!r} has no valid shape.")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_count, offsets))):
            raise ModelFileError(f"The tensor {shown!r} has no valid byte range.")
        begin, end = offsets
        size = math.prod(shape) * SAFETENSORS_DTYPES[dtype].itemsize
        if not begin <= end <= body or end - begin != size:
            raise ModelFileError(f"The tensor {shown!r}'s byte range does not fit its shape or the file.")
        ranges.append((begin, end))
    ranges.sort()
    if ranges[0][0] != 0 or ranges[-1][1] != body or any(a[1] != b[0] for a, b in pairwise(ranges)):
        raise ModelFileError("The safetensors file's tensors overlap or leave bytes unaccounted for.")


def read_safetensors(
    data: bytes, expected: Mapping[str, torch.Tensor] | None = None, what: str = "the model"
) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; with ``expected``, names and shapes are checked against it before
    any tensor is read.

    Raises:
        ModelFileError: not a safetensors file, or tensors that do not fit ``expected``.
    """
    header = safetensors_header(data)
    if expected is not None:
        _check_fit(_strip_prefix({name: tuple(entry["shape"]) for name, entry in header.items()}), expected, what)
    try:
        loaded = safetensors.torch.load(data)
    except (safetensors.SafetensorError, ValueError, RuntimeError, TypeError) as exc:
        raise ModelFileError(f"This safetensors file is damaged: {str(exc)[:200]}") from exc
    return _strip_wrappers(loaded)


def _check_fit(shapes: Mapping[str, tuple[int, ...]], expected: Mapping[str, torch.Tensor], what: str) -> None:
    missing = [k for k in expected if k not in shapes]
    unexpected = [k for k in shapes if k not in expected]
    wrong = [
        f"{k}: {list(shapes[k])} instead of {list(expected[k].shape)}"
        for k in expected
        if k in shapes and tuple(shapes[k]) != tuple(expected[k].shape)
    ]
    problems = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
        if items:
            shown = ", ".join(items[:4]) + (f" and {len(items) - 4} more" if len(items) > 4 else "")
            problems.append(f"{label}: {shown}")
    if problems:
        raise ModelFileError(f"These weights do not fit {what}: " + "; ".join(problems)[:600])


def fill_network(network: nn.Module, state: Mapping[str, torch.Tensor], what: str) -> nn.Module:
    """``network`` (from :func:`meta_network`) holding exactly the tensors of ``state``, converted to its dtypes.
    The tensors are assigned, so no memory is spent on an initialisation that would be overwritten.

    Raises:
        ModelFileError: tensors that do not fit (``what`` names the network in the message).
    """
    expected = network.state_dict()
    _check_fit({k: tuple(v.shape) for k, v in state.items()}, expected, what)
    for name, wanted in expected.items():
        check_values(name, state[name], wanted.dtype)
    network.load_state_dict({k: state[k].to(expected[k].dtype).contiguous() for k in expected}, assign=True)
    return network


def check_values(name: str, tensor: torch.Tensor, wanted: torch.dtype) -> None:
    """The dtype rule (a floating tensor for a floating parameter, an integer one for an integer buffer) and, for
    floating tensors, no NaN or infinity.

    Raises:
        ModelFileError: naming the tensor.
    """
    shown = name[:80]
    kinds = _FLOATING if wanted.is_floating_point else _INTEGER
    if tensor.dtype not in kinds:
        kind = "floating-point" if wanted.is_floating_point else "integer"
        raise ModelFileError(
            f"The tensor {shown!r} is {str(tensor.dtype).removeprefix('torch.')}; {kind} values are needed there."
        )
    if tensor.dtype.is_floating_point and not bool(torch.isfinite(tensor).all()):
        raise ModelFileError(f"The tensor {shown!r} holds NaN or infinite values.")


def upload_label(file_name: str, architecture: str) -> str:
    """``"<file stem> · <architecture>"``, the stem cut so the label fits the sidebar (:data:`MAX_LABEL`)."""
    stem, room = Path(file_name).stem, max(4, MAX_LABEL - 3 - len(architecture))
    return f"{stem if len(stem) <= room else stem[: room - 1] + '…'} · {architecture}"


def parse_numbers(text: str, what: str) -> tuple[float, ...]:
    """Numbers typed separated by commas (or spaces), e.g. a mean per channel: finite, at most four.

    Raises:
        ModelFileError: naming ``what`` and what is wrong.
    """
    parts = text.replace(",", " ").split()
    try:
        values = tuple(float(v) for v in parts)
    except ValueError:
        raise ModelFileError(f"The {what} should be numbers separated by commas, e.g. 0.485, 0.456, 0.406.") from None
    if not 1 <= len(values) <= 4 or not all(math.isfinite(v) for v in values):
        raise ModelFileError(f"The {what} should be one finite number per input channel (1 or 3).")
    return values


@dataclass(frozen=True)
class OnnxPreprocessing:
    """How to feed an uploaded ONNX graph where it does not say: per-channel mean and std (None: ImageNet's for a
    colour graph, 0.5 for a grey one) and the input size for a graph whose height and width are free."""

    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    input_size: tuple[int, int] = (224, 224)

    def __post_init__(self) -> None:
        if (self.mean is None) != (self.std is None):
            raise ModelFileError("Give both a mean and a std per channel, or neither.")
        if self.std is not None and min(self.std) <= 0:
            raise ModelFileError("Each channel's std should be above 0.")
        if not all(MIN_INPUT_SIDE <= side <= MAX_INPUT_SIDE for side in self.input_size):
            raise ModelFileError(f"The input size should be {MIN_INPUT_SIDE} to {MAX_INPUT_SIDE} pixels.")


MIN_INPUT_SIDE, MAX_INPUT_SIDE = 8, 1024


def _load_onnx(
    data: bytes,
    num_classes: int | None,
    class_names: Sequence[str] | None,
    file_name: str,
    given: OnnxPreprocessing,
) -> LoadedModel:
    try:
        graph = read_onnx(data, given.input_size)
    except OnnxFileError as exc:
        raise ModelFileError(str(exc)) from exc
    if num_classes is not None and num_classes != graph.classes:
        raise ModelFileError(f"The graph gives {graph.classes} classes, not {num_classes}.")
    names = _class_names(class_names, graph.classes)
    if class_names is None and graph.classes == len(registry.IMAGENET_CLASSES):
        names = registry.IMAGENET_CLASSES
    if graph.mean is not None and graph.std is not None:
        mean, std, said = graph.mean, graph.std, "its metadata's"
    elif given.mean is not None and given.std is not None:
        if len(given.mean) != graph.channels or len(given.std) != graph.channels:
            raise ModelFileError(
                f"The graph takes {graph.channels} channel{'s' if graph.channels > 1 else ''}: give "
                f"{graph.channels} mean{'s' if graph.channels > 1 else ''} and as many stds."
            )
        mean, std, said = given.mean, given.std, "the given"
    elif graph.channels == 3:
        mean, std, said = IMAGENET_MEAN, IMAGENET_STD, "ImageNet's"
    else:
        mean, std, said = (0.5,) * graph.channels, (0.5,) * graph.channels, "0.5 and 0.5 as"
    spec = ModelSpec(f"upload-{uuid.uuid4().hex}", upload_label(file_name, "ONNX"), "session")
    return registry.with_plain_preprocessing(
        spec,
        ONNX_GRAPH,
        graph.module,
        tuple(mean),
        tuple(std),
        graph.input_size or given.input_size,
        names,
        f"An ONNX graph uploaded in this session ({file_name}), converted to PyTorch; normalised with {said} "
        "mean and std.",
    )


def load_uploaded_model(
    data: bytes,
    architecture: str,
    num_classes: int | None,
    class_names: Sequence[str] | None = None,
    file_name: str = "uploaded model",
    *,
    onnx_preprocessing: OnnxPreprocessing | None = None,
) -> LoadedModel:
    """A torchvision ``architecture`` with ``num_classes`` outputs and the uploaded weights (a safetensors file
    or a ``torch.save`` state dict, told apart by their first bytes), preprocessed as torchvision's ImageNet
    weights for it are (the transforms need no download). For ``architecture`` :data:`ONNX` the file is a graph
    (:func:`cnnviz.models.onnx_files.read_onnx`): its metadata's mean and std, else ``onnx_preprocessing``'s,
    else ImageNet's; its input size, else ``onnx_preprocessing``'s.

    Raises:
        ModelFileError: unknown architecture, bad class count or names, a network over the budget, an unreadable
            or hostile file, or weights that do not fit the architecture.
    """
    _check_size(data)
    if architecture == ONNX:  # the class count is read from the graph (and must agree when given)
        return _load_onnx(data, num_classes, class_names, file_name, onnx_preprocessing or OnnxPreprocessing())
    if num_classes is None:
        raise ModelFileError("Say how many classes the model has.")
    network = meta_network(architecture, num_classes)  # refuses a too-large network before reading anything
    what = f"{architecture_label(architecture)} with {num_classes} classes"
    timm_model = architecture.startswith(TIMM_PREFIX)
    weights = None if architecture == TINYVGG or timm_model else default_weights(architecture)
    if class_names:
        names = _class_names(class_names, num_classes)
    elif weights is not None and num_classes == len(weights.meta["categories"]):
        names = tuple(weights.meta["categories"])
    elif timm_model and num_classes == len(registry.IMAGENET_CLASSES):  # timm's classifiers are ImageNet-1k's
        names = registry.IMAGENET_CLASSES
    else:
        names = _class_names(None, num_classes)
    if data.startswith((_ZIP_START, _LEGACY_START)):  # torch.save's zip format, or its pre-1.6 format
        state = read_state_dict(data)
    else:
        state = read_safetensors(data, network.state_dict(), what)
    module = fill_network(network, state, what)
    label = architecture.removeprefix(TIMM_PREFIX)
    spec = ModelSpec(f"upload-{uuid.uuid4().hex}", upload_label(file_name, label), "session")
    if timm_model:
        return registry.with_timm_preprocessing(
            spec,
            label,
            module,
            names,
            None,
            "unknown: uploaded weights",
            f"timm's {label} with weights uploaded in this session ({file_name}), fed as timm's configuration for "
            "it prescribes (input size, mean, std, crop).",
        )
    if weights is None:
        card = embedded_card()  # preprocessed as the embedded model is: its card says how, no weights are loaded
        return registry.synthetic_model(
            spec,
            module,
            tuple(card["mean"]),
            tuple(card["std"]),
            None,
            "unknown: uploaded weights",
            f"A TinyVGG with weights uploaded in this session ({file_name}).",
            input_size=tuple(card["input_size"]),
            classes=names,
        )
    description = f"torchvision's {architecture} with weights uploaded in this session ({file_name})."
    return with_weights_preprocessing(
        spec, architecture, module, weights, names, None, "unknown: uploaded weights", description
    )
