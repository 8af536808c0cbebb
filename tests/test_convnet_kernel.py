"""The fast ConvNet kernel (pipelines/convnet_kernel.py) against neural-tangents' ``stax``.

Values within 1e-5 relative in float32 and 1e-9 in float64; gradients with respect to both
inputs within 1e-4. Cases span convnet and convnet3, depths 1 to 3, NTK and NNGP, real images
(scikit-learn's 8x8 digits, also upsampled to 32x32x3) and random ones (16x16x3, 32x32x3, and
16x8x2 / 16x4x2 cases whose width axis uses the "full" layout while the height uses offsets).
Kernels are small (2 x 2 to 3 x 2 entries); most of the file's time is XLA compiling each case's
two kernels (or their gradients), one program per case.
"""

import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax_x64 import enable_x64, float64_reference

from distilled_registry.pipelines import convnet_kernel, convnet_layout, kernels


def _digits():
    # load_digits' own file, read without importing scikit-learn (~3 s in each float64 child process)
    from distilled_registry.pipelines.sources import digits_arrays

    return (digits_arrays()[0] / 16.0)[..., None]  # (1797, 8, 8, 1) in [0, 1]


def _images(name: str, dtype=np.float32):
    """``(x1, x2)``: a few images of the named kind, as ``dtype``."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    if name == "digits8":
        d = _digits()
        x1, x2 = d[[0, 11, 22]], d[[5, 17]]
    elif name == "digits32":  # real digits, 4x nearest-neighbour upsampled, three tinted channels
        d = _digits()[[3, 8, 13, 29]]
        d = np.kron(d, np.ones((1, 4, 4, 1))) * np.array([1.0, 0.7, 0.4]) - 0.3
        x1, x2 = d[:2], d[2:]
    else:
        shape = {"rand16": (16, 16, 3), "rand32": (32, 32, 3), "rand16x8": (16, 8, 2),
                 "rand16x4": (16, 4, 2), "rand8c16": (8, 8, 16), "rand28": (28, 28, 1),
                 "rand12x9": (12, 9, 2)}[name]
        n1, n2 = (2, 2) if name in ("rand32", "rand28") else (3, 2)
        x1, x2 = rng.normal(size=(n1,) + shape), rng.normal(size=(n2,) + shape)
    return x1.astype(dtype), x2.astype(dtype)


def _pair(arch: str, depth: int, get: str):
    """The neural-tangents and the fast kernel functions of the same spec, both jitted."""
    nt = kernels.make_kernel_fn(kernels.KernelSpec(arch, depth=depth, get=get, impl="nt"))
    fast = kernels.make_kernel_fn(kernels.KernelSpec(arch, depth=depth, get=get, impl="fast"))
    return nt, fast


def _max_rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def _norm_rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# (images, architecture, depth, get): every architecture at depths 1-3, NTK and NNGP at depths
# 1-3, over 8x8 real and 16x16 random images, plus two 32x32 cases, a non-square one, one with 16
# channels (the input covariance then uses a contraction instead of a sum over channels), and
# sides that are not multiples of 2^depth (28x28 and 12x9 at depth 3: VALID pools round down).
FLOAT32_CASES = [
    ("digits8", "convnet", 1, "ntk"), ("digits8", "convnet", 3, "ntk"),
    ("digits8", "convnet3", 1, "nngp"), ("digits8", "convnet3", 2, "ntk"),
    ("digits8", "convnet3", 3, "nngp"),
    ("rand16", "convnet", 1, "nngp"), ("rand16", "convnet", 2, "ntk"),
    ("rand16", "convnet3", 2, "nngp"),
    ("rand32", "convnet", 3, "ntk"), ("digits32", "convnet3", 2, "nngp"),
    ("rand16x8", "convnet", 3, "ntk"), ("rand8c16", "convnet", 2, "nngp"),
    ("rand28", "convnet", 3, "ntk"), ("rand12x9", "convnet3", 3, "nngp"),  # odd sides pool down
]


@pytest.mark.parametrize("images,arch,depth,get", FLOAT32_CASES)
def test_equals_neural_tangents_float32(images, arch, depth, get):
    x1, x2 = _images(images)
    nt, fast = _pair(arch, depth, get)
    ref, got = nt(x1, x2), fast(x1, x2)
    assert got.shape == (len(x1), len(x2)) and got.dtype == jnp.float32
    assert _max_rel(got, ref) < 1e-5


@pytest.mark.parametrize("images,arch,depth,get", [
    ("digits8", "convnet", 3, "ntk"), ("rand16", "convnet3", 2, "nngp"),
])
def test_equals_neural_tangents_float64(images, arch, depth, get):
    float64_reference(__file__, "_compare_float64", images, arch, depth, get)


def _compare_float64(images: str, arch: str, depth: int, get: str) -> None:
    with enable_x64():
        x1, x2 = _images(images, np.float64)
        nt, fast = _pair(arch, depth, get)
        ref, got = nt(x1, x2), fast(x1, x2)
        assert got.dtype == jnp.float64
        assert _max_rel(got, ref) < 1e-9


def _grads(fn, x1, x2, weights):
    """Gradients of ``sum(weights * K(x1, x2))`` with respect to ``x1`` and ``x2``."""
    loss = lambda a, b: jnp.sum(weights * fn(a, b))  # noqa: E731
    return jax.jit(jax.grad(loss, argnums=(0, 1)))(x1, x2)


@pytest.mark.parametrize("images,arch,depth,get", [
    ("digits8", "convnet", 2, "ntk"), ("rand16x4", "convnet3", 2, "ntk"),
])
def test_gradients_equal_neural_tangents(images, arch, depth, get):
    # NTK only: its recursion contains the NNGP one (same ReLU map, same custom JVP).
    x1, x2 = _images(images)
    weights = np.random.default_rng(1).normal(size=(len(x1), len(x2))).astype(np.float32)
    nt, fast = _pair(arch, depth, get)
    for g_fast, g_nt in zip(_grads(fast, x1, x2, weights), _grads(nt, x1, x2, weights)):
        assert np.all(np.isfinite(g_fast))
        assert _norm_rel(g_fast, g_nt) < 1e-4


def test_gradient_of_an_image_set_against_itself():
    """KIP differentiates K(X_s, X_s): identical images, where the ReLU angle is 0 (cos = 1) and
    the derivative of the NTK's arc-cosine factor is singular. Both implementations use the same
    convention there (zero derivative of sqrt at 0); float64 shows they agree, float32 that the
    gradient stays finite."""
    float64_reference(__file__, "_self_gradient_float64")
    x, _ = _images("digits8")
    weights = np.random.default_rng(2).normal(size=(len(x), len(x)))
    _, fast32 = _pair("convnet", 1, "ntk")
    g32 = jax.jit(jax.grad(lambda a: jnp.sum(weights.astype(np.float32) * fast32(a, a))))(x)
    assert np.all(np.isfinite(g32))


def _self_gradient_float64() -> None:
    x, _ = _images("digits8")
    weights = np.random.default_rng(2).normal(size=(len(x), len(x)))
    with enable_x64():
        nt, fast = _pair("convnet", 1, "ntk")
        loss = lambda f: jax.jit(jax.grad(lambda a: jnp.sum(weights * f(a, a))))  # noqa: E731
        xd = x.astype(np.float64)
        assert _norm_rel(loss(fast)(xd), loss(nt)(xd)) < 1e-6


def test_batching_does_not_change_the_kernel():
    """One pair per scan step (with a padded last batch) and everything in one step agree."""
    x1, x2 = _images("rand16")
    spec = kernels.KernelSpec("convnet", depth=2, get="ntk", impl="fast")
    one = jax.jit(convnet_kernel.kernel_fn(spec, target_entries=1))(x1, x2)
    assert convnet_kernel.pairs_per_batch(convnet_layout.layouts(spec.depth, 16, 16), 2 ** 40) > 6
    all_at_once = jax.jit(convnet_kernel.kernel_fn(spec, target_entries=2 ** 40))(x1, x2)
    np.testing.assert_allclose(one, all_at_once, rtol=1e-6)


def test_rejects_what_it_does_not_compute():
    with pytest.raises(ValueError):
        convnet_kernel.kernel_fn(kernels.KernelSpec("fc", depth=1))
    fn = convnet_kernel.kernel_fn(kernels.KernelSpec("convnet", depth=3, impl="fast"))
    with pytest.raises(ValueError, match="at least 8"):
        fn(np.zeros((1, 6, 6, 1), np.float32), np.zeros((1, 6, 6, 1), np.float32))
    with pytest.raises(ValueError, match="same shape"):
        fn(np.zeros((1, 8, 8, 1), np.float32), np.zeros((1, 8, 8, 3), np.float32))
