"""Infinite-width kernels (NTK / NNGP) of the networks KIP and LS distil with.

A kernel is described by a small serialisable :class:`KernelSpec` and turned into a jitted
function ``kernel_fn(x1, x2) -> K`` with ``x1: (n1, H, W, C)``, ``x2: (n2, H, W, C)`` and
``K: (n1, n2)`` float32.

Architectures (neural-tangents ``stax``, NTK parameterisation, ``W_std = sqrt(2)``,
``b_std = 0.1`` by default), as in Nguyen et al., "Dataset Meta-Learning from Kernel Ridge
Regression" (ICLR 2021) and "Dataset Distillation with Infinitely Wide Convolutional
Networks" (NeurIPS 2021):

- ``fc``:       Flatten, depth x [Dense, ReLU], Dense.
- ``convnet``:  [3x3 Conv SAME, ReLU], then depth x [3x3 Conv SAME, ReLU, AvgPool 2x2], Flatten, Dense.
- ``convnet3``: ``convnet`` without the prepended [Conv, ReLU].

The width of a layer does not enter the infinite-width kernel, so the spec has none.

neural-tangents is imported inside the functions that build kernels: it pulls in TensorFlow,
which costs seconds, and nothing that only reads releases should pay that.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import numpy as np

from .limits import MAX_DEPTH  # deepest kernel; a convnet is also limited by its images (2**depth <= H, W)
from .tiling import pad_rows

ARCHITECTURES = ("fc", "convnet", "convnet3")
GETS = ("ntk", "nngp")
IMPLS = ("nt", "fast")

KernelFn = Callable[[Any, Any], Any]


@dataclasses.dataclass(frozen=True)
class KernelSpec:
    """What kernel to compute: enough to rebuild it exactly, and nothing else.

    Attributes:
      architecture: ``fc``, ``convnet`` or ``convnet3``.
      depth: hidden Dense+ReLU layers (fc) or Conv+ReLU+AvgPool blocks (convnets).
      W_std: weight standard deviation (NTK parameterisation).
      b_std: bias standard deviation.
      get: ``ntk`` (neural tangent kernel) or ``nngp`` (infinite-width Gaussian process).
      impl: ``nt`` (neural-tangents ``stax``) or ``fast`` (this package's ConvNet recursion).
    """

    architecture: str = "fc"
    depth: int = 1
    W_std: float = math.sqrt(2.0)
    b_std: float = 0.1
    get: str = "ntk"
    impl: str = "nt"

    def __post_init__(self):
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"unknown kernel architecture {self.architecture!r}; choose one of {ARCHITECTURES}")
        if not isinstance(self.depth, int) or not 1 <= self.depth <= MAX_DEPTH:
            raise ValueError(f"--depth {self.depth!r} is out of range: the kernel's depth is 1..{MAX_DEPTH} (hidden "
                             "layers of fc; pooling blocks of convnets, also at most log2 of the image side)")
        if self.get not in GETS:
            raise ValueError(f"kernel 'get' must be one of {GETS}, got {self.get!r}")
        if self.impl not in IMPLS:
            raise ValueError(f"kernel impl must be one of {IMPLS}, got {self.impl!r}")
        if self.impl == "fast" and self.architecture == "fc":
            raise ValueError("impl='fast' exists for convnet and convnet3 only; use impl='nt' for fc")
        if not (self.W_std > 0 and self.b_std >= 0):
            raise ValueError(f"need W_std > 0 and b_std >= 0, got W_std={self.W_std}, b_std={self.b_std}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "KernelSpec":
        return cls(**d)

    def min_image_size(self) -> int:
        """Height and width must be at least this (one 2x2 pool per block)."""
        return 1 if self.architecture == "fc" else 2 ** self.depth

    def check_images(self, shape: tuple) -> None:
        """Raise ValueError when images of ``shape`` (N, H, W, C) cannot go through the network.

        Both implementations pool with VALID padding and round odd sides down (28 -> 14 -> 7 -> 3, as
        neural-tangents does), so any side of at least ``2**depth`` works.
        """
        if len(shape) != 4:
            raise ValueError(f"kernels take NHWC images, got an array of shape {shape}")
        h, w = shape[1], shape[2]
        m = self.min_image_size()
        if h < m or w < m:
            deepest = max(0, min(int(h), int(w)).bit_length() - 1)  # floor(log2(min(H, W)))
            fix = f"give --depth {deepest} or less" if deepest >= 1 else "use --kernel fc"
            raise ValueError(
                f"--depth {self.depth} is too deep for {h}x{w} images: {self.architecture} with depth {self.depth} "
                f"pools {self.depth} times by 2, so image height and width must be at least {m}; got {h}x{w}; {fix}")


def stax_network(spec: KernelSpec, width: int = 1024, out_dim: int = 1):
    """The neural-tangents ``stax.serial`` network of ``spec``: ``(init_fn, apply_fn, kernel_fn)``.

    ``width`` (hidden units or channels) and ``out_dim`` (outputs of the last Dense) only shape the
    finite network of ``init_fn`` / ``apply_fn``; ``kernel_fn`` does not depend on them.
    """
    from .nt_compat import stax as import_stax

    stax = import_stax()

    def dense(width):
        return stax.Dense(width, W_std=spec.W_std, b_std=spec.b_std, parameterization="ntk")

    def conv(width):
        return stax.Conv(width, (3, 3), padding="SAME", W_std=spec.W_std, b_std=spec.b_std,
                         parameterization="ntk")

    if spec.architecture == "fc":
        layers = [stax.Flatten()]
        for _ in range(spec.depth):
            layers += [dense(width), stax.Relu()]
        layers += [dense(out_dim)]
    else:
        layers = []
        if spec.architecture == "convnet":
            layers += [conv(width), stax.Relu()]
        for _ in range(spec.depth):
            layers += [conv(width), stax.Relu(), stax.AvgPool((2, 2), strides=(2, 2))]
        layers += [stax.Flatten(), dense(out_dim)]
    return stax.serial(*layers)


def make_kernel_fn(spec: KernelSpec, spread: bool = True) -> KernelFn:
    """A jitted ``kernel_fn(x1 (n1,H,W,C), x2 (n2,H,W,C)) -> (n1, n2)`` for ``spec``.

    Differentiable with respect to both inputs (KIP backpropagates through it). With ``spread``
    (default) the longer input is split over jax's local devices when there are several
    (:func:`devices.over_devices`: the CPU cores of a program that called
    :func:`devices.one_device_per_core`, or the GPUs of the machine).
    """
    import jax

    from .devices import over_devices

    if spec.impl == "fast":
        from . import convnet_kernel  # the fast ConvNet recursion (issue: 10x faster kernel)

        fn = convnet_kernel.kernel_fn(spec)
    else:
        _, _, nt_kernel_fn = stax_network(spec)

        def fn(x1, x2):
            return nt_kernel_fn(x1, x2, spec.get)

    return jax.jit(over_devices(fn) if spread else fn)


def kernel_matrix(kernel_fn: KernelFn, x1: np.ndarray, x2: np.ndarray, block: int = 1000,
                  progress: str | None = None) -> np.ndarray:
    """``K[i, j] = k(x1[i], x2[j])`` computed in ``block x block`` pieces, as float32 numpy.

    Blocks are padded to a fixed shape so jit compiles at most once per shape.
    """
    n1, n2 = len(x1), len(x2)
    out = np.empty((n1, n2), np.float32)
    b1, b2 = min(block, n1), min(block, n2)
    starts = [(i, j) for i in range(0, n1, b1) for j in range(0, n2, b2)]
    it = starts
    if progress:
        from .progress import bar

        it = bar(starts, desc=progress, unit="block", leave=False)
    for i, j in it:
        a = pad_rows(x1[i:i + b1], b1)
        b = pad_rows(x2[j:j + b2], b2)
        k = np.asarray(kernel_fn(a, b))
        out[i:i + b1, j:j + b2] = k[: min(b1, n1 - i), : min(b2, n2 - j)]
    return out


