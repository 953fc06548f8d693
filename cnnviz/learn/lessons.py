"""The Learn section's steps: a title, a short text (Markdown, LaTeX between ``$``) and the settings each keeps
in the page's link. The number of steps is ``len(LESSONS)``, and each step's number its place in the path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from cnnviz.arithmetic.geometry import OP_NAMES
from cnnviz.arithmetic.kernels import KERNELS
from cnnviz.params import Param, choices, flag, numbers, whole


@dataclass(frozen=True)
class Lesson:
    """One step of the path: ``key`` names its figure (the Learn page draws each step's figure by its key), then
    its title, its text (2–5 sentences) and the settings its figure keeps in the link (key → :class:`Param`).
    ``number`` (from 1) is its place in :data:`LESSONS`, set there."""

    key: str
    title: str
    text: str
    settings: Mapping[str, Param] = field(default_factory=dict)
    number: int = 0


def _numbered(*lessons: Lesson) -> tuple[Lesson, ...]:
    return tuple(replace(lesson, number=n) for n, lesson in enumerate(lessons, 1))


LESSONS: tuple[Lesson, ...] = _numbered(
    Lesson(
        "kernel",
        "A kernel slides, multiplies and sums",
        "A grayscale image is a function from pixel positions to brightness, stored as a grid of numbers. "
        "A kernel is a small grid of weights. "
        "A convolution layer slides the kernel over the image and, at each position, multiplies the window "
        "under it by the weights and sums the products into one output cell. "
        "PyTorch computes this without flipping the kernel (cross-correlation), and so does every number "
        "below: pick an output cell and see its sum written out.",
        settings={
            "kernel1": choices(KERNELS, "sobel x", "Kernel"),
            "row1": whole(0, 7, 2, "Output row"),
            "col1": whole(0, 7, 2, "Output column"),
        },
    ),
    Lesson(
        "blur",
        "Hand-designed kernels: blur and derivatives",
        "Long before CNNs, kernels were designed by hand. "
        "A box or Gaussian kernel averages neighbours, so it removes noise (the PSNR, in dB against the clean "
        "image, goes up) at the price of blurring edges. "
        "A derivative kernel such as Sobel subtracts one side from the other: ∂x responds to vertical edges, "
        "∂y to horizontal ones. "
        "Together they give the gradient's magnitude (how strong an edge is) and orientation (which way the "
        "brightness rises).",
        settings={
            "noise": numbers(("0", "0.05", "0.1", "0.2", "0.3"), "0.1", "Noise σ (added)"),
            "blur": choices(("Gaussian", "box"), "Gaussian", "Blur", widget="radio"),
            "sigma": numbers(("0.5", "1", "1.5", "2", "3", "4"), "1", "Gaussian σ (pixels)"),
            "box": numbers(("3", "5", "7", "9", "11"), "3", "Box size"),
        },
    ),
    Lesson(
        "corners",
        "Harris corners from derivatives",
        "At a corner the image changes whichever way a window moves; along an edge it changes in one "
        "direction only. "
        "The structure tensor $A$ sums the products of the derivatives $I_x^2, I_xI_y, I_y^2$ over a Gaussian "
        "window of width σ, and Harris's response $R = \\det A - k\\,(\\operatorname{tr} A)^2$ is large and "
        "positive only where both of its eigenvalues are large. "
        "Corners are the local maxima of $R$ above a threshold, kept at least a minimum distance apart "
        "(non-maximum suppression); the numbers equal scikit-image's `corner_harris` and `corner_peaks`.",
        settings={
            "window": numbers(("0.5", "1", "1.5", "2", "3"), "1", "Window σ"),
            "hk": numbers(("0.04", "0.05", "0.06", "0.1", "0.15"), "0.05", "k"),
            "thresh": numbers(
                ("0.001", "0.01", "0.05", "0.1", "0.2", "0.5"), "0.05", "Threshold (share of the largest R)"
            ),
            "spacing": whole(1, 10, 3, "Minimum distance (px)"),
        },
    ),
    Lesson(
        "learned",
        "Learned kernels next to designed ones",
        "Nobody designed the embedded TinyVGG's first-layer filters: training found them. "
        "Many of them resemble the classic kernels of step 2 (derivatives, Gabor stripes, blobs), and the "
        "correlation says how closely. "
        "Their feature maps on the same image look alike too: a learned edge filter lights up the same edges "
        "as Sobel.",
        settings={"filt": whole(0, 1023, 0, "Learned filter")},
    ),
    Lesson(
        "arithmetic",
        "Padding, stride, dilation, transposed convolution and pooling",
        "Padding adds a border of zeros, stride skips positions, dilation spreads the kernel's taps apart, "
        "pooling keeps the maximum or mean of each window, and a transposed convolution spreads each input "
        "cell over the output to enlarge it. "
        "The output size follows from these settings by the formula below, exactly as PyTorch computes it. "
        "Open the arithmetic page with the same settings to watch every step.",
        settings={
            "op5": choices(OP_NAMES.values(), OP_NAMES["conv"], "Operation", widget="segmented_control"),
            "i5": whole(1, 16, 5, "Input size i"),
            "k5": whole(1, 7, 3, "Kernel k"),
            "s5": whole(1, 4, 1, "Stride s"),
            "d5": whole(1, 4, 1, "Dilation d"),
            "a5": whole(0, 3, 0, "Output padding a"),
            "p5": whole(0, 64, 0, "Padding p"),
        },
    ),
    Lesson(
        "why",
        "Why convolutions: sharing and sparsity",
        "A dense layer connects every input value to every output value; a convolution connects each output "
        "to a small window only (sparse connectivity) and uses the same kernel at every position (parameter "
        "sharing). "
        "On an image that is often thousands of times fewer parameters for the same input and output. "
        "The price is a small view per unit, and depth pays it back: each conv or pooling layer widens the "
        "receptive field, the input pixels one unit sees.",
        settings={
            "side6": whole(4, 64, 32, "Input side (pixels)"),
            "cin6": whole(1, 64, 3, "Input channels"),
            "cout6": whole(1, 64, 16, "Output channels"),
            "k6": whole(1, 7, 3, "Kernel k"),
        },
    ),
    Lesson(
        "stages",
        "Conv, ReLU, pool, fully connected, softmax",
        "A CNN repeats the same stages: convolutions compute feature maps, ReLU sets their negative values "
        "to zero, and pooling halves their size while keeping the strongest responses. "
        "A fully connected layer turns the last maps into one score (logit) per class, and softmax turns the "
        "scores into probabilities that sum to 1. "
        "Early layers respond to edges and colours, later ones to textures and whole shapes.",
    ),
    Lesson(
        "aids",
        "Training aids: batch normalisation and dropout",
        "Batch normalisation rescales each channel to mean 0 and variance 1 over every image of a batch and every "
        "position of its map (then applies a "
        "learned scale and shift), which keeps activations in a range where training is stable. "
        "Dropout sets a random fraction p of activations to zero during training and scales the rest by "
        "1/(1−p), so the network cannot rely on any single unit. "
        "At evaluation time dropout does nothing and batch norm uses running averages instead of the batch's "
        "statistics.",
        settings={
            "ch8": whole(0, 15, 0, "Channel of conv_1_1"),
            "seed8": whole(0, 99, 0, "Dropout seed"),
            "p8": numbers(("0", "0.1", "0.25", "0.5", "0.75"), "0.5", "Dropout p"),
        },
    ),
    Lesson(
        "gradcam",
        "Where the model looks: Grad-CAM",
        "Grad-CAM weights each channel $k$ of a late conv layer by the average gradient of the class score "
        "over the map, $\\alpha_k = \\frac{1}{Z}\\sum_{i,j} \\partial y^c / \\partial A^k_{ij}$. "
        "The map is $\\mathrm{ReLU}(\\sum_k \\alpha_k A^k)$, upsampled to the image: bright where features "
        "that raise the class score are active. "
        "Its resolution is that of the layer, so it shows regions, not pixels.",
    ),
    Lesson(
        "beyond",
        "Beyond classification: detection and segmentation",
        "A classifier answers one question for the whole image. "
        "A detector also predicts boxes: in a one-stage detector such as YOLO, each cell of the last feature "
        "map predicts a class and a box for the objects centred in it. "
        "A segmentation network labels every pixel, so after downsampling to see context it must upsample "
        "back to the image's size, with transposed convolutions or interpolation, often joined with "
        "earlier high-resolution maps (U-Net's skip connections).",
        settings={
            "depth10": whole(1, 4, 3, "Downsampling stages"),
            "side10": numbers(("32", "64", "100", "128", "224", "256"), "64", "Image side"),
        },
    ),
)
"""The path, in order."""


def lesson_settings() -> dict[str, Param]:
    """Every setting the Learn page may keep in its link: the step shown (``lesson``), the printable handout of it
    (``handout``) and each step's own."""
    merged: dict[str, Param] = {
        "lesson": whole(1, len(LESSONS), 1, "Step", widget="segmented_control"),
        "handout": flag(
            "Handout to print",
            help="The step as a sheet of paper shows it: the text and figure laid out at the width of A4 or Letter "
            "paper, without the sidebar; print it with the app menu's Print (or your browser's).",
        ),
    }
    for lesson in LESSONS:
        for key, param in lesson.settings.items():
            if key in merged:
                raise ValueError(f"step {lesson.number} declares {key!r}, which another step already declares")
            merged[key] = param
    return merged
