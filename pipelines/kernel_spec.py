"""The kernel spec: what infinite-width kernel to compute (architecture, depth, W_std, b_std, get, impl), checked.

A small serialisable frozen dataclass, numpy-free and JAX-free; it imports nothing of the package but
:mod:`.limits`, so the kernel implementations (:mod:`.kernels`, :mod:`.convnet_kernel`) both take it
without importing each other. :mod:`.kernels` re-exports it.
"""

from __future__ import annotations

import dataclasses
import math

from .limits import MAX_DEPTH  # deepest kernel; a convnet is also limited by its images (2**depth <= H, W)

ARCHITECTURES = ("fc", "convnet", "convnet3")
GETS = ("ntk", "nngp")
IMPLS = ("nt", "fast")


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
