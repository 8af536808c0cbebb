"""The ReLU's arc-cosine map of covariances (Cho and Saul, 2009), in jax, with a stable custom JVP.

For a cross-covariance ``s`` between two pre-activations of variances ``v_a, v_b`` (``prod = v_a
v_b``), ``r = sqrt(max(prod - s^2, 0))`` and ``theta = atan2(r, s)``, the covariance after the
ReLU is ``S' = (r + (pi - theta) s) / (2 pi)`` and the NTK's factor ``dot = (pi - theta) / (2 pi)``
(:func:`relu_maps`). The fast ConvNet kernel (:mod:`convnet_kernel`) applies it elementwise.

The JVP is written by hand: equal to the one jax derives for neural-tangents' formula (its
``_sqrt`` and ``_arctan2`` with safe derivatives), but cheaper, and stable where ``prod = s^2``
(an image against itself): ``dS'/ds = (pi - theta)/(2 pi)``, ``dS'/dprod = r / (4 pi prod)``.
float32 ``atan2`` is a polynomial (:func:`angle`), which XLA vectorises.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Array = Any

_TINY = 1e-30  # neural-tangents' safe tolerance in the derivatives of sqrt and arctan2


# atan(x) / x = P(x^2) on [0, 1]: a degree-8 least-maximum-error fit (Lawson iterations on
# Chebyshev nodes); |x P(x^2) - atan(x)| <= 1.4e-8 in exact arithmetic, 1.1e-7 evaluated in float32.
_ATAN_COEFFS = (1.0, -0.3333309292793274, 0.19993053376674652, -0.14207130670547485,
                0.10654667019844055, -0.0753365233540535, 0.043039076030254364,
                -0.01628282107412815, 0.0029035040643066168)


def angle(r: Array, s: Array) -> Array:
    """``theta = atan2(r, s)`` in ``[0, pi]`` for ``r >= 0``, and ``pi/2`` where ``r = s = 0``.

    float32: ``atan(min/max)`` by the polynomial above, then the octant, in plain jax arithmetic
    (one division, no table), which XLA vectorises; ``jnp.arctan2`` is a scalar libm call per
    element on CPU, ten times slower. Other dtypes: ``jnp.arctan2``.
    """
    if s.dtype != jnp.float32:
        return jnp.where((r == 0) & (s == 0), jnp.pi / 2, jnp.arctan2(r, s))
    a = jnp.abs(s)
    den = jnp.maximum(r, a)
    x = jnp.minimum(r, a) / jnp.where(den == 0, 1.0, den)
    z = x * x
    p = _ATAN_COEFFS[-1]
    for coef in _ATAN_COEFFS[-2::-1]:
        p = p * z + coef
    p = p * x  # atan(min/max) in [0, pi/4]
    t = jnp.where(r > a, np.float32(np.pi / 2) - p, p)  # atan2(r, |s|)
    theta = jnp.where(s < 0, np.float32(np.pi) - t, t)
    return jnp.where(den == 0, np.float32(np.pi / 2), theta)


@jax.custom_jvp
def relu_maps(s: Array, prod: Array) -> tuple[Array, Array]:
    """``(S', dot)`` of a ReLU: ``S' = (r + (pi - theta) s)/(2 pi)``, ``dot = (pi - theta)/(2 pi)``.

    ``s``: cross-covariance; ``prod``: the product of the two variances (same shape, broadcast).
    ``theta = atan2(r, s)`` with ``r = sqrt(max(prod - s^2, 0))``, ``pi/2`` where ``r = s = 0``.
    """
    r = jnp.sqrt(jnp.maximum(prod - s * s, 0.0))
    dot = 0.5 - angle(r, s) * (0.5 / np.pi)
    return r * (0.5 / np.pi) + dot * s, dot


@relu_maps.defjvp
def _relu_maps_jvp(primals, tangents):
    s, prod = primals
    ds, dprod = tangents
    gap = prod - s * s
    r = jnp.sqrt(jnp.maximum(gap, 0.0))
    dot = 0.5 - angle(r, s) * (0.5 / np.pi)
    nngp = r * (0.5 / np.pi) + dot * s
    # d nngp: exact and finite everywhere (the r terms cancel analytically).
    safe_prod = jnp.where(prod > 0, prod, 1.0)
    dnngp = dot * ds + jnp.where(prod > 0, r * (0.25 / np.pi) / safe_prod, 0.0) * dprod
    # d dot = -d theta / (2 pi), with neural-tangents' conventions: d sqrt(gap) = 0 where
    # gap <= 1e-30, and the arctan2 denominator max(r^2 + s^2, 1e-30).
    safe_r = jnp.where(gap > _TINY, r, 1.0)
    dr = jnp.where(gap > _TINY, (dprod - 2 * s * ds) / (2 * safe_r), 0.0)
    denom = jnp.maximum(r * r + s * s, _TINY)
    dtheta = (dr * s - ds * r) / denom
    return (nngp, dot), (dnngp, -dtheta * (0.5 / np.pi))


__all__ = ["angle", "relu_maps"]
