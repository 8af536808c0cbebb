"""The networks of the kernel specs, described once: a layer list per architecture and depth.

Every network this package computes with is built from :func:`network` (no other module restates
an architecture): the neural-tangents reference and the finite network of transfer
(:func:`kernels.stax_network` maps each layer to its ``stax`` layer), the fast ConvNet kernel
(:func:`convnet_kernel.kernel_fn` maps each to a step of the covariance recursion) and the
network's description in provenance (:func:`describe`)::

    fc:        Flatten, depth x [Dense(width), ReLU], Dense(out)
    convnet:   [Conv3x3(width) SAME, ReLU], depth x [Conv3x3(width) SAME, ReLU, AvgPool2x2], Flatten, Dense(out)
    convnet3:                               depth x [Conv3x3(width) SAME, ReLU, AvgPool2x2], Flatten, Dense(out)

NTK parameterisation, weights of standard deviation ``W_std`` and biases ``b_std`` (the spec's)
in every Dense and Conv; AvgPool 2x2 with stride 2 and VALID padding (an odd side drops its last
row or column, 28 -> 14 -> 7 -> 3). The width of the hidden layers and the outputs of the last
Dense shape the finite network only; the infinite-width kernels do not depend on them.

Pure: no numpy, no jax, nothing of the package.
"""

from __future__ import annotations

import dataclasses
from typing import Union


@dataclasses.dataclass(frozen=True)
class Conv:
    """A ``size x size`` convolution to ``width`` channels, stride 1, ``padding`` (``SAME``)."""

    size: int = 3
    padding: str = "SAME"

    def describe(self, width: str) -> str:
        return f"Conv{self.size}x{self.size}({width}) {self.padding}"


@dataclasses.dataclass(frozen=True)
class Relu:
    """``max(x, 0)``, elementwise."""

    def describe(self, width: str) -> str:
        return "ReLU"


@dataclasses.dataclass(frozen=True)
class AvgPool:
    """Mean over ``window x window`` patches every ``stride`` pixels, ``padding`` (``VALID``)."""

    window: int = 2
    stride: int = 2
    padding: str = "VALID"

    def describe(self, width: str) -> str:
        return f"AvgPool{self.window}x{self.window}"


@dataclasses.dataclass(frozen=True)
class Flatten:
    """``(H, W, C)`` features to ``H * W * C``."""

    def describe(self, width: str) -> str:
        return "Flatten"


@dataclasses.dataclass(frozen=True)
class Dense:
    """A fully connected layer: ``width`` hidden units, or the network's outputs when ``readout``."""

    readout: bool = False

    def describe(self, width: str) -> str:
        return "Dense(C)" if self.readout else f"Dense({width})"


Layer = Union[Conv, Relu, AvgPool, Flatten, Dense]


@dataclasses.dataclass(frozen=True)
class Block:
    """Layers that go together: once (``times`` None) or ``times`` in a row (the depth)."""

    layers: tuple[Layer, ...]
    times: int | None = None

    def describe(self, width: str) -> str:
        """``Conv3x3(64) SAME``; ``[Conv3x3(64) SAME, ReLU]``; ``3 x [Dense(64), ReLU]``."""
        words = ", ".join(layer.describe(width) for layer in self.layers)
        words = f"[{words}]" if len(self.layers) > 1 else words
        return words if self.times is None else f"{self.times} x {words}"


def blocks(architecture: str, depth: int) -> tuple[Block, ...]:
    """The network of ``architecture`` (``fc``, ``convnet``, ``convnet3``) with ``depth`` hidden blocks."""
    if architecture == "fc":
        return (Block((Flatten(),)), Block((Dense(), Relu()), depth), Block((Dense(readout=True),)))
    if architecture not in ("convnet", "convnet3"):
        raise ValueError(f"unknown kernel architecture {architecture!r}; choose fc, convnet or convnet3")
    first = (Block((Conv(), Relu())),) if architecture == "convnet" else ()
    return first + (Block((Conv(), Relu(), AvgPool()), depth), Block((Flatten(),)), Block((Dense(readout=True),)))


def network(architecture: str, depth: int) -> tuple[Layer, ...]:
    """The layer list of :func:`blocks`, in order, the repeated blocks written out."""
    return tuple(layer for block in blocks(architecture, depth)
                 for _ in range(1 if block.times is None else block.times) for layer in block.layers)


def describe(architecture: str, depth: int, width: int | str = "width") -> str:
    """The network in words, e.g. ``Flatten, 2 x [Dense(1024), ReLU], Dense(C)`` (``C`` outputs)."""
    return ", ".join(block.describe(str(width)) for block in blocks(architecture, depth))


__all__ = ["AvgPool", "Block", "Conv", "Dense", "Flatten", "Layer", "Relu", "blocks", "describe",
           "network"]
