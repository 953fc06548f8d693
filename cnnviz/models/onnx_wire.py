"""An ONNX file's protobuf read without its large tensors' bytes: where each one lies in the file, and the file
rewritten without them (the graph's structure, small enough to parse).

Parsing a whole ONNX file makes a second copy of it in memory; the tensors read out of that copy then make a
third. Here the structure alone is parsed and each large tensor is copied once, straight out of the uploaded
bytes: loading holds the file, its tensors and a bounded structure, nothing more.

The wire format (https://protobuf.dev/programming-guides/encoding/) is walked only along the fields where
tensors lie: a model's ``graph`` (field 7), a graph's ``initializer`` (5) and ``node`` (1), a node's
``attribute`` (5), an attribute's ``t`` (5), a tensor's ``raw_data`` (9). Every other field is copied as it is,
for protobuf itself to parse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

MAX_STRUCTURE_BYTES = 16 * 1024 * 1024
"""What is left of a file without its large tensors' bytes: operations, names, shapes, metadata."""
KEEP_BELOW = 64 * 1024
"""A tensor's bytes up to this size stay in the structure (a Reshape's shape: ONNX's shape inference reads it)."""
MAX_NODES = 5_000
MAX_ATTRIBUTES = 100_000

_GRAPH, _INITIALIZER, _NODE, _ATTRIBUTE, _TENSOR, _RAW = 7, 5, 1, 5, 5, 9


class Unreadable(ValueError):
    """Bytes that are not a well-formed protobuf along the walked fields, or past a bound (the reason)."""


@dataclass(frozen=True)
class Place:
    """Where a tensor's bytes lie in the file: ``offset`` and ``length``."""

    offset: int
    length: int


@dataclass
class Split:
    """The file without its large tensors' bytes, and where they lie: by initializer index (over the whole
    model, in order) and by (node index, attribute index)."""

    structure: bytes
    initializers: dict[int, Place]
    attributes: dict[tuple[int, int], Place]


def _varint(data: memoryview, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise Unreadable("This is not a readable ONNX file (truncated, or not a model).")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def _fields(data: memoryview, start: int, end: int) -> Iterator[tuple[int, int, int, int, int]]:
    """(field number, wire type, where the field starts, where its value starts, where it ends) of each field."""
    pos = start
    while pos < end:
        first = pos
        key, pos = _varint(data, pos, end)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, stop = _varint(data, pos, end)
        elif wire == 1:
            stop = pos + 8
        elif wire == 5:
            stop = pos + 4
        elif wire == 2:
            length, pos = _varint(data, pos, end)
            stop = pos + length
        else:  # (groups: not in ONNX's messages)
            raise Unreadable("This is not a readable ONNX file (truncated, or not a model).")
        if stop > end or number == 0:
            raise Unreadable("This is not a readable ONNX file (truncated, or not a model).")
        yield number, wire, first, pos, stop
        pos = stop


def _bounded(out: bytearray, adding: int) -> None:
    """Refuse before the structure would grow past :data:`MAX_STRUCTURE_BYTES` (nothing more is copied)."""
    if len(out) + adding > MAX_STRUCTURE_BYTES:
        raise Unreadable(
            "Besides its tensors the file holds more than "
            f"{MAX_STRUCTURE_BYTES // 2**20} MiB (operations, names, metadata); that is not accepted."
        )


class _Walk:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.initializers: dict[int, Place] = {}
        self.attributes: dict[tuple[int, int], Place] = {}
        self.initializer_count = self.node_count = self.attribute_count = 0

    def message(self, start: int, end: int, inner: dict[int, Callable[[int, int], bytes]]) -> bytes:
        """The message in ``data[start:end]``, rewritten: each field in ``inner`` by its handler."""
        out = bytearray()
        for number, wire, first, value, stop in _fields(self.data, start, end):
            handler = inner.get(number) if wire == 2 else None
            if handler is None:
                _bounded(out, stop - first)
                out += self.data[first:stop]
            else:
                rewritten = handler(value, stop)
                _bounded(out, len(rewritten) + 10)
                out += _encode_varint(number << 3 | 2) + _encode_varint(len(rewritten)) + rewritten
        return bytes(out)

    def tensor(self, start: int, end: int) -> tuple[bytes, Place | None]:
        """A tensor without its raw bytes when they are large, and where those lie (the last ``raw_data``
        field wins, as protobuf reads it)."""
        place = None
        out = bytearray()
        for number, wire, first, value, stop in _fields(self.data, start, end):
            if number == _RAW and wire == 2:
                place = Place(value, stop - value)
            else:
                _bounded(out, stop - first)
                out += self.data[first:stop]
        if place is not None and place.length <= KEEP_BELOW:  # kept: written back as the one raw_data field
            out += _encode_varint(_RAW << 3 | 2) + _encode_varint(place.length)
            out += self.data[place.offset : place.offset + place.length]
            place = None
        return bytes(out), place

    def initializer(self, start: int, end: int) -> bytes:
        rewritten, place = self.tensor(start, end)
        if place is not None:
            self.initializers[self.initializer_count] = place
        self.initializer_count += 1
        return rewritten

    def node(self, start: int, end: int) -> bytes:
        index = self.node_count
        self.node_count += 1
        if self.node_count > MAX_NODES:
            raise Unreadable(f"The graph has more than {MAX_NODES} operations; at most {MAX_NODES} are accepted.")
        attribute = 0

        def one_attribute(a_start: int, a_end: int) -> bytes:
            nonlocal attribute
            self.attribute_count += 1
            if self.attribute_count > MAX_ATTRIBUTES:
                raise Unreadable("The graph's operations have too many attributes.")
            key = (index, attribute)
            attribute += 1

            def tensor(t_start: int, t_end: int) -> bytes:
                rewritten, place = self.tensor(t_start, t_end)
                if place is not None:
                    self.attributes[key] = place
                return rewritten

            return self.message(a_start, a_end, {_TENSOR: tensor})

        return self.message(start, end, {_ATTRIBUTE: one_attribute})

    def graph(self, start: int, end: int) -> bytes:
        return self.message(start, end, {_INITIALIZER: self.initializer, _NODE: self.node})


def split(data: bytes) -> Split:
    """``data`` (an ONNX model) without the raw bytes of its initializers and tensor attributes larger than
    :data:`KEEP_BELOW`, and where those lie.

    Raises:
        Unreadable: malformed along the walked fields, more than :data:`MAX_NODES` operations, or a structure
            over :data:`MAX_STRUCTURE_BYTES`.
    """
    walk = _Walk(data)
    structure = walk.message(0, len(data), {_GRAPH: walk.graph})
    return Split(structure, walk.initializers, walk.attributes)
