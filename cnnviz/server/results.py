"""Results shared by every session of the server: bounded in count and in bytes, least recently used dropped first.

The pages keep the explanations, curves and optimised images they computed here rather than in each session's
state, keyed by what they were computed from (the model's key, the image's content digest, the method, class,
layer …), so that going back to a result is instant for everyone and an extra session costs no copies. Session
models have keys of their own (``upload-<uuid>``), so their results are never served to another session.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

import numpy as np
from PIL import Image
from torch import Tensor

T = TypeVar("T")

RESULT_ENTRIES = 64
"""The most results one store keeps."""
RESULT_BYTES = 32 * 2**20
"""The most bytes of arrays one store keeps (a resnet18 explanation is 0.2–0.4 MB)."""


def footprint(value: Any) -> int:
    """The bytes of the arrays, tensors and images ``value`` holds (in dataclasses, tuples, lists and dicts)."""
    if isinstance(value, Tensor):
        return value.element_size() * value.nelement()
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, Image.Image):
        return value.width * value.height * len(value.getbands())
    if isinstance(value, bytes | bytearray):
        return len(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(footprint(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, dict):
        return sum(footprint(v) for v in value.values())
    if isinstance(value, tuple | list):
        return sum(footprint(v) for v in value)
    return 0


class SharedResults(Generic[T]):
    """A thread-safe store of results, at most ``max_entries`` of them and ``max_bytes`` (:func:`footprint`) in all.

    A result larger than the whole budget is not kept. Reads and writes hold the lock only to look up or to
    insert: the work that makes a result runs outside it (two sessions asking at once may both compute it)."""

    def __init__(self, max_entries: int = RESULT_ENTRIES, max_bytes: int = RESULT_BYTES) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._items: OrderedDict[Hashable, tuple[T, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> T | None:
        """The result kept for ``key`` (now the most recently used), or None."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def put(self, key: Hashable, value: T) -> T:
        """Keep ``value`` for ``key``, dropping the least recently used results past the budget; returns ``value``."""
        size = footprint(value)
        with self._lock:
            if key in self._items:
                self._bytes -= self._items.pop(key)[1]
            if size <= self.max_bytes:
                self._items[key] = (value, size)
                self._bytes += size
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                self._bytes -= self._items.popitem(last=False)[1][1]
        return value

    def get_or_make(self, key: Hashable, make: Callable[[], T]) -> T:
        """The result kept for ``key``, else ``make()``'s, kept from now on (made outside the lock)."""
        found = self.get(key)
        return found if found is not None else self.put(key, make())

    @property
    def nbytes(self) -> int:
        """The bytes kept now."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


_STORES: dict[str, SharedResults[Any]] = {}
_STORES_LOCK = threading.Lock()


def store(name: str) -> SharedResults[Any]:
    """The server's store called ``name`` (one per kind of result), made on first use."""
    with _STORES_LOCK:
        return _STORES.setdefault(name, SharedResults())


def clear_all() -> None:
    """Empty every store (tests that swap a model's weights under the same key start clean)."""
    with _STORES_LOCK:
        for kept in _STORES.values():
            kept.clear()
