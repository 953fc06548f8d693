"""Classic image kernels and applying one to a grayscale image with any stride, padding and dilation."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from cnnviz.arithmetic.geometry import Geometry

KERNELS: dict[str, np.ndarray] = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float64),
    "box blur": np.full((3, 3), 1 / 9),
    "gaussian": np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256.0,
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float64),
    "sobel x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64),
    "sobel y": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float64),
    "laplacian": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64),
    "emboss": np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], dtype=np.float64),
}
"""Named kernels; ``gaussian`` is the 5×5 binomial approximation with σ ≈ 1."""


def grayscale(image: Image.Image, max_side: int = 256) -> np.ndarray:
    """The image as luminance in [0, 1], at most ``max_side`` pixels on its long side."""
    small = image.convert("L")
    if max(small.size) > max_side:
        small = small.copy()
        small.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(small, dtype=np.float64) / 255.0


def grayscale_crop(image: Image.Image, size: tuple[int, int], levels: int = 10) -> np.ndarray:
    """A centre crop of the image, resized to ``size`` (rows, cols), as integers 0..levels−1."""
    h, w = size
    gray = image.convert("L")
    width, height = gray.size
    aspect = w / h
    if width / height > aspect:
        crop_w, crop_h = round(height * aspect), height
    else:
        crop_w, crop_h = width, round(width / aspect)
    left, top = (width - crop_w) // 2, (height - crop_h) // 2
    patch = gray.crop((left, top, left + max(crop_w, 1), top + max(crop_h, 1))).resize((w, h), Image.Resampling.BOX)
    values = np.asarray(patch, dtype=np.float64) / 255.0
    return np.minimum(np.floor(values * levels), levels - 1)


def apply_kernel(gray: np.ndarray, kernel: np.ndarray, geo: Geometry) -> np.ndarray:
    """Convolve (cross-correlate, as PyTorch does) a 2-D image with a 2-D kernel using ``geo``'s stride,
    padding and dilation; ``geo`` must be a convolution whose input size and kernel size match."""
    if geo.op != "conv":
        raise ValueError("the kernel playground applies a convolution")
    if (geo.rows.size, geo.cols.size) != gray.shape or (geo.rows.kernel, geo.cols.kernel) != kernel.shape:
        raise ValueError("the geometry does not match the image and kernel sizes")
    x = torch.from_numpy(np.ascontiguousarray(gray, dtype=np.float64))[None, None]
    w = torch.from_numpy(np.ascontiguousarray(kernel, dtype=np.float64))[None, None]
    padding = "same" if geo.padding_preset == "same" else (geo.rows.pad_before, geo.cols.pad_before)
    out = F.conv2d(
        x,
        w,
        stride=(geo.rows.stride, geo.cols.stride),
        padding=padding,
        dilation=(geo.rows.dilation, geo.cols.dilation),
    )
    return out[0, 0].numpy()
