"""The layout of the fast ConvNet kernel's covariances, and its index tables (numpy only, no jax).

:mod:`convnet_kernel` carries, for a batch of image pairs ``a, b``, covariances ``S[p, q]``
between pixel ``p`` of ``a`` and pixel ``q`` of ``b`` through the network's layers; this module
says where each entry is stored and gives the static index tables the layers read.

Which entries. Conv and ReLU keep the pixel *offset* ``d = q - p``; AvgPool maps coarse offset
``D`` to fine offsets ``2D-1, 2D, 2D+1``; the readout reads offset 0. So at resolution level
``l`` (``l`` pools done, ``l = 0..depth``) only ``|d| <= R_l = 2^(depth - l) - 1`` per axis
reaches the readout (``|d| <= 7`` at 32x32 with three pools: 17% of the ``H^2 W^2`` entries).
The variances ``v[p] = S_aa[p, p]`` come from each image's recursion with itself, which stops at
the last ReLU (level ``depth - 1``) and so needs only ``|d| <= 2^(depth - 1 - l) - 1``
(:func:`self_layouts`).

Layout. Each spatial axis (of ``n`` pixels at level 0) is stored (:class:`AxisLayout`) either

- by *offset* (when ``n != 2^depth``): slot ``k`` of position ``h`` holds the partner
  ``h + k - R_l``, ``2 R_l + 1`` slots; entries whose partner lies outside the image are kept at
  zero;
- or *in full* (when ``n = 2^depth``: the last feature map is 1 pixel wide, every offset is
  needed, and ``n`` slots are fewer than ``2n - 1``): slot ``k`` holds partner ``k``, as in
  neural-tangents.

A batch of ``B`` image pairs at level ``l`` is a ``(B, Kh, Kw, H*W)`` array (``K`` slots per
axis, positions ``p = (h, w)`` flattened as ``h*W + w`` last). :class:`Level` gives, per level,
the partner of every entry (``gather``, ``mask``), the entries of offset 0 (``center``), the
band matrix of the 3-tap Conv sum on an offset axis (:func:`band`), the columns a shift keeps on
a full axis (:meth:`Level.column_inside`) and the slots an AvgPool reads (:meth:`Level.pool_slots`).
``tests/test_convnet_layout.py`` checks them on tiny images against the full ``(H, W, H, W)``
recursion in numpy.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import numpy as np

from .architectures import AvgPool, Layer


@dataclasses.dataclass(frozen=True)
class AxisLayout:
    """How one spatial axis is stored at each resolution level ``0 .. depth``.

    Attributes:
      full: ``True``: ``(n_l, n_l)`` (position, partner); ``False``: ``(n_l, 2 R_l + 1)``
        (position, offset).
      sizes: ``n_l``, the axis length after ``l`` pools (``floor(n_{l-1} / 2)``).
      radii: ``R_l = 2^(depth - l) - 1``, the largest offset that reaches the readout.
    """

    full: bool
    sizes: tuple[int, ...]
    radii: tuple[int, ...]

    @classmethod
    def make(cls, n: int, depth: int) -> "AxisLayout":
        """Layout of an axis of ``n >= 2^depth`` pixels; odd sizes pool down (7 -> 3), as in nt."""
        if n < 2 ** depth:
            raise ValueError(f"an axis of {n} pixels cannot be pooled {depth} times by 2")
        sizes = [n]
        for _ in range(depth):
            sizes.append(sizes[-1] // 2)
        # n >= 2^depth keeps n_l >= 2^(depth - l) > R_l: the offset window never exceeds the side
        radii = tuple(2 ** (depth - level) - 1 for level in range(depth + 1))
        return cls(full=n == 2 ** depth, sizes=tuple(sizes), radii=radii)

    def width(self, level: int) -> int:
        """Length of the second (offset or partner) axis at ``level``."""
        return self.sizes[level] if self.full else 2 * self.radii[level] + 1

    def entries(self, level: int) -> int:
        return self.sizes[level] * self.width(level)


def layouts(depth: int, height: int, width: int) -> tuple[AxisLayout, AxisLayout]:
    """The :class:`AxisLayout` of the height and width axes of ``height x width`` images, ``depth`` pools."""
    return AxisLayout.make(height, depth), AxisLayout.make(width, depth)


def self_layouts(lays: tuple[AxisLayout, AxisLayout]) -> tuple[AxisLayout, AxisLayout]:
    """The layouts of an image's recursion with itself, which only feeds the variances.

    ``v[p] = S[p, p]`` is read at each ReLU; the last ReLU is at level ``depth - 1`` and reads
    offset 0 there, so (walking the pools back as for the readout) level ``l`` needs offsets up to
    ``2^(depth - 1 - l) - 1``: 7 slots per axis at level 0 with depth 3, not 15 (a fifth of the
    entries). Offset layout on every axis; the last level is never reached (radius 0).
    """
    depth = len(lays[0].sizes) - 1
    radii = tuple(max(2 ** (depth - 1 - level) - 1, 0) for level in range(depth + 1))
    return tuple(dataclasses.replace(lay, full=False, radii=radii) for lay in lays)


def layer_levels(layers: tuple[Layer, ...]) -> list[int]:
    """The resolution level of each layer: the number of :class:`AvgPool` before it."""
    levels, level = [], 0
    for layer in layers:
        levels.append(level)
        level += isinstance(layer, AvgPool)
    return levels


def band(n: int, dtype) -> np.ndarray:
    """``(n, n)`` ones where ``|i - j| <= 1``: a 3-tap box filter with zero padding, as a matrix."""
    i = np.arange(n)
    return (np.abs(i[:, None] - i[None, :]) <= 1).astype(dtype)


class Tables(NamedTuple):
    """Index tables of one level (numpy, static).

    Attributes:
      gather: ``(Kh, Kw, H*W)``: flat index of the partner pixel, ``H*W`` (a zero row) outside.
      mask: the same shape, ``True`` where the partner is inside the image.
      center: ``(H*W,)``: flat index of the offset-0 entry of each position in a
        ``(Kh * Kw * H*W)`` array.
    """

    gather: np.ndarray
    mask: np.ndarray
    center: np.ndarray


@dataclasses.dataclass(frozen=True)
class Level:
    """Static geometry of one resolution level: sizes, layouts, index tables."""

    lays: tuple[AxisLayout, AxisLayout]
    level: int

    @property
    def h(self) -> int:
        return self.lays[0].sizes[self.level]

    @property
    def w(self) -> int:
        return self.lays[1].sizes[self.level]

    @property
    def kh(self) -> int:
        return self.lays[0].width(self.level)

    @property
    def kw(self) -> int:
        return self.lays[1].width(self.level)

    def partner(self, axis: int) -> np.ndarray:
        """``(K, n)``: the partner coordinate of position ``p`` in slot ``k`` (may be outside)."""
        lay = self.lays[axis]
        n = lay.sizes[self.level]
        if lay.full:
            return np.broadcast_to(np.arange(n)[:, None], (n, n))
        r = lay.radii[self.level]
        return np.arange(2 * r + 1)[:, None] - r + np.arange(n)[None, :]

    def slot(self, axis: int) -> np.ndarray:
        """``(n,)``: the slot ``k`` holding partner = position."""
        lay = self.lays[axis]
        n = lay.sizes[self.level]
        return np.arange(n) if lay.full else np.full(n, lay.radii[self.level])

    @functools.cached_property
    def tables(self) -> Tables:
        """The level's index tables (built once per level, shared by its layers)."""
        qh, qw = self.partner(0), self.partner(1)
        inh = (qh >= 0) & (qh < self.h)
        inw = (qw >= 0) & (qw < self.w)
        mask = inh[:, None, :, None] & inw[None, :, None, :]
        flat = qh[:, None, :, None] * self.w + qw[None, :, None, :]
        gather = np.where(mask, flat, self.h * self.w).reshape(self.kh, self.kw, -1)
        sh, sw = self.slot(0), self.slot(1)
        hw = np.arange(self.h * self.w)
        center = (sh[:, None] * self.kw + sw[None, :]).reshape(-1) * (self.h * self.w) + hw
        return Tables(gather.astype(np.int32), mask.reshape(self.kh, self.kw, -1), center.astype(np.int32))

    def column_inside(self, e: int) -> np.ndarray:
        """``(H*W,)``: ``True`` where the column ``w + e`` of flat position ``h*W + w`` is in the image."""
        col = np.arange(self.h * self.w) % self.w
        return (col + e >= 0) & (col + e < self.w)

    def pool_slots(self, axis: int, i: int, j: int) -> tuple[int, int]:
        """``(start, stop)``: the fine slots, every 2nd, that AvgPool reads for phases ``i, j``.

        Coarse (position ``P``, slot ``D``) reads fine position ``2P + i`` at fine slot
        ``start + 2 D``: on an offset axis ``start = (j - i + 1) + R_f - 2 R_c - 1`` (the fine
        offset ``2 D' + j - i`` of coarse offset ``D' = D - R_c``), on a full axis ``start = j``
        (the fine partner ``2 D + j``). ``stop`` is one past the last slot read.
        """
        lay = self.lays[axis]
        if lay.full:
            start, count = j, lay.sizes[self.level] // 2
        else:
            rf, rc = lay.radii[self.level], lay.radii[self.level + 1]
            start, count = (rf - 2 * rc - 1) + j - i + 1, 2 * rc + 1
        return start, start + 2 * (count - 1) + 1


__all__ = ["AxisLayout", "Level", "Tables", "band", "layer_levels", "layouts", "self_layouts"]
