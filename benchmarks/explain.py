"""Grad-CAM cost and localisation, measured in one run on this machine.

Run: ``.venv/bin/python benchmarks/explain.py``. Prints
- Grad-CAM of resnet50 at 224×224 (last stage) as a ratio to a plain no-grad forward (target <= 1.10), to
  captum's LayerGradCam and to torchcam's GradCAM on the same input (target <= 1.0 for each);
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

import torch
import torchvision
from captum.attr import LayerAttribution, LayerGradCam
from torchcam.methods import GradCAM as TorchcamGradCAM

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnviz.data.shapes import generate
from cnnviz.explain import cam, default_layer, grad_cam
from cnnviz.memory import keep_freed_memory
from cnnviz.models.embedded import load_embedded
from cnnviz.train import to_tensor


def interleaved(functions: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def speed(repeats: int = 30) -> None:
    torch.manual_seed(0)
    model = torchvision.models.resnet50().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.randn(1, 3, 224, 224)
    target, layer = 281, "layer4"

    def plain() -> None:
        with torch.no_grad():
            model(x)

    def ours() -> None:
        grad_cam(model, x, target, layer)

    captum_cam = LayerGradCam(model, model.layer4)

    def captum() -> None:
        attr = captum_cam.attribute(x, target=target, relu_attributions=True)
        LayerAttribution.interpolate(attr, (224, 224), interpolate_mode="bilinear")

    # torchcam needs the graph to reach the layer through the parameters: its documented set-up is a model
    # whose parameters require grad (cnnviz and captum get the frozen model).
    trainable = copy.deepcopy(model)
    for p in trainable.parameters():
        p.requires_grad_(True)

    def torchcam() -> None:
        with TorchcamGradCAM(trainable, layer) as extractor:
            scores = trainable(x)
            extractor(target, scores)
        trainable.zero_grad(set_to_none=True)

    functions = {"no-grad forward": plain, "cnnviz grad_cam": ours, "captum LayerGradCam": captum,
                 "torchcam GradCAM": torchcam}  # fmt: skip
    interleaved(functions, 2)  # warm up
    result = interleaved(functions, repeats)
    print(f"resnet50 224x224, Grad-CAM at {layer}, median of {repeats} interleaved runs, "
          f"torch threads {torch.get_num_threads()}")  # fmt: skip
    for name, seconds in result.items():
        print(f"  {name:22s} {seconds * 1000:7.1f} ms")
    ratio = result["cnnviz grad_cam"]
    print(f"  cnnviz / no-grad forward     {ratio / result['no-grad forward']:.3f} (target <= 1.10)")
    print(f"  cnnviz / captum LayerGradCam {ratio / result['captum LayerGradCam']:.3f} (target <= 1.0)")
    print(f"  cnnviz / torchcam GradCAM    {ratio / result['torchcam GradCAM']:.3f} (target <= 1.0)")


def localisation(count: int = 300, seed: int = 555_555) -> None:
    model, meta = load_embedded()
    data = generate(count, seed)
    x = to_tensor(data.images, meta["mean"], meta["std"])
    layer = default_layer(model, (64, 64))
    for method in ("Grad-CAM", "Grad-CAM++"):
        hits, energy = 0, 0.0
        for i in range(count):
            heat = cam(model, x[i : i + 1], int(data.labels[i]), layer, method).heatmap
            mask = torch.from_numpy(data.masks[i])
            hits += bool(mask.reshape(-1)[int(torch.argmax(heat))])
            energy += float((heat * mask).sum() / (heat.sum() + 1e-12))
        print(f"embedded TinyVGG, {method} at {layer}, {count} synthetic images of seed {seed}: "
              f"pointing game {hits / count:.1%}, energy inside the mask {energy / count:.1%} "
              f"(objects cover {data.masks.mean():.1%} of the pixels)")  # fmt: skip


if __name__ == "__main__":
    print(f"allocator setting applied: {keep_freed_memory()}")
    speed()
    localisation()
