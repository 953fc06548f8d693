"""Uploaded ONNX classifiers: five architectures exported by PyTorch come back with the original outputs and
Grad-CAM works on them; hostile graphs are refused with a reason before anything is converted or run; 200 fuzzed
files raise nothing but ModelFileError."""

from __future__ import annotations

import random

import numpy as np
import pytest
import timm
import torch
import torchvision
from onnx import TensorProto, helper

from cnnviz.explain.cams import default_layer, grad_cam
from cnnviz.models.custom import ModelFileError, load_uploaded_model
from cnnviz.models.embedded import load_embedded
from tests.onnx_files import (
    StudentNet,
    conv_classifier,
    exported,
    graph_file,
    hostile,
    image_input,
    scores_output,
    valid_small,
)


def tinyvgg() -> torch.nn.Module:
    loaded = load_embedded()
    return loaded[0] if isinstance(loaded, tuple) else loaded


def models() -> dict[str, tuple[object, tuple[int, ...]]]:
    torch.manual_seed(0)  # (the builders initialise from the global generator; the test owns this process's)
    return {
        "timm efficientnet_b0": (lambda: timm.create_model("efficientnet_b0", num_classes=3), (1, 3, 64, 64)),
        "timm convnext_atto": (lambda: timm.create_model("convnext_atto", num_classes=3), (1, 3, 64, 64)),
        "torchvision resnet18": (lambda: torchvision.models.resnet18(num_classes=5), (1, 3, 64, 64)),
        "a student's module": (lambda: StudentNet(4), (1, 3, 48, 48)),
        "TinyVGG": (tinyvgg, (1, 3, 64, 64)),
        "one channel": (lambda: StudentNet(3, channels=1), (1, 1, 32, 32)),
    }


@pytest.mark.parametrize("name", list(models()))
def test_an_exported_model_comes_back_with_its_outputs_and_grad_cam_works(name):
    build, shape = models()[name]
    original = build().eval()
    for m in original.modules():
        if isinstance(m, torch.nn.BatchNorm2d):  # random statistics: a batch norm that is not the identity
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2)
    loaded = load_uploaded_model(exported(original, shape), "onnx", None, None, "model.onnx")
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        reference = original(x)
        torch.testing.assert_close(loaded.module(x), reference, rtol=1e-4, atol=1e-4)
    assert loaded.input_size == shape[2:] and len(loaded.classes) == reference.shape[1]
    assert len(loaded.mean) == shape[1] and not any(p.requires_grad for p in loaded.module.parameters())
    layer = default_layer(loaded.module, loaded.input_size, shape[1])
    with loaded.lock:
        cam = grad_cam(loaded.module, x, 0, layer)
    assert tuple(cam.shape[-2:]) == shape[2:] and torch.isfinite(cam).all()
    assert any(isinstance(m, torch.nn.Conv2d) for m in loaded.module.modules())  # real convs: every page works


def test_class_count_names_and_metadata_preprocessing():
    data = valid_small()
    assert load_uploaded_model(data, "onnx", 2).classes == ("class 0", "class 1")
    assert load_uploaded_model(data, "onnx", None, ["cat", "dog"]).classes == ("cat", "dog")
    with pytest.raises(ModelFileError, match="The graph gives 2 classes, not 3"):
        load_uploaded_model(data, "onnx", 3)
    with pytest.raises(ModelFileError, match="3 class names were given"):
        load_uploaded_model(data, "onnx", None, ["a", "b", "c"])
    import onnx

    model = onnx.load_from_string(data)
    helper.set_model_props(model, {"mean": "0.5, 0.5, 0.5", "std": "0.25,0.25,0.25"})
    loaded = load_uploaded_model(model.SerializeToString(), "onnx", None)
    assert loaded.mean == (0.5, 0.5, 0.5) and loaded.std == (0.25, 0.25, 0.25)
    assert load_uploaded_model(data, "onnx", None).mean == (0.485, 0.456, 0.406)  # else ImageNet's


def test_weights_given_by_constant_operations_come_back_and_a_newer_opset_is_refused_with_how_to_export():
    import onnx

    kernel = np.random.default_rng(2).standard_normal((4, 3, 3, 3)).astype(np.float32)
    weight = np.random.default_rng(3).standard_normal((2, 4)).astype(np.float32)
    model = onnx.load_from_string(conv_classifier(kernel, weight, np.zeros(2)))
    for tensor in list(model.graph.initializer):  # each initializer given by a Constant operation instead
        model.graph.node.insert(0, helper.make_node("Constant", [], [tensor.name], value=tensor))
    del model.graph.initializer[:]
    loaded = load_uploaded_model(model.SerializeToString(), "onnx", None)
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    expected = torch.relu(torch.nn.functional.conv2d(x, torch.from_numpy(kernel), padding=1)).mean((2, 3))
    with torch.no_grad():
        torch.testing.assert_close(loaded.module(x), expected @ torch.from_numpy(weight).T)
    empty = TensorProto(name="unused", data_type=TensorProto.FLOAT, dims=[0, 3], raw_data=b"")
    model.graph.initializer.append(empty)  # an empty tensor (torch.frombuffer refuses an empty buffer)
    assert load_uploaded_model(model.SerializeToString(), "onnx", None).classes == ("class 0", "class 1")
    with pytest.raises(ModelFileError, match=r"opset is 18.*ReduceMean.*opset_version=17"):
        load_uploaded_model(exported(StudentNet(2), (1, 3, 16, 16), opset=18), "onnx", None)


@pytest.mark.parametrize(("what", "data", "reason"), hostile(), ids=[h[0] for h in hostile()])
def test_each_hostile_graph_is_refused_with_its_reason(what, data, reason):
    with pytest.raises(ModelFileError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        load_uploaded_model(data, "onnx", None)


def test_graphs_that_would_grow_past_the_budget_are_refused_unrun():
    x, nodes, name = image_input(shape=(1, 3, 64, 64)), [], "x"
    for i in range(24):  # each Concat doubles the channels: 3·2²⁴ channels of 64×64 would be 200 GB
        nodes.append(helper.make_node("Concat", [name, name], [f"c{i}"], axis=1))
        name = f"c{i}"
    nodes += [helper.make_node("GlobalAveragePool", [name], ["p"]), helper.make_node("Flatten", ["p"], ["y"])]
    with pytest.raises(ModelFileError, match="would take more than 1024 MiB"):
        load_uploaded_model(graph_file(nodes, [x], [scores_output(classes=3 * 2**24)]), "onnx", None)
    scales = helper.make_tensor("s", TensorProto.FLOAT, [4], [1.0, 1.0, 1000.0, 1000.0])
    resize = [
        helper.make_node("Resize", ["x", "", "s"], ["r"], mode="nearest"),
        helper.make_node("GlobalAveragePool", ["r"], ["p"]),
        helper.make_node("Flatten", ["p"], ["y"]),
    ]
    with pytest.raises(ModelFileError, match="would take more than 1024 MiB"):
        load_uploaded_model(graph_file(resize, [x], [scores_output(classes=3)], [scales]), "onnx", None)


@pytest.mark.slow
def test_200_fuzzed_files_raise_nothing_but_model_file_error():
    rng = random.Random(3)
    sources = [valid_small(), exported(StudentNet(2), (1, 3, 16, 16))]
    refused = loaded = 0
    for n in range(200):
        data = bytearray(sources[n % 2])
        if n % 3 == 0:
            data = data[: rng.randrange(len(data))]
        else:
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        try:
            model = load_uploaded_model(bytes(data), "onnx", None)
        except ModelFileError:
            refused += 1
            continue
        loaded += 1
        with torch.no_grad():
            out = model.module(torch.zeros(1, len(model.mean), *model.input_size))
        assert np.isfinite(out.numpy()).all()
    assert refused > 100 and refused + loaded == 200


def test_preprocessing_the_graph_does_not_give_comes_from_the_form_and_metadata_wins():
    import io

    import onnx
    from PIL import Image

    from cnnviz.models.custom import OnnxPreprocessing, parse_numbers

    torch.manual_seed(0)
    buffer = io.BytesIO()  # a free height and width: the form's input size is used
    torch.onnx.export(
        StudentNet(2).eval(),
        (torch.zeros(1, 3, 32, 32),),
        buffer,
        dynamo=False,
        opset_version=17,
        input_names=["x"],
        dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}},
    )
    free = buffer.getvalue()
    given = OnnxPreprocessing(parse_numbers("0.5, 0.25, 0.125", "mean"), parse_numbers("2 4 8", "std"), (40, 40))
    loaded = load_uploaded_model(free, "onnx", None, onnx_preprocessing=given)
    assert loaded.input_size == (40, 40) and loaded.mean == (0.5, 0.25, 0.125) and loaded.std == (2.0, 4.0, 8.0)
    image = Image.new("RGB", (40, 40), (255, 51, 0))  # one colour: the crop changes nothing
    expected = torch.tensor([(1.0 - 0.5) / 2, (0.2 - 0.25) / 4, (0.0 - 0.125) / 8]).view(1, 3, 1, 1)
    torch.testing.assert_close(loaded.preprocess(image), expected.expand(1, 3, 40, 40))
    assert load_uploaded_model(free, "onnx", None).input_size == (224, 224)  # the default
    model = onnx.load_from_string(free)
    helper.set_model_props(model, {"mean": "0.1, 0.2, 0.3", "std": "0.4, 0.5, 0.6"})
    said = load_uploaded_model(model.SerializeToString(), "onnx", None, onnx_preprocessing=given)
    assert said.mean == (0.1, 0.2, 0.3) and said.std == (0.4, 0.5, 0.6)  # the graph's metadata wins
    grey = exported(StudentNet(2, channels=1), (1, 1, 16, 16))
    assert load_uploaded_model(grey, "onnx", None).mean == (0.5,)
    with pytest.raises(ModelFileError, match="takes 1 channel: give 1 mean and as many stds"):
        load_uploaded_model(grey, "onnx", None, onnx_preprocessing=given)
    for text, reason in (("a, b", "should be numbers"), ("", "one finite number"), ("1 2 3 4 5", "one finite")):
        with pytest.raises(ModelFileError, match=reason):
            parse_numbers(text, "mean")
    with pytest.raises(ModelFileError, match="std should be above 0"):
        OnnxPreprocessing((0.5,), (0.0,))
    with pytest.raises(ModelFileError, match="8 to 1024 pixels"):
        OnnxPreprocessing(input_size=(4096, 4096))


def test_the_converter_skips_random_initialisation_and_no_tensor_keeps_what_its_memory_held():
    from cnnviz.models.onnx_files import _Converting

    converting = _Converting()
    with converting:
        kept, replaced = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
        replaced.weight.data = torch.full((2, 3), 7.0)  # as onnx2torch gives each layer the file's tensors
        assert len(converting.skipped) == 4  # two weights, two biases: never written
        converting.settle(torch.nn.Sequential(kept, replaced))
        scaled = replaced.weight * 1
    assert scaled is replaced.weight  # (multiplying by 1 while converting: the tensor itself, no copy)
    assert torch.equal(replaced.weight, torch.full((2, 3), 7.0))  # the file's values, untouched
    for tensor in (kept.weight, kept.bias, replaced.bias):  # what the file did not give: zeros, not old memory
        assert torch.equal(tensor, torch.zeros_like(tensor))
    assert not converting.skipped
    fresh = torch.nn.Linear(3, 2)  # outside a conversion the initialisation runs
    assert fresh.weight.abs().sum() > 0 and not torch.equal(fresh.weight, torch.nn.Linear(3, 2).weight)


def test_the_file_is_split_into_its_structure_and_where_its_large_tensors_lie_as_protobuf_reads_it():
    import onnx

    from cnnviz.models import onnx_wire

    data = exported(StudentNet(2), (1, 3, 16, 16))
    # Two messages one after the other are one message to protobuf (their graphs merged, the initializers of
    # the second after the first's): the split must count them the same way.
    extra = onnx.ModelProto()
    extra.graph.initializer.append(numpy_helper_tensor("extra", np.arange(40_000, dtype=np.float32)))
    data += extra.SerializeToString()
    reference = onnx.load_from_string(data)
    parts = onnx_wire.split(data)
    structure = onnx.load_from_string(parts.structure)
    assert len(parts.structure) < len(data) // 4 and parts.initializers
    assert [t.name for t in structure.graph.initializer] == [t.name for t in reference.graph.initializer]
    for index, tensor in enumerate(reference.graph.initializer):
        place = parts.initializers.get(index)
        if place is None:  # small: left in the structure
            assert structure.graph.initializer[index].raw_data == tensor.raw_data
            assert len(tensor.raw_data) <= onnx_wire.KEEP_BELOW
        else:
            assert data[place.offset : place.offset + place.length] == tensor.raw_data
            assert not structure.graph.initializer[index].raw_data
    assert (
        structure.graph.initializer[-1].name == "extra" and len(reference.graph.initializer) - 1 in parts.initializers
    )
    for cut in (1, 7, len(data) // 3):  # truncated: refused, nothing else raised
        with pytest.raises(onnx_wire.Unreadable):
            onnx_wire.split(data[:-cut] + b"\x0a\xff\xff\xff\x7f")


def numpy_helper_tensor(name: str, values: np.ndarray):
    from onnx import numpy_helper

    return numpy_helper.from_array(values, name)
