"""Infinite-width kernels (NTK / NNGP) of the networks KIP and LS distil with.

A kernel is described by a small serialisable :class:`KernelSpec` (:mod:`.kernel_spec`) and turned into a jitted
function ``kernel_fn(x1, x2) -> K`` with ``x1: (n1, H, W, C)``, ``x2: (n2, H, W, C)`` and
``K: (n1, n2)`` float32.

Architectures: the layer lists of :mod:`architectures` (``fc``, ``convnet``, ``convnet3``; NTK
parameterisation, ``W_std = sqrt(2)``, ``b_std = 0.1`` by default), as in Nguyen et al., "Dataset
Meta-Learning from Kernel Ridge Regression" (ICLR 2021) and "Dataset Distillation with Infinitely
Wide Convolutional Networks" (NeurIPS 2021). :func:`stax_network` builds neural-tangents' network
from them (the reference, ``impl nt``), :mod:`convnet_kernel` its own recursion (``impl fast``).

The width of a layer does not enter the infinite-width kernel, so the spec has none.

neural-tangents is imported inside the functions that build kernels, through :mod:`nt_compat` (which
keeps its TensorFlow part from loading): nothing that only reads releases should pay for it.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from . import architectures as arch
from .kernel_spec import ARCHITECTURES, GETS, IMPLS, KernelSpec  # noqa: F401 - re-exported: kernels.KernelSpec
from .limits import MAX_DEPTH  # noqa: F401 - re-exported
from .tiling import pad_rows

KernelFn = Callable[[Any, Any], Any]


def stax_network(spec: KernelSpec, width: int = 1024, out_dim: int = 1):
    """The neural-tangents ``stax.serial`` network of ``spec``: ``(init_fn, apply_fn, kernel_fn)``.

    One ``stax`` layer per layer of :func:`architectures.network` (NTK parameterisation, the spec's
    ``W_std`` and ``b_std``). ``width`` (hidden units or channels) and ``out_dim`` (outputs of the
    readout Dense) only shape the finite network of ``init_fn`` / ``apply_fn``; ``kernel_fn`` does
    not depend on them.
    """
    from .nt_compat import stax as import_stax

    stax = import_stax()
    return stax.serial(*(_stax_layer(stax, layer, spec, width, out_dim)
                         for layer in arch.network(spec.architecture, spec.depth)))


def _stax_layer(stax, layer: arch.Layer, spec: KernelSpec, width: int, out_dim: int):
    """The ``stax`` layer of one :mod:`architectures` layer."""
    if isinstance(layer, arch.Conv):
        return stax.Conv(width, (layer.size, layer.size), padding=layer.padding, W_std=spec.W_std,
                         b_std=spec.b_std, parameterization="ntk")
    if isinstance(layer, arch.Dense):
        return stax.Dense(out_dim if layer.readout else width, W_std=spec.W_std, b_std=spec.b_std,
                          parameterization="ntk")
    if isinstance(layer, arch.AvgPool):
        return stax.AvgPool((layer.window, layer.window), strides=(layer.stride, layer.stride),
                            padding=layer.padding)
    if isinstance(layer, arch.Relu):
        return stax.Relu()
    if isinstance(layer, arch.Flatten):
        return stax.Flatten()
    raise TypeError(f"no stax layer for {layer!r}")


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


@functools.lru_cache(maxsize=16)
def shared_kernel_fn(spec: KernelSpec, spread: bool = True) -> KernelFn:
    """:func:`make_kernel_fn`, built once a process for each ``(spec, spread)``: later runs in the same
    process (a resume, an evaluation after a run, a test's second run) reuse its traced and compiled
    code instead of tracing and compiling a new closure (about 5 s for the depth-2 ConvNet on 8x8
    images). The function is pure, so sharing it changes no value."""
    return make_kernel_fn(spec, spread)


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


