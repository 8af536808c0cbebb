"""A fast NTK / NNGP of the ConvNets of :mod:`architectures`, equal to neural-tangents' ``stax``.

The networks are the layer lists of :func:`architectures.network` (``convnet`` and ``convnet3``:
Conv3x3 SAME, ReLU, AvgPool 2x2/2 VALID, Flatten, Dense; NTK parameterisation, weight and bias
standard deviations ``sigma_w = W_std``, ``sigma_b = b_std``); :func:`kernel_fn` maps each layer
to one step of the recursion below. Their infinite-width kernels follow the convolutional NTK
(CNTK) recursion of Arora, Du, Hu, Li, Salakhutdinov and Wang, "On Exact Computation with an
Infinitely Wide Neural Net" (NeurIPS 2019), as used for dataset distillation by Nguyen, Novak,
Xiao and Lee, "Dataset Distillation with Infinitely Wide Convolutional Networks" (NeurIPS 2021).
For two images ``a, b`` (``H x W x C``)
let ``S[p, q]`` be the NNGP covariance of the pre-activations at pixel ``p = (h, w)`` of ``a`` and
pixel ``q = (h', w')`` of ``b``, ``T[p, q]`` the NTK, and ``v_a[p] = S_aa[p, p]`` the variance of
image ``a`` alone. Layer by layer (neural-tangents' conventions, checked against ``stax``):

- input:    ``S[p, q] = <a[p], b[q]> / C``, ``T = 0``;
- Conv:     ``S'[p, q] = sigma_w^2 / 9 * sum_{e in {-1,0,1}^2} S[p+e, q+e] + sigma_b^2``,
            ``T'[p, q] = sigma_w^2 / 9 * sum_e T[p+e, q+e] + S'[p, q]``; terms with ``p+e`` or
            ``q+e`` outside the image are zero (SAME zero padding), and the mean still divides by 9;
- ReLU:     with ``P = v_a[p] v_b[q]``, ``s = S[p, q]``, ``r = sqrt(max(P - s^2, 0))``,
            ``theta = atan2(r, s)`` (the arc-cosine kernel of Cho and Saul, 2009):
            ``S' = (r + (pi - theta) s) / (2 pi)``, ``T' = T (pi - theta) / (2 pi)``;
- AvgPool:  ``S'[P, Q] = 1/16 sum_{i, j in {0,1}^2} S[2P+i, 2Q+j]`` (the same for ``T``);
- Flatten + Dense: ``K_nngp = sigma_w^2 mean_p S[p, p] + sigma_b^2``,
            ``K_ntk = sigma_w^2 mean_p T[p, p] + K_nngp``.

neural-tangents carries the whole ``(n1, n2, H, H, W, W)`` tensors through this recursion, with
convolutions. This kernel keeps only the pixel offsets that reach the readout, in the layout of
:mod:`convnet_layout` (pure numpy: which entries, where they are stored, and the index tables of
each resolution level), and computes the variances ``v_a`` from each image's recursion with
itself (NNGP only, up to the last ReLU), which costs ``O(n1 + n2)``, not ``O(n1 n2)``.

A batch of ``B`` image pairs is a ``(B, Kh, Kw, H*W)`` array (``K`` slots per axis), positions
flattened last: that long contiguous axis is what lets XLA vectorise the elementwise work (a
minor axis of 15 slots or of 2 pool phases ran several times slower). Per layer:

- Conv (:func:`_box`): for an offset axis the slot stays and the position moves, so the 3-tap sum
  is a product with the band matrix ``(|i - j| <= 1)`` along that axis of the ``(.., H, W)`` view
  (a matmul: it materialises its input, so XLA does not fuse the ReLU before it into 9 reads and
  recompute it, and its transpose is itself); for a full axis slot and position shift together.
- ReLU (:mod:`relu_map`): elementwise; the partner variances ``v_b[q]`` are gathered once per
  image as ``(Kh, Kw, H*W)`` windows. ``atan2`` is a degree-17 odd polynomial on ``[0, 1]`` plus
  octant selects in float32 (XLA's ``atan2`` is a scalar libm call per element on CPU).
- AvgPool (:func:`_pool`): strided slices of slots (:meth:`convnet_layout.Level.pool_slots`) and
  positions. Like neural-tangents (VALID padding), an odd side loses its last row or column:
  28 -> 14 -> 7 -> 3.

Composition, neural-tangents' ``stax`` way: a layer is a function from one :class:`_Cov` (``S``,
``T`` or ``None`` for the NNGP, the variances of both sides at every ReLU) to the next, made for
its level by :func:`_conv`, :func:`_relu`, :func:`_avg_pool` or :func:`_readout` from one layer of
:func:`architectures.network` (:func:`_step`); :func:`_serial` applies them in order, for pairs of
images (:func:`_layers`) and, up to the last ReLU, for each image with itself (:func:`_self_layers`,
with a :func:`_variance` before each ReLU: the variances the pairs' ReLUs read).

Loops: over the images of ``x2`` (``lax.map``; their windows are built once), and within, over
batches of images of ``x1`` (``lax.scan``), about ``2^18`` level-0 entries per array on CPU so a
batch stays in the L2/L3 caches, ``2^24`` on accelerators. Every batch is rematerialised in the
backward pass (``jax.checkpoint``), so the memory of the vjp stays that of one batch plus the
windows of the images of ``x2`` (rematerialised as well beyond :data:`RESIDUAL_BYTES`).

The ReLU map (:func:`relu_map.relu_maps`) has a hand-written JVP, stable where ``P = s^2``. The
3x3 box sum is linear and self-adjoint, so its vjp is itself (a ``custom_vjp``): reverse mode
(what KIP needs) works, forward mode (``jax.jvp``) does not; jit it.

Devices: :func:`kernels.make_kernel_fn` splits the longer input over jax's local devices
(:mod:`devices`): every CPU core of a command that asked for one device per core, or the GPUs.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import architectures as arch
from .convnet_layout import Level, band, layer_levels, layouts, self_layouts
from .kernel_spec import KernelSpec
from .relu_map import relu_maps

Array = Any
KernelFn = Callable[[Array, Array], Array]

# ----------------------------------------------------------------------------------------------
# Building blocks on (B, Kh, Kw, H*W) covariances: slot k of each axis holds the partner pixel
# (offset layout: p + k - R; full layout: k) of each position p = (h, w), flattened as h*W + w.
# The long, contiguous last axis is what lets XLA vectorise the elementwise work.

def _windows(v: Array, gather: np.ndarray) -> Array:
    """``(B, H*W, ...) -> (B, Kh, Kw, H*W, ...)``: the partner values (0 outside the image)."""
    zero = jnp.zeros_like(v[:, :1])
    return jnp.take(jnp.concatenate([v, zero], axis=1), gather, axis=1, mode="clip")


def _center(x: Array, center: np.ndarray) -> Array:
    """``(B, Kh, Kw, H*W) -> (B, H*W)``: the offset-0 entries."""
    return jnp.take(x.reshape(x.shape[0], -1), center, axis=1, mode="clip")


def _shift(x: Array, axis: int, k: int) -> Array:
    """``y[.., i, ..] = x[.., i + k, ..]`` along ``axis``, zero where ``i + k`` is outside."""
    n = x.shape[axis]
    pad = [(0, 0)] * x.ndim
    pad[axis] = (max(-k, 0), max(k, 0))
    return jax.lax.slice_in_dim(jnp.pad(x, pad), max(k, 0), max(k, 0) + n, axis=axis)


_HIGHEST = jax.lax.Precision.HIGHEST  # no TF32 / bf16 passes on accelerators


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _box(x: Array, geo: Level) -> Array:
    """``sum_{e in {-1,0,1}^2} X[p+e, q+e]``, zero outside the image (the unscaled 3x3 conv).

    Linear and self-adjoint (the offsets ``e`` and ``-e`` are both summed, with zero padding on
    both sides), so its vjp is itself: the backward pass runs the same fast products rather than
    the transposed batched matmul jax derives (measured three times slower on XLA's CPU).

    offset axis: the slot (offset) is unchanged and the position moves, a product with the
    symmetric band matrix ``(|i - j| <= 1)`` along that axis of the ``(.., H, W)`` view. A matmul
    materialises its input, so XLA cannot fuse the (expensive) ReLU before it into the 9 reads
    and recompute it; and its transpose is the same product, fast in the backward pass.
    full axis: position and partner slot move together (shifts; small arrays only).
    """
    return _box_apply(x, geo)


def _box_apply(x: Array, geo: Level) -> Array:
    shape = x.shape
    h, w = geo.h, geo.w
    if geo.lays[1].full:
        terms = [x]
        for e in (-1, 1):
            y = _shift(_shift(x, 3, e), 2, e)
            terms.append(jnp.where(geo.column_inside(e), y, 0.0))
        x = terms[0] + terms[1] + terms[2]
    else:
        x = jnp.matmul(x.reshape(-1, w), band(w, x.dtype), precision=_HIGHEST).reshape(shape)
    if geo.lays[0].full:
        x = x + _shift(_shift(x, 3, -w), 1, -1) + _shift(_shift(x, 3, w), 1, 1)
    else:
        # a batched product with the band matrix repeated per batch: no transposes of x, which a
        # plain "gh,nhw->ngw" contraction would need (in the forward and the backward pass)
        n = x.size // (h * w)
        x = jnp.einsum("ngh,nhw->ngw", np.broadcast_to(band(h, x.dtype), (n, h, h)),
                       x.reshape(n, h, w), precision=_HIGHEST).reshape(shape)
    return x


_box.defvjp(lambda x, geo: (_box_apply(x, geo), None),
            lambda geo, _, cotangent: (_box_apply(cotangent, geo),))


def _pool(x: Array, geo: Level) -> Array:
    """AvgPool 2 / stride 2: ``1/16 sum X[2P+i, 2Q+j]`` over ``i, j in {0,1}`` per axis.

    offset axis: coarse (position ``P``, slot ``D``) reads fine positions ``2P + i`` at fine slots
    ``2 D + (j - i + 1) + (R_f - 2 R_c - 1)``; full axis: fine slot ``2 D + j``. Strided slices
    only, no reshape with a minor axis of 2 (XLA vectorises such layouts poorly). An odd side
    loses its last row or column first (VALID padding, neural-tangents' floor).
    """
    h, w = geo.h, geo.w
    if h % 2 or w % 2:  # VALID pooling drops the last row / column of an odd side
        x = x.reshape(x.shape[:3] + (h, w))[..., : h - h % 2, : w - w % 2]
        h, w = h - h % 2, w - w % 2
        x = x.reshape(x.shape[:3] + (h * w,))

    def slot_slice(x, axis, i, j):  # the slots geo.pool_slots names, on axis 1 (height) or 2 (width)
        start, stop = geo.pool_slots(axis - 1, i, j)
        return jax.lax.slice_in_dim(x, start, stop, stride=2, axis=axis)

    # width: positions h*W + 2*wc + i (stride 2 in the flat axis), slots on axis 2
    out = 0
    for i in (0, 1):
        xi = jax.lax.slice_in_dim(x, i, h * w, stride=2, axis=3)  # (b, kh, kw, h * wc)
        for j in (0, 1):
            out = out + slot_slice(xi, 2, i, j)
    x = out.reshape(out.shape[:3] + (h // 2, 2 * (w // 2)))  # rows 2*hc + i: [i * wc, (i+1) * wc)
    out = 0
    wc = w // 2
    for i in (0, 1):
        xi = jax.lax.slice_in_dim(x, i * wc, (i + 1) * wc, axis=4)  # (b, kh, kwc, hc, wc)
        for j in (0, 1):
            out = out + slot_slice(xi, 1, i, j)
    return out.reshape(out.shape[:3] + (-1,)) * (1.0 / 16.0)


# ----------------------------------------------------------------------------------------------
# The recursion, neural-tangents' stax way: one function per layer from the kernels of a batch of
# image pairs (a _Cov) to the next, composed in series.

class _Cov(NamedTuple):
    """The kernels of a batch of ``B`` image pairs between two layers (stax's ``Kernel``).

    Attributes:
      s: the NNGP covariance ``S``, ``(B, Kh, Kw, HW_l)`` in the layout of the current level
        ``l``; ``(B,)`` after the readout.
      t: the NTK ``T``, the same shape; ``None`` when it is not computed (NNGP, the self pass) and
        before the first Conv (where ``T = 0``).
      var_left: one ``(B, HW_l)`` array per ReLU: the variances ``v_a[p]`` of the left images.
      var_right: one ``(B or 1, Kh, Kw, HW_l)`` array per ReLU: the variances ``v_b[q]`` of the
        right images' partners in the layout of ``s``, 0 outside the image (:func:`_windows`).
      relus: the ReLUs applied so far; the next one reads ``var_left[relus]``, ``var_right[relus]``.
    """

    s: Array
    t: Array | None = None
    var_left: tuple[Array, ...] = ()
    var_right: tuple[Array, ...] = ()
    relus: int = 0


Layer = Callable[[_Cov], _Cov]


def _serial(*layers: Layer) -> Layer:
    """The layers applied one after the other (stax's ``serial``)."""

    def apply(cov: _Cov) -> _Cov:
        for layer in layers:
            cov = layer(cov)
        return cov

    return apply


def _input_cov(xa: Array, xw) -> Array:
    """The input layer: ``S[p, q] = <a[p], b[q]> / C`` (and ``T = 0``), ``(B, Kh, Kw, HW)``.

    ``xa (B, HW, C)``; partner windows ``xw``: a list of ``C`` arrays ``(B or 1, Kh, Kw, HW)``
    (one per channel, ``C <= 8``) or one ``(B or 1, C, Kh, Kw, HW)``. Separate channels keep the
    backward pass's accumulators of ``d xw`` apart, one plain multiply-add per channel and pair (a
    stacked array made XLA pad and add them, 2x slower).
    """
    c = xa.shape[-1]
    if isinstance(xw, (list, tuple)):
        s = sum(xa[:, None, None, :, i] * xw[i] for i in range(c))
    else:
        s = jnp.einsum("bpc,bcklp->bklp", xa, jnp.broadcast_to(xw, (xa.shape[0],) + xw.shape[1:]),
                       precision=_HIGHEST)
    return s * (1.0 / c)


def _conv(geo: Level, w2: float, b2: float, ntk: bool) -> Layer:
    """Conv 3x3, SAME padding, at ``geo``'s level: ``(B, Kh, Kw, HW_l)`` to the same shape.

    ``S <- (sigma_w^2 / 9) box(S) + sigma_b^2`` and, with ``ntk``,
    ``T <- (sigma_w^2 / 9) box(T) + S`` (the new ``S``; ``T = S`` at the first Conv, where
    ``T = 0``). ``box(X)[p, q] = sum_{e in {-1,0,1}^2} X[p+e, q+e]`` (:func:`_box`), the terms
    with ``p+e`` or ``q+e`` outside the image zero (zero padding; the mean still divides by 9).
    ``w2 = sigma_w^2``, ``b2 = sigma_b^2``.
    """

    def conv(cov: _Cov) -> _Cov:
        s = (w2 / 9.0) * _box(cov.s, geo) + b2
        if not ntk:
            return cov._replace(s=s)
        t = s if cov.t is None else (w2 / 9.0) * _box(cov.t, geo) + s
        return cov._replace(s=s, t=t)

    return conv


def _relu(geo: Level) -> Layer:
    """ReLU at ``geo``'s level, the arc-cosine maps: ``(B, Kh, Kw, HW_l)`` to the same shape.

    With ``P[p, q] = v_a[p] v_b[q]`` (``var_left[relus]`` ``(B, HW_l)`` broadcast times
    ``var_right[relus]`` ``(B or 1, Kh, Kw, HW_l)``),
    ``r = sqrt(max(P - S^2, 0))`` and ``theta = atan2(r, S)`` (:func:`relu_map.relu_maps`):
    ``S <- (r + (pi - theta) S) / (2 pi)``, ``T <- T (pi - theta) / (2 pi)``. Entries whose
    partner ``q`` is outside the image (offset layout) stay zero (``geo.tables.mask``).
    """
    mask = geo.tables.mask

    def relu(cov: _Cov) -> _Cov:
        k = cov.relus
        prod = cov.var_left[k][:, None, None, :] * cov.var_right[k]
        s, dot = relu_maps(cov.s, prod)
        t = cov.t
        if not mask.all():  # entries whose partner is outside the image stay zero
            s = jnp.where(mask, s, 0.0)
            if t is not None:
                dot = jnp.where(mask, dot, 0.0)
        if t is not None:
            t = t * dot
        return cov._replace(s=s, t=t, relus=k + 1)

    return relu


def _variance(geo: Level) -> Layer:
    """The self pass's step before each ReLU: the variances it reads, from ``S`` itself.

    For an image with itself, ``v[p] = S[p, p]``: the offset-0 entries of ``S``
    (``geo.tables.center``), ``(B, HW_l)``, appended to ``var_left``; their partner windows
    ``v[q]``, ``(B, Kh, Kw, HW_l)`` (0 outside the image), appended to ``var_right``, for the
    ReLU that follows. ``S`` and ``T`` are unchanged.
    """
    gather, center = geo.tables.gather, geo.tables.center

    def variance(cov: _Cov) -> _Cov:
        v = _center(cov.s, center)
        return cov._replace(var_left=cov.var_left + (v,),
                            var_right=cov.var_right + (_windows(v, gather),))

    return variance


def _avg_pool(fine: Level, coarse: Level) -> Layer:
    """AvgPool 2x2 / stride 2, VALID: ``(B, Kh, Kw, HW_l)`` to ``(B, Kh', Kw', HW_{l+1})``.

    ``S[P, Q] <- 1/16 sum_{i, j in {0,1}^2} S[2P+i, 2Q+j]``, the same for ``T`` (:func:`_pool`
    at level ``fine``). An odd side drops its last row or column first; it then leaves coarse
    entries whose partner is outside the (smaller) image, which are zeroed
    (``coarse.tables.mask``).
    """
    odd = fine.h % 2 or fine.w % 2
    mask = coarse.tables.mask

    def avg_pool(cov: _Cov) -> _Cov:
        s = _pool(cov.s, fine)
        t = None if cov.t is None else _pool(cov.t, fine)
        if odd:  # an odd side leaves pooled entries whose (coarse) partner is outside: zero them
            s = jnp.where(mask, s, 0.0)
            if t is not None:
                t = jnp.where(mask, t, 0.0)
        return cov._replace(s=s, t=t)

    return avg_pool


def _readout(geo: Level, w2: float, b2: float) -> Layer:
    """Flatten + Dense at the last level ``geo``: ``(B, Kh, Kw, HW)`` to ``(B,)``.

    ``S <- sigma_w^2 mean_p S[p, p] + sigma_b^2``, ``T <- sigma_w^2 mean_p T[p, p] + S`` (the new
    ``S``): the offset-0 entries (``geo.tables.center``) are the diagonal of the flattened
    features.
    """
    center = geo.tables.center

    def readout(cov: _Cov) -> _Cov:
        s = w2 * jnp.mean(_center(cov.s, center), axis=-1) + b2
        t = None if cov.t is None else w2 * jnp.mean(_center(cov.t, center), axis=-1) + s
        return cov._replace(s=s, t=t)

    return readout


# The layers the recursion implements, as :mod:`architectures` writes them (Flatten and the readout
# Dense are one step: the readout reads the diagonal of the flattened features).
_HIDDEN = (arch.Conv(), arch.Relu(), arch.AvgPool())
_READOUT = (arch.Flatten(), arch.Dense(readout=True))


def _network(spec: KernelSpec) -> tuple[arch.Layer, ...]:
    """The layer list of ``spec`` (:func:`architectures.network`), checked to be one this recursion computes."""
    if spec.architecture not in ("convnet", "convnet3"):
        raise ValueError(f"the fast kernel covers convnet and convnet3, not {spec.architecture!r}")
    net = arch.network(spec.architecture, spec.depth)
    if net[-2:] != _READOUT or any(layer not in _HIDDEN for layer in net[:-2]):
        raise ValueError(f"the fast kernel computes Conv3x3 SAME, ReLU and AvgPool2x2 layers, then Flatten and "
                         f"the readout Dense; {spec.architecture} is {arch.describe(spec.architecture, spec.depth)}")
    return net


def _step(layer: arch.Layer, geos: list[Level], level: int, w2: float, b2: float, ntk: bool) -> Layer | None:
    """The recursion's step for ``layer`` at resolution ``level`` (None for Flatten: the readout flattens)."""
    if isinstance(layer, arch.Conv):
        return _conv(geos[level], w2, b2, ntk)
    if isinstance(layer, arch.Relu):
        return _relu(geos[level])
    if isinstance(layer, arch.AvgPool):
        return _avg_pool(geos[level], geos[level + 1])
    if isinstance(layer, arch.Dense):
        return _readout(geos[level], w2, b2)
    return None


def _layers(spec: KernelSpec, geos: list[Level], ntk: bool) -> list[Layer]:
    """The layers of the kernel of two images, input covariance to readout (``geos``: levels
    ``0 .. depth`` in the pairs' layouts): one :func:`_step` per layer of :func:`_network`. Their
    :func:`_serial` maps a :class:`_Cov` with the input ``S`` and the variances at every ReLU to one
    whose ``s`` (and ``t``) are ``(B,)``."""
    w2, b2 = spec.W_std ** 2, spec.b_std ** 2
    net = _network(spec)
    steps = [_step(layer, geos, level, w2, b2, ntk) for layer, level in zip(net, layer_levels(net))]
    return [step for step in steps if step is not None]


def _self_layers(spec: KernelSpec, geos: list[Level]) -> list[Layer]:
    """The layers of each image with itself, which yield the variances (``geos``: levels in the
    :func:`convnet_layout.self_layouts`). NNGP only; a :func:`_variance` before each ReLU feeds it
    and collects ``var_left``; they end at the last ReLU's variance (the layers after it change no
    variance). Their :func:`_serial` maps a :class:`_Cov` with the input ``S`` to one whose
    ``var_left`` holds the ``(B, HW_l)`` variances at every ReLU."""
    w2, b2 = spec.W_std ** 2, spec.b_std ** 2
    net = _network(spec)
    last = max(i for i, layer in enumerate(net) if isinstance(layer, arch.Relu))
    steps = []
    for i, (layer, level) in enumerate(zip(net[:last + 1], layer_levels(net))):
        if isinstance(layer, arch.Relu):
            steps.append(_variance(geos[level]))
        if i < last:
            steps.append(_step(layer, geos, level, w2, b2, False))
    return steps


def _relu_levels(spec: KernelSpec) -> list[int]:
    """The resolution level of each ReLU of the network, in order."""
    net = _network(spec)
    return [level for layer, level in zip(net, layer_levels(net)) if isinstance(layer, arch.Relu)]


def _batched_map(body: Callable[[Array], Any], n: int, batch: int) -> Any:
    """``body(idx)`` over ``idx = 0..n-1`` in batches of ``batch`` indices (a ``lax.scan``).

    ``body`` takes a ``(batch,)`` int array and returns arrays with a leading ``batch`` axis.
    ``batch`` is first lowered to ``ceil(n / steps)`` for the fewest steps, so padding stays small;
    the last batch is padded with index 0 and its extra rows dropped. Each batch is rematerialised in
    the backward pass (``jax.checkpoint``): the memory is that of one batch, and its
    intermediates stay in the CPU caches.
    """
    steps = -(-n // max(1, min(batch, n)))
    batch = -(-n // steps)  # the fewest steps, balanced: 100 pairs at most 72 a step -> 2 x 50, not 72 + 28
    idx = np.arange(steps * batch, dtype=np.int32)
    idx = np.where(idx < n, idx, 0).reshape(steps, batch)
    if steps == 1:  # nothing to save by rematerialising
        out = body(jnp.asarray(idx[0]))
    else:
        body = jax.checkpoint(body)
        _, out = jax.lax.scan(lambda carry, i: (carry, body(i)), None, jnp.asarray(idx))
        out = jax.tree_util.tree_map(lambda y: y.reshape((steps * batch,) + y.shape[2:]), out)
    return jax.tree_util.tree_map(lambda y: y[:n], out)


# Entries in each level-0 covariance array of a batch of pairs. CPU: 2^18 (1 MiB in float32), so
# that a batch's working set stays in the L2/L3 caches of a core (larger batches measured slower).
# Accelerators: 2^24, enough pairs per step to fill the device.
TARGET_ENTRIES_CPU = 2 ** 18
TARGET_ENTRIES_ACCELERATOR = 2 ** 24


# Memory the backward pass may keep for the per-image windows of x2 (see kernel_fn).
RESIDUAL_BYTES = 2 ** 30


def default_target_entries() -> int:
    """:data:`TARGET_ENTRIES_CPU` on CPU, :data:`TARGET_ENTRIES_ACCELERATOR` elsewhere."""
    return TARGET_ENTRIES_CPU if jax.default_backend() == "cpu" else TARGET_ENTRIES_ACCELERATOR


def pairs_per_batch(lays, target_entries: int | None = None) -> int:
    """Image pairs processed at once: ``target_entries`` over the entries of one level-0 array."""
    target = default_target_entries() if target_entries is None else target_entries
    return max(1, target // (lays[0].entries(0) * lays[1].entries(0)))


def _channel_windows(x: Array, gather: np.ndarray):
    """``(B, HW, C)`` -> the partner windows :func:`_input_cov` reads: ``C`` arrays ``(B, Kh, Kw, HW)``
    (``C <= 8``), else one ``(B, C, Kh, Kw, HW)`` (channel-major); 0 outside the image."""
    c = x.shape[-1]
    xt = jnp.swapaxes(x, 1, 2)  # (B, C, HW)
    zero = jnp.zeros_like(xt[:, :, :1])
    xw = jnp.take(jnp.concatenate([xt, zero], axis=2), gather, axis=2, mode="clip")
    return [xw[:, i] for i in range(c)] if c <= 8 else xw


def _variances(spec: KernelSpec, lays, xs: Array, batch: int) -> list[Array]:
    """``v[p] = S_aa[p, p]`` at every ReLU of each image ``a`` of ``xs (B, HW, C)``: one ``(B, HW_l)``
    array per ReLU, from each image's recursion with itself (:func:`_self_layers`, NNGP only) on the
    smaller windows that reach the last ReLU's diagonal (:func:`convnet_layout.self_layouts`)."""
    sgeos = [Level(self_layouts(lays), level) for level in range(spec.depth + 1)]
    self_net = _serial(*_self_layers(spec, sgeos))

    def self_body(i):
        xa = xs[i]
        s = _input_cov(xa, _channel_windows(xa, sgeos[0].tables.gather))
        return self_net(_Cov(s)).var_left

    return _batched_map(self_body, xs.shape[0], batch)


def kernel_fn(spec: KernelSpec, target_entries: int | None = None) -> KernelFn:
    """``fn(x1 (n1, H, W, C), x2 (n2, H, W, C)) -> (n1, n2)``: the NTK or NNGP (``spec.get``).

    Equal to ``stax_network(spec)[2](x1, x2, spec.get)`` of neural-tangents, to float rounding.
    Pure jax: jit it (:func:`kernels.make_kernel_fn` does) and differentiate it with respect to
    either input. ``H`` and ``W`` must be at least ``2 ** spec.depth``; like neural-tangents'
    VALID pooling, an odd side loses its last row or column at a pool (28 -> 14 -> 7 -> 3).

    Loops (module docstring): ``target_entries`` sets the batch of images of ``x1`` (about that many
    entries per level-0 covariance array; default :func:`default_target_entries`); it changes speed
    and memory, not the result. The loop over ``x2`` keeps each image's windows (about
    ``(C + 2) * 15^2 * H * W`` floats at depth 3) for the backward pass when all of them fit in
    :data:`RESIDUAL_BYTES`, else makes them again. Deterministic (no atomics, fixed order).
    """
    _network(spec)  # refuses what it does not compute, before any image
    ntk = spec.get == "ntk"

    def fn(x1: Array, x2: Array) -> Array:
        x1 = jnp.asarray(x1)
        x2 = jnp.asarray(x2)
        # neural-tangents' rule (sides >= 2^depth, odd sides pooled down), which this kernel
        # follows too, whatever spec.impl says
        dataclasses.replace(spec, impl="nt").check_images(x1.shape)
        if x1.ndim != x2.ndim or x1.shape[1:] != x2.shape[1:]:
            raise ValueError(f"x1 and x2 must hold images of the same shape, got {x1.shape} and "
                             f"{x2.shape}")
        dtype = jnp.result_type(x1.dtype, x2.dtype, jnp.float32)
        n1, h, w, c = x1.shape
        n2 = x2.shape[0]
        x1 = x1.astype(dtype).reshape(n1, h * w, c)
        x2 = x2.astype(dtype).reshape(n2, h * w, c)
        lays = layouts(spec.depth, h, w)
        geos = [Level(lays, level) for level in range(spec.depth + 1)]
        relus = _relu_levels(spec)
        batch = pairs_per_batch(lays, target_entries)

        vs = _variances(spec, lays, jnp.concatenate([x1, x2]), batch)
        v1 = [v[:n1] for v in vs]
        v2 = [v[n1:] for v in vs]
        net = _serial(*_layers(spec, geos, ntk))

        def per_b(b):  # one image of x2 against all of x1
            xw = _channel_windows(x2[b][None], geos[0].tables.gather)
            vw = tuple(_windows(v[b][None], geos[k].tables.gather) for v, k in zip(v2, relus))

            def body(i):
                s = _input_cov(x1[i], xw)
                out = net(_Cov(s, var_left=tuple(v[i] for v in v1), var_right=vw))
                return out.t if ntk else out.s

            return _batched_map(body, n1, batch)

        # The backward pass of the loop over x2 needs each image's windows (input channels and
        # variances): kept when they fit in RESIDUAL_BYTES, else made again (one more forward).
        window_bytes = jnp.dtype(dtype).itemsize * (
            c * geos[0].kh * geos[0].kw * h * w
            + sum(geos[k].kh * geos[k].kw * geos[k].h * geos[k].w for k in relus))
        keep = n2 * window_bytes <= RESIDUAL_BYTES
        return jax.lax.map(per_b if keep else jax.checkpoint(per_b), jnp.arange(n2)).T

    return fn


__all__ = ["TARGET_ENTRIES_ACCELERATOR", "TARGET_ENTRIES_CPU", "default_target_entries", "kernel_fn",
           "pairs_per_batch"]
