"""Convolution arithmetic: the geometry PyTorch computes, its steps, and how they are shown."""

ARITHMETIC_TABS = ("Animation", "Mapping", "Kernel playground", "PyTorch code")
"""The views of the arithmetic page, in order (its ``atab`` setting takes one of them; in presentation mode the
animation stands above the others instead)."""
