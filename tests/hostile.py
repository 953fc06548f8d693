"""Hostile model files, made on the fly: each one really attacks whoever loads it the unsafe way (the tests
show that too), and cnnviz must refuse it without running it or allocating what it asks for."""

from __future__ import annotations

import io
import os
import pathlib
import struct
import warnings
import zipfile
from pathlib import Path

import torch


def saved(obj) -> bytes:
    """``torch.save(obj)`` as bytes."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


class WriteMarker:
    """Unpickling this runs ``touch marker``: a pickle that writes a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class ReadFile:
    """Unpickling this reads ``path`` into the loaded object: a pickle that steals a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (pathlib.Path.read_bytes, (pathlib.Path(self.path),))


def pickle_attack(marker: Path, secret: Path) -> bytes:
    """A state dict whose pickle writes ``marker`` and reads ``secret`` when loaded without weights_only."""
    return saved({"conv1.weight": torch.zeros(1), "write": WriteMarker(marker), "read": ReadFile(secret)})


OVERWRITTEN = b"!" * 8
"""What :func:`torchscript_attack` writes over the first bytes of its victim file."""


class _FileAttack(torch.nn.Module):
    """A classifier whose forward overwrites the start of ``victim`` (``torch.from_file(shared=True)`` maps a
    file for writing) and returns the bytes of ``secret`` as its class scores (``shared=False`` reads any file)."""

    def __init__(self, victim: str, secret: str, secret_size: int) -> None:
        super().__init__()
        self.victim, self.secret, self.secret_size = victim, secret, secret_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        written = torch.from_file(self.victim, shared=True, size=8, dtype=torch.uint8)
        written.fill_(33)
        stolen = torch.from_file(self.secret, shared=False, size=self.secret_size, dtype=torch.uint8)
        return stolen.float()[None] + (x.sum() + written.sum()) * 0


def torchscript_attack(victim: Path, secret: Path) -> bytes:
    """A TorchScript archive of :class:`_FileAttack` (``victim`` must exist and hold at least 8 bytes): a
    program, which runs when its forward is called."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated, and still runs
        module = torch.jit.script(_FileAttack(str(victim), str(secret), secret.stat().st_size))
        buffer = io.BytesIO()
        torch.jit.save(module, buffer)
    return buffer.getvalue()


def run_torchscript_unsafely(data: bytes) -> torch.Tensor:
    """What a server that accepted TorchScript did: load the program and run it on an image."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        module = torch.jit.load(io.BytesIO(data))
    return module(torch.zeros(1, 3, 8, 8))


def compressed_state_dict(numel: int = 300_000_000) -> bytes:
    """A real ``torch.save`` state dict of ``numel`` float zeros whose records are deflate-compressed: a few
    megabytes on disk, ``4 × numel`` bytes once loaded (torch reads compressed zip records)."""
    plain = saved({"fc.weight": torch.zeros(numel)})
    source = zipfile.ZipFile(io.BytesIO(plain))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as packed:
        for info in source.infolist():
            packed.writestr(info.filename, source.read(info.filename))
    return out.getvalue()


def overlapping_records(copies: int = 50) -> bytes:
    """A ``torch.save`` file whose central directory lists its tensor record ``copies`` more times under other
    names, all pointing at the same bytes: the records claim far more memory than the file holds."""
    data = saved({"fc.weight": torch.zeros(10_000)})
    end = data.rindex(b"PK\x05\x06")
    count, size, offset = struct.unpack("<HII", data[end + 10 : end + 20])
    directory = data[offset : offset + size]
    records, position = [], 0
    while position < len(directory):
        name_length, extra_length, comment_length = struct.unpack("<HHH", directory[position + 28 : position + 34])
        length = 46 + name_length + extra_length + comment_length
        records.append(directory[position : position + length])
        position += length
    tensor = next(r for r in records if r[46 : 46 + struct.unpack("<H", r[28:30])[0]].endswith(b"data/0"))
    name_end = 46 + struct.unpack("<H", tensor[28:30])[0]
    extra = [tensor[: name_end - 1] + bytes([65 + i % 26]) + tensor[name_end:] for i in range(copies)]
    new_directory = directory + b"".join(extra)
    tail = data[end : end + 8] + struct.pack("<HHII", count + copies, count + copies, len(new_directory), offset)
    return data[:offset] + new_directory + tail + data[end + 20 :]
