"""Convolution arithmetic: the geometry PyTorch computes, its steps, and how they are shown."""
