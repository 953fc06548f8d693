"""The Learn section's ten steps: a title and a short text each (Markdown, LaTeX between ``$``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Lesson:
    """One step of the path: its number (from 1), title and text (2–5 sentences)."""

    number: int
    title: str
    text: str


LESSONS: tuple[Lesson, ...] = (
    Lesson(
        1,
        "A kernel slides, multiplies and sums",
        "A grayscale image is a function from pixel positions to brightness, stored as a grid of numbers. "
        "A kernel is a small grid of weights. "
        "A convolution layer slides the kernel over the image and, at each position, multiplies the window "
        "under it by the weights and sums the products into one output cell. "
        "PyTorch computes this without flipping the kernel (cross-correlation), and so does every number "
        "below: pick an output cell and see its sum written out.",
    ),
    Lesson(
        2,
        "Hand-designed kernels: blur and derivatives",
        "Long before CNNs, kernels were designed by hand. "
        "A box or Gaussian kernel averages neighbours, so it removes noise (the PSNR, in dB against the clean "
        "image, goes up) at the price of blurring edges. "
        "A derivative kernel such as Sobel subtracts one side from the other: ∂x responds to vertical edges, "
        "∂y to horizontal ones. "
        "Together they give the gradient's magnitude (how strong an edge is) and orientation (which way the "
        "brightness rises).",
    ),
    Lesson(
        3,
        "Harris corners from derivatives",
        "At a corner the image changes whichever way a window moves; along an edge it changes in one "
        "direction only. "
        "The structure tensor $A$ sums the products of the derivatives $I_x^2, I_xI_y, I_y^2$ over a Gaussian "
        "window of width σ, and Harris's response $R = \\det A - k\\,(\\operatorname{tr} A)^2$ is large and "
        "positive only where both of its eigenvalues are large. "
        "Corners are the local maxima of $R$ above a threshold, kept at least a minimum distance apart "
        "(non-maximum suppression); the numbers equal scikit-image's `corner_harris` and `corner_peaks`.",
    ),
    Lesson(
        4,
        "Learned kernels next to designed ones",
        "Nobody designed the embedded TinyVGG's first-layer filters: training found them. "
        "Many of them resemble the classic kernels of step 2 (derivatives, Gabor stripes, blobs), and the "
        "correlation says how closely. "
        "Their feature maps on the same image look alike too: a learned edge filter lights up the same edges "
        "as Sobel.",
    ),
    Lesson(
        5,
        "Padding, stride, dilation, transposed convolution and pooling",
        "Padding adds a border of zeros, stride skips positions, dilation spreads the kernel's taps apart, "
        "pooling keeps the maximum or mean of each window, and a transposed convolution spreads each input "
        "cell over the output to enlarge it. "
        "The output size follows from these settings by the formula below, exactly as PyTorch computes it. "
        "Open the arithmetic page with the same settings to watch every step.",
    ),
    Lesson(
        6,
        "Why convolutions: sharing and sparsity",
        "A dense layer connects every input value to every output value; a convolution connects each output "
        "to a small window only (sparse connectivity) and uses the same kernel at every position (parameter "
        "sharing). "
        "On an image that is often thousands of times fewer parameters for the same input and output. "
        "The price is a small view per unit, and depth pays it back: each conv or pooling layer widens the "
        "receptive field, the input pixels one unit sees.",
    ),
    Lesson(
        7,
        "Conv, ReLU, pool, fully connected, softmax",
        "A CNN repeats the same stages: convolutions compute feature maps, ReLU sets their negative values "
        "to zero, and pooling halves their size while keeping the strongest responses. "
        "A fully connected layer turns the last maps into one score (logit) per class, and softmax turns the "
        "scores into probabilities that sum to 1. "
        "Early layers respond to edges and colours, later ones to textures and whole shapes.",
    ),
    Lesson(
        8,
        "Training aids: batch normalisation and dropout",
        "Batch normalisation rescales each channel over a batch to mean 0 and variance 1 (then applies a "
        "learned scale and shift), which keeps activations in a range where training is stable. "
        "Dropout sets a random fraction p of activations to zero during training and scales the rest by "
        "1/(1−p), so the network cannot rely on any single unit. "
        "At evaluation time dropout does nothing and batch norm uses running averages instead of the batch's "
        "statistics.",
    ),
    Lesson(
        9,
        "Where the model looks: Grad-CAM",
        "Grad-CAM weights each channel $k$ of a late conv layer by the average gradient of the class score "
        "over the map, $\\alpha_k = \\frac{1}{Z}\\sum_{i,j} \\partial y^c / \\partial A^k_{ij}$. "
        "The map is $\\mathrm{ReLU}(\\sum_k \\alpha_k A^k)$, upsampled to the image: bright where features "
        "that raise the class score are active. "
        "Its resolution is that of the layer, so it shows regions, not pixels.",
    ),
    Lesson(
        10,
        "Beyond classification: detection and segmentation",
        "A classifier answers one question for the whole image. "
        "A detector also predicts boxes: in a one-stage detector such as YOLO, each cell of the last feature "
        "map predicts a class and a box for the objects centred in it. "
        "A segmentation network labels every pixel, so after downsampling to see context it must upsample "
        "back to the image's size, with transposed convolutions or interpolation, often joined with "
        "earlier high-resolution maps (U-Net's skip connections).",
    ),
)
"""The path, in order."""
