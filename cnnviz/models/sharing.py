"""Shared models are shared state: one lock per model, and a guard that leaves a model exactly as found."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

_locks: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def model_lock(model: nn.Module) -> threading.RLock:
    """The one re-entrant lock of ``model``: hold it while running it, hooking it or touching its grads."""
    with _locks_guard:
        lock = _locks.get(model)
        if lock is None:
            lock = _locks[model] = threading.RLock()
        return lock


@contextmanager
def preserved(model: nn.Module) -> Iterator[nn.Module]:
    """Restore every module's train/eval mode and ``inplace`` flag, every parameter's ``requires_grad`` and
    ``.grad`` afterwards, and remove any hook registered inside the block that is still there, even when the
    block fails."""
    modes = {m: m.training for m in model.modules()}
    inplace = {m: m.inplace for m in modes if isinstance(getattr(m, "inplace", None), bool)}
    params = list(model.parameters())
    requires = [p.requires_grad for p in params]
    grads = [None if p.grad is None else p.grad.detach().clone() for p in params]
    hooks_before = {m: _hook_ids(m) for m in modes}
    try:
        yield model
    finally:
        for module, mode in modes.items():
            module.training = mode
        for module, flag in inplace.items():
            module.inplace = flag
        with torch.no_grad():
            for p, flag, grad in zip(params, requires, grads, strict=True):
                if p.requires_grad != flag:
                    p.requires_grad_(flag)
                if p.grad is not grad:
                    p.grad = grad
        for module, before in hooks_before.items():
            _remove_hooks_added(module, before)


def freeze(model: nn.Module) -> nn.Module:
    """Eval mode and no parameter requiring grad: how every shared model is kept."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


@contextmanager
def in_use(model: nn.Module, grad: bool = False, out_of_place: bool = False) -> Iterator[nn.Module]:
    """Run ``model`` for one caller: its lock held, eval mode, autograd only when ``grad`` (for gradients
    with respect to the *input*), and with ``out_of_place`` every in-place ReLU made out-of-place (backward
    hooks, as captum's, need that). Everything is restored afterwards (:func:`preserved`)."""
    with model_lock(model), preserved(model), torch.set_grad_enabled(grad):
        model.eval()
        if out_of_place:
            for module in model.modules():
                if isinstance(getattr(module, "inplace", None), bool):
                    module.inplace = False
        yield model


_HOOK_DICTS = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks_with_kwargs",
)


def _hook_ids(module: nn.Module) -> dict[str, set[int]]:
    """The ids of the hooks a module has now (only its non-empty hook tables: most have none)."""
    return {name: set(table) for name in _HOOK_DICTS[:4] if (table := getattr(module, name, None))}


def _remove_hooks_added(module: nn.Module, before: dict[str, set[int]]) -> None:
    for name in _HOOK_DICTS[:4]:
        hooks = getattr(module, name, None)
        if not hooks:
            continue
        known = before.get(name, set())
        for hook_id in [k for k in hooks if k not in known]:
            hooks.pop(hook_id, None)
            for extra in _HOOK_DICTS[4:]:
                getattr(module, extra, {}).pop(hook_id, None)


@contextmanager
def eval_frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and parameters without ``requires_grad`` for the block, restoring exactly the modules and
    parameters it had to change. Cheaper than :func:`preserved` for code that registers no hooks of its
    own beyond ones it removes itself and never writes ``.grad`` (``torch.autograd.grad`` does not)."""
    training = [m for m in model.modules() if m.training]
    trainable = [p for p in model.parameters() if p.requires_grad]
    try:
        for m in training:
            m.training = False
        for p in trainable:
            p.requires_grad_(False)
        yield model
    finally:
        for m in training:
            m.training = True
        for p in trainable:
            p.requires_grad_(True)
