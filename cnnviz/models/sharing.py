"""Shared models are shared state: one lock per model, one guard (:func:`in_use`) that leaves a model exactly as
found, and private copies (:func:`borrowed`) for long work, so the shared model's lock is held only for short work
(a prediction, a Grad-CAM) and the time of copying, and no session waits behind another's long computation."""

from __future__ import annotations

import copy
import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import torch
import torch.utils.hooks
from torch import nn

logger = logging.getLogger(__name__)
_locks: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def model_lock(model: nn.Module) -> threading.RLock:
    """The one re-entrant lock of ``model``: hold it while running it, hooking it or touching its grads."""
    with _locks_guard:
        lock = _locks.get(model)
        if lock is None:
            lock = _locks[model] = threading.RLock()
        return lock


def _tree(model: nn.Module) -> tuple[list[nn.Module], list[nn.Parameter]]:
    """Every module of ``model`` (itself included) and every parameter, each once, in no particular order: what
    ``model.modules()`` and ``model.parameters()`` give, in one walk of the module tables (a Grad-CAM's guard
    walked the tree twice through PyTorch's generators, about 1 ms of EfficientNet-Lite0's 20 ms forward; this
    walk takes about 0.13 ms)."""
    found: dict[int, nn.Module] = {id(model): model}
    params: dict[int, nn.Parameter] = {}
    stack = [model]
    while stack:
        tables = stack.pop().__dict__
        for p in tables["_parameters"].values():
            if p is not None:
                params[id(p)] = p
        for child in tables["_modules"].values():
            if child is not None and id(child) not in found:
                found[id(child)] = child
                stack.append(child)
    return list(found.values()), list(params.values())


@contextmanager
def in_use(model: nn.Module, grad: bool = False, out_of_place: bool = False) -> Iterator[nn.Module]:
    """The one guard for running ``model``: its lock held, eval mode, no parameter requiring grad, autograd only
    when ``grad`` (for gradients with respect to the *input* or a hooked layer's output), and with
    ``out_of_place`` every in-place ReLU made out-of-place (backward hooks, as captum's, need that). Afterwards,
    even when the block fails, every module's mode and ``inplace`` flag and every parameter's ``requires_grad``
    and ``.grad`` are as they were, and any hook registered inside the block that is still there is removed."""
    with model_lock(model):
        modules, params = _tree(model)
        modes = {m: m.training for m in modules}
        # (a plain attribute where a module has it: looking it up on the others raised inside Module.__getattr__)
        inplace = {m: flag for m in modes if isinstance(flag := m.__dict__.get("inplace"), bool)}
        requires = [p.requires_grad for p in params]
        grads = [None if p.grad is None else p.grad.detach().clone() for p in params]
        first_new_hook = _next_hook_id()
        try:
            for module in modes:
                if module.training:  # (a module's setattr is slow: only where it changes; shared models are in eval)
                    module.training = False
            for p in params:
                if p.requires_grad:
                    p.requires_grad_(False)
            if out_of_place:
                for module in inplace:
                    setattr(module, "inplace", False)  # noqa: B010 - a module's attributes type as Tensor | Module
            with torch.set_grad_enabled(grad):
                yield model
        finally:
            for module, mode in modes.items():
                if module.training != mode:
                    module.training = mode
            for module, was_inplace in inplace.items():
                if module.__dict__.get("inplace") is not was_inplace:
                    setattr(module, "inplace", was_inplace)  # noqa: B010 - as above
            with torch.no_grad():
                for p, flag, grad_before in zip(params, requires, grads, strict=True):
                    if p.requires_grad != flag:
                        p.requires_grad_(flag)
                    if p.grad is not grad_before:
                        p.grad = grad_before
            if _next_hook_id() != first_new_hook:  # a hook was registered somewhere meanwhile: any left here go
                for module in modes:
                    tables = module.__dict__
                    if (  # (most modules have none: a look at the four tables, not a call, for each)
                        tables.get("_forward_hooks")
                        or tables.get("_forward_pre_hooks")
                        or tables.get("_backward_hooks")
                        or tables.get("_backward_pre_hooks")
                    ):
                        _remove_hooks_from(module, first_new_hook)


ModuleT = TypeVar("ModuleT", bound=nn.Module)


def freeze(model: ModuleT) -> ModuleT:
    """Eval mode and no parameter requiring grad: how every shared model is kept."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


_HOOK_DICTS = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks_with_kwargs",
)


def _next_hook_id() -> int:
    """The id PyTorch gives the next hook registered anywhere: hook ids come from one counter and only grow
    (``torch.utils.hooks.RemovableHandle.next_id``), so the hooks registered since a moment are those from its
    value then on."""
    return int(torch.utils.hooks.RemovableHandle.next_id)


def _remove_hooks_from(module: nn.Module, first: int) -> None:
    """Remove every hook of ``module`` registered since the counter stood at ``first``."""
    tables = module.__dict__
    for name in _HOOK_DICTS[:4]:
        hooks = tables.get(name)
        if not hooks:
            continue
        for hook_id in [k for k in hooks if k >= first]:
            hooks.pop(hook_id, None)
            for extra in _HOOK_DICTS[4:]:
                tables.get(extra, {}).pop(hook_id, None)


def model_bytes(model: nn.Module) -> int:
    """The memory a copy of ``model`` takes: its parameters and buffers."""
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


def _signature(model: nn.Module) -> tuple[int, ...]:
    """Changes whenever a parameter or buffer of ``model`` is written in place (a training step), so a copy made
    before is known to be stale."""
    return tuple(t._version for t in (*model.parameters(), *model.buffers()))


@dataclass
class _Copies:
    model: weakref.ReferenceType[nn.Module]
    signature: tuple[int, ...]
    free: list[nn.Module] = field(default_factory=list)
    each: int = 0  # bytes of one copy


class CopyPool:
    """Private, frozen copies of shared models for long work, kept for the next caller: a borrowed copy is one
    caller's alone (no lock is shared with anyone), and given back afterwards. Free copies are kept while they
    take at most ``max_kept_bytes`` in all, the least recently used model's dropped first; how many are borrowed
    at once is bounded by the work queue that runs the long work (:data:`cnnviz.server.jobs.COMPUTATIONS`)."""

    def __init__(self, max_kept_bytes: int) -> None:
        self.max_kept_bytes = max_kept_bytes
        self._guard = threading.Lock()
        self._pools: OrderedDict[int, _Copies] = OrderedDict()  # by id(model), least recently used first

    @contextmanager
    def borrow(self, model: nn.Module) -> Iterator[nn.Module]:
        """A private copy of ``model`` for the block (one kept from before, or a new one, copied under the shared
        model's lock: the only moment the shared model is held)."""
        signature = _signature(model)
        own = None
        with self._guard:
            pool = self._pools.get(id(model))
            if pool is not None and pool.model() is model and pool.signature == signature and pool.free:
                own = pool.free.pop()
                self._pools.move_to_end(id(model))
        if own is None:
            with model_lock(model):
                own = freeze(copy.deepcopy(model))
            logger.debug("a private copy of a %s (%d MiB)", type(model).__name__, model_bytes(own) >> 20)
        try:
            yield own
        finally:
            self._give_back(model, signature, own)

    def _give_back(self, model: nn.Module, signature: tuple[int, ...], own: nn.Module) -> None:
        with self._guard:
            pool = self._pools.get(id(model))
            if pool is None or pool.model() is not model or pool.signature != signature:
                pool = self._pools[id(model)] = _Copies(weakref.ref(model), signature, each=model_bytes(own))
            pool.free.append(own)
            self._pools.move_to_end(id(model))
            while self.kept_bytes() > self.max_kept_bytes:
                key, oldest = next(iter(self._pools.items()))
                if oldest.free:
                    oldest.free.pop(0)
                if not oldest.free:
                    del self._pools[key]
            for key in [k for k, p in self._pools.items() if p.model() is None]:  # models no longer loaded
                del self._pools[key]

    def kept_bytes(self) -> int:
        """The memory the free copies take now."""
        return sum(len(pool.free) * pool.each for pool in self._pools.values())

    def clear(self) -> None:
        with self._guard:
            self._pools.clear()


MAX_KEPT_COPY_BYTES = 512 * 1024 * 1024
"""Free private copies kept for the next long computation: resnet50 (98 MiB) twice over for each of two models."""
COPIES = CopyPool(MAX_KEPT_COPY_BYTES)


def borrowed(model: nn.Module) -> AbstractContextManager[nn.Module]:
    """A private copy of the shared ``model`` for long work (``with borrowed(model) as own: ...``); see
    :class:`CopyPool`."""
    return COPIES.borrow(model)
