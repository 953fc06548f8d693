"""Grad-CAM cost and localisation, measured in one run on this machine.

Run: ``.venv/bin/python benchmarks/explain.py``. Prints
- Grad-CAM of resnet50 at 224×224 (last stage) as a ratio to a plain no-grad forward (target <= 1.10), to
  captum's LayerGradCam and to torchcam's GradCAM on the same input (target <= 1.0 for each);
- Grad-CAM of the packaged EfficientNet-Lite0 (its default layer, bn2) as a ratio to a plain no-grad forward
  (target <= 1.05) and to captum's LayerGradCam (``--lite0`` runs this part only);
- on the embedded model, over 200+ fresh synthetic images, the pointing game (share of maps whose peak
  lies inside the object's mask) and the share of map energy inside the mask.
"""

from __future__ import annotations

import copy
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torchvision
from captum.attr import LayerAttribution, LayerGradCam
from torchcam.methods import GradCAM as TorchcamGradCAM

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnviz.data.samples import load_sample
from cnnviz.data.shapes import CLASSES, generate
from cnnviz.explain.cams import default_layer, grad_cam
from cnnviz.explain.faithfulness import faithfulness, pointing_game
from cnnviz.models.embedded import load_embedded
from cnnviz.models.lite0 import LITE0
from cnnviz.models.registry import load_model
from cnnviz.server.memory import keep_freed_memory
from cnnviz.training.tensors import to_tensor


def timings(functions: dict[str, Callable[[], None]], repeats: int) -> dict[str, list[float]]:
    """Seconds of each call, the functions taking turns round after round (so load drifts hit them alike)."""
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    return times


def interleaved(functions: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    return {name: statistics.median(values) for name, values in timings(functions, repeats).items()}


def speed(repeats: int = 30) -> None:
    """Each library called as documented, on one resnet50 in eval mode as torchvision builds it (parameters
    requiring grad; cnnviz freezes them itself for the call); then cnnviz and captum again on a copy whose
    parameters the caller has frozen, as the app's registry hands models out."""
    torch.manual_seed(0)
    model = torchvision.models.resnet50().eval()
    frozen = copy.deepcopy(model)
    for p in frozen.parameters():
        p.requires_grad_(False)
    x = torch.randn(1, 3, 224, 224)
    target, layer = 281, "layer4"

    def plain() -> None:
        with torch.no_grad():
            model(x)

    def captum_on(net: torch.nn.Module) -> Callable[[], None]:
        method = LayerGradCam(net, net.layer4)

        def run() -> None:
            attr = method.attribute(x, target=target, relu_attributions=True)
            LayerAttribution.interpolate(attr, (224, 224), interpolate_mode="bilinear")

        return run

    def torchcam() -> None:
        with TorchcamGradCAM(model, layer) as extractor:
            scores = model(x)
            extractor(target, scores)
        model.zero_grad(set_to_none=True)

    functions = {
        "no-grad forward": plain,
        "cnnviz grad_cam": lambda: grad_cam(model, x, target, layer),
        "captum LayerGradCam": captum_on(model),
        "torchcam GradCAM": torchcam,
        "cnnviz, frozen model": lambda: grad_cam(frozen, x, target, layer),
        "captum, frozen model": captum_on(frozen),
    }
    interleaved(functions, 2)  # warm up
    result = interleaved(functions, repeats)
    print(
        f"resnet50 224x224, Grad-CAM at {layer}, median of {repeats} interleaved runs, "
        f"torch threads {torch.get_num_threads()}"
    )
    for name, seconds in result.items():
        print(f"  {name:22s} {seconds * 1000:7.1f} ms")
    ours = result["cnnviz grad_cam"]
    print(f"  cnnviz / no-grad forward     {ours / result['no-grad forward']:.3f} (target <= 1.10)")
    print(f"  cnnviz / captum LayerGradCam {ours / result['captum LayerGradCam']:.3f} (target <= 1.0)")
    print(f"  cnnviz / torchcam GradCAM    {ours / result['torchcam GradCAM']:.3f} (target <= 1.0)")
    frozen_ratio = result["cnnviz, frozen model"] / result["captum, frozen model"]
    print(f"  frozen model: cnnviz / captum {frozen_ratio:.3f} (both skip the graph before the layer: parity)")


def lite0_speed(repeats: int = 60) -> None:
    """Grad-CAM on the shipped photo model as the registry hands it out (frozen, eval), against a forward."""
    loaded = load_model(LITE0)
    model, layer = loaded.module, default_layer(loaded.module, loaded.input_size)
    x = loaded.preprocess(load_sample("photo: cat"))
    target = int(model(x).argmax())
    method = LayerGradCam(model, model.get_submodule(layer))

    def plain() -> None:
        with torch.no_grad():
            model(x)

    def captum() -> None:
        attr = method.attribute(x, target=target, relu_attributions=True)
        LayerAttribution.interpolate(attr, (224, 224), interpolate_mode="bilinear")

    functions = {"no-grad forward": plain, "cnnviz grad_cam": lambda: grad_cam(model, x, target, layer)}
    functions["captum LayerGradCam"] = captum
    interleaved(functions, 2)
    times = timings(functions, repeats)
    result = {name: statistics.median(values) for name, values in times.items()}
    print(f"EfficientNet-Lite0 224x224 (the cat photo), Grad-CAM at {layer}, median of {repeats} interleaved runs")
    for name, seconds in result.items():
        print(f"  {name:22s} {seconds * 1000:7.1f} ms")
    ours = result["cnnviz grad_cam"]
    print(f"  cnnviz / no-grad forward     {ours / result['no-grad forward']:.3f} (target <= 1.05)")
    print(f"  cnnviz / captum LayerGradCam {ours / result['captum LayerGradCam']:.3f}")
    for name in ("cnnviz grad_cam", "captum LayerGradCam"):  # each round's time over the same round's forward
        paired = statistics.median(a / b for a, b in zip(times[name], times["no-grad forward"], strict=True))
        print(f"  {name} / forward of the same round, median {paired:.3f}")


def localisation(count: int = 300, seed: int = 555_555) -> None:
    """The pointing game on images of a seed that training never used, for the true class."""
    model, meta = load_embedded()
    data = generate(count, seed)
    x = to_tensor(data.images, meta["mean"], meta["std"])
    layer = default_layer(model, (64, 64))
    for method in ("Grad-CAM", "Grad-CAM++"):
        game = pointing_game(model, x, data.masks, data.labels, layer, method)
        print(
            f"embedded TinyVGG, {method} at {layer}, {count} synthetic images of seed {seed}: "
            f"pointing game {game.hit_rate:.1%} (target >= 90%), energy inside the mask {game.energy.mean():.1%} "
            f"(objects cover {data.masks.mean():.1%} of the pixels)"
        )
        print("  per class: " + ", ".join(f"{CLASSES[k]} {rate:.0%}" for k, rate in game.per_class().items()))
    # Is the map faithful as well as well placed? RISE deletion (lower is better) and insertion (higher is
    # better) areas of Grad-CAM against a random map's, on the first 100 images.
    black = to_tensor(np.zeros((1, 64, 64, 3), np.uint8), meta["mean"], meta["std"])
    generator = torch.Generator().manual_seed(0)
    areas: dict[str, list[tuple[float, float]]] = {"Grad-CAM": [], "random map": []}
    for i in range(min(count, 100)):
        xi, target = x[i : i + 1], int(data.labels[i])
        maps = {"Grad-CAM": grad_cam(model, xi, target, layer), "random map": torch.rand(64, 64, generator=generator)}
        for name, heatmap in maps.items():
            curves = faithfulness(model, xi, target, heatmap, black=black)
            areas[name].append((curves.deletion_auc, curves.insertion_auc))
    for name, values in areas.items():
        deletion, insertion = np.mean(values, axis=0)
        print(f"  {name:10s} deletion AUC {deletion:.3f}, insertion AUC {insertion:.3f} (100 images)")


if __name__ == "__main__":
    print(f"allocator setting applied: {keep_freed_memory()}")
    if "--lite0" not in sys.argv:
        speed()
    lite0_speed()
    if "--lite0" not in sys.argv:
        localisation()
