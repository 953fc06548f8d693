"""Activations of any set of layers in one forward pass, safely on a shared model.

Forward hooks capture each named module's output. The model's lock is held throughout, the model runs in
eval mode without autograd, and :func:`cnnviz.models.sharing.in_use` restores its modes, ``requires_grad``
and grads and removes the hooks, also when something fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from torch import Tensor, nn

from cnnviz.models.sharing import in_use


def _resolve(model: nn.Module, layers: Iterable[str]) -> tuple[list[str], dict[str, nn.Module]]:
    names = list(dict.fromkeys(layers))
    modules = dict(model.named_modules())
    unknown = [n for n in names if n not in modules]
    if unknown:
        raise KeyError(f"no layer named {', '.join(map(repr, unknown))} in this model")
    return names, {n: modules[n] for n in names}


def _first_tensor(output: Any) -> Tensor | None:
    if isinstance(output, Tensor):
        return output
    if isinstance(output, (tuple, list)):
        return next((o for o in output if isinstance(o, Tensor)), None)
    return None


def _run(
    model: nn.Module, x: Tensor, modules: dict[str, nn.Module], clone: set[str]
) -> tuple[dict[str, Tensor], set[str]]:
    """One forward pass with hooks: the captured outputs, and the names whose output was later changed
    in place (ResNet's ``ReLU(inplace=True)`` after a BatchNorm) so that the caller can copy them."""
    captured: dict[str, Tensor] = {}
    versions: dict[str, int] = {}

    def hook_for(name: str) -> Callable[[nn.Module, Any, Any], None]:
        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            tensor = _first_tensor(output)
            if tensor is None:
                return
            captured[name] = tensor.clone() if name in clone else tensor
            versions[name] = captured[name]._version  # a module called twice keeps its last output

        return hook

    handles = [module.register_forward_hook(hook_for(name)) for name, module in modules.items()]
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    missing = [n for n in modules if n not in captured]
    if missing:
        raise ValueError(f"layer {', '.join(map(repr, missing))} gave no tensor output in the forward pass")
    return captured, {n for n in modules if captured[n]._version != versions[n]}


def activations(model: nn.Module, x: Tensor, layers: Iterable[str]) -> dict[str, Tensor]:
    """Outputs of the modules named ``layers`` (as in ``model.named_modules()``) for the batch ``x``.

    One forward pass (a second one only where an in-place operation overwrote a captured output), in eval
    mode and without autograd, under the model's lock; the model is left exactly as found.

    Raises:
        KeyError: a name that is not a module of ``model``.
    """
    names, modules = _resolve(model, layers)
    with in_use(model):
        captured, changed = _run(model, x, modules, set())
        if changed:
            again, _ = _run(model, x, modules, changed)
            captured.update({name: again[name] for name in changed})
    return {name: captured[name] for name in names}


def layer_names(model: nn.Module, kinds: tuple[type[nn.Module], ...] | None = None) -> list[str]:
    """Names of the model's leaf modules (of ``kinds`` only, when given), in definition order."""
    names = []
    for name, module in model.named_modules():
        if not name or any(True for _ in module.children()):
            continue
        if kinds is None or isinstance(module, kinds):
            names.append(name)
    return names


def conv_layers(model: nn.Module) -> list[str]:
    """Names of every ``nn.Conv2d`` of the model."""
    return layer_names(model, (nn.Conv2d,))
