"""The fast ConvNet kernel's layout and index tables (pipelines/convnet_layout.py), in numpy.

On tiny images (4x4 to 12x9, depths 1 to 3, offset and full axes, odd sides) the tables are
checked against a brute-force computation on the whole ``(H, W, H, W)`` covariance: which pixel
pairs are stored (and where), the offset-0 entries, the 3x3 Conv sum and the 2x2 pool read through
the tables, and a Conv / pool chain to the readout, which only gives the right value if the radii
keep every offset that reaches it. Also the layer lists of pipelines/architectures.py, which the
kernel, neural-tangents' network and transfer's finite network are built from.
"""

import itertools

import numpy as np
import pytest

from distilled_registry.pipelines import architectures as arch
from distilled_registry.pipelines import convnet_kernel, convnet_layout
from distilled_registry.pipelines.kernel_spec import KernelSpec

# (height, width, depth): offset axes, full axes (side = 2^depth), mixed, odd sides
CASES = [(4, 4, 1), (4, 4, 2), (6, 6, 1), (6, 6, 2), (5, 7, 2), (8, 4, 2), (8, 8, 3), (12, 9, 3), (6, 4, 2)]


def _levels(h, w, depth, self_pass=False):
    lays = convnet_layout.layouts(depth, h, w)
    if self_pass:
        lays = convnet_layout.self_layouts(lays)
    return [convnet_layout.Level(lays, level) for level in range(depth + 1)]


def _full_input(h, w, seed=0):
    """``S[p, q] = <a[p], b[q]> / C`` of two random images, ``(H, W, H, W)`` float64."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(2, h, w, 3))
    return np.einsum("hwc,gvc->hwgv", a, b) / 3


def _full_conv(s):
    """``S'[p, q] = sum_{e in {-1,0,1}^2} S[p+e, q+e]``, zero outside the image (brute force)."""
    h, w = s.shape[:2]
    out = np.zeros_like(s)
    for ph, pw, qh, qw in itertools.product(range(h), range(w), range(h), range(w)):
        for eh, ew in itertools.product((-1, 0, 1), repeat=2):
            a, b, c, d = ph + eh, pw + ew, qh + eh, qw + ew
            if 0 <= a < h and 0 <= b < w and 0 <= c < h and 0 <= d < w:
                out[ph, pw, qh, qw] += s[a, b, c, d]
    return out


def _full_pool(s):
    """``S'[P, Q] = 1/16 sum_{i, j in {0,1}^2} S[2P+i, 2Q+j]``, VALID (an odd side drops its last pixel)."""
    h, w = s.shape[0] // 2, s.shape[1] // 2
    out = np.zeros((h, w, h, w))
    for i in itertools.product((0, 1), repeat=4):
        out += s[i[0]:2 * h:2, i[1]:2 * w:2, i[2]:2 * h:2, i[3]:2 * w:2]
    return out / 16


def _pack(full, geo):
    """The ``(Kh, Kw, H*W)`` layout of a full covariance, through the level's ``gather`` table."""
    hw = geo.h * geo.w
    flat = np.concatenate([full.reshape(hw, hw), np.zeros((hw, 1))], axis=1)
    return flat[np.arange(hw), geo.tables.gather]


def _box(x, geo):
    """The 3x3 Conv sum on the layout, as the kernel computes it: band matrices on an offset axis,
    position and slot shifted together on a full axis (``column_inside`` keeps rows apart)."""
    kh, kw, h, w = geo.kh, geo.kw, geo.h, geo.w

    def shift(y, axis, k):  # y[.., i, ..] = y[.., i + k, ..], zero outside
        out = np.zeros_like(y)
        n = y.shape[axis]
        src = [slice(None)] * y.ndim
        dst = [slice(None)] * y.ndim
        src[axis], dst[axis] = slice(max(k, 0), n + min(k, 0)), slice(max(-k, 0), n - max(k, 0))
        out[tuple(dst)] = y[tuple(src)]
        return out

    if geo.lays[1].full:
        x = x + sum(np.where(geo.column_inside(e), shift(shift(x, 2, e), 1, e), 0.0) for e in (-1, 1))
    else:
        x = (x.reshape(kh, kw, h, w) @ convnet_layout.band(w, x.dtype)).reshape(kh, kw, h * w)
    if geo.lays[0].full:
        x = x + shift(shift(x, 2, -w), 0, -1) + shift(shift(x, 2, w), 0, 1)
    else:
        x = np.einsum("gh,abhw->abgw", convnet_layout.band(h, x.dtype), x.reshape(kh, kw, h, w)).reshape(x.shape)
    return x


def _pool(x, fine, coarse):
    """The 2x2 pool on the layout, read through ``pool_slots``: coarse slot ``D`` of phases
    ``i, j`` is fine slot ``start + 2 D`` at fine position ``2 P + i``."""
    h2, w2 = coarse.h, coarse.w
    x = x.reshape(fine.kh, fine.kw, fine.h, fine.w)
    out = 0
    for ih, jh, iw, jw in itertools.product((0, 1), repeat=4):
        sh, eh = fine.pool_slots(0, ih, jh)
        sw, ew = fine.pool_slots(1, iw, jw)
        out = out + x[sh:eh:2, sw:ew:2, ih:2 * h2:2, iw:2 * w2:2]
    assert out.shape == (coarse.kh, coarse.kw, h2, w2)
    return np.where(coarse.tables.mask, out.reshape(coarse.kh, coarse.kw, -1) / 16, 0.0)


@pytest.mark.parametrize("h,w,depth", CASES)
@pytest.mark.parametrize("self_pass", [False, True])
def test_stored_pairs_are_those_within_the_radii(h, w, depth, self_pass):
    """Every level stores each pixel pair ``(p, q)`` with ``|q - p| <= R_l`` on an offset axis (any
    ``q`` on a full axis) exactly once, at the slot the layout says, and nothing else."""
    for geo in _levels(h, w, depth, self_pass)[: depth if self_pass else depth + 1]:
        t = geo.tables
        assert t.gather.shape == t.mask.shape == (geo.kh, geo.kw, geo.h * geo.w)
        hw = geo.h * geo.w
        assert np.all((t.gather == hw) == ~t.mask)
        pos = np.broadcast_to(np.arange(hw), t.gather.shape)
        stored = sorted(zip(pos[t.mask].tolist(), t.gather[t.mask].tolist()))
        expected = []
        for (ph, pw), (qh, qw) in itertools.product(np.ndindex(geo.h, geo.w), repeat=2):
            near = [lay.full or abs(q - p) <= lay.radii[geo.level]
                    for lay, p, q in zip(geo.lays, (ph, pw), (qh, qw))]
            if all(near):
                expected.append((ph * geo.w + pw, qh * geo.w + qw))
        assert stored == sorted(expected)
        for axis, lay in enumerate(geo.lays):  # slot k of position p holds partner p + k - R, or k
            k = np.arange(geo.kh if axis == 0 else geo.kw)[:, None]
            p = np.arange(geo.h if axis == 0 else geo.w)[None, :]
            assert np.array_equal(geo.partner(axis), k + 0 * p if lay.full else p + k - lay.radii[geo.level])


@pytest.mark.parametrize("h,w,depth", CASES)
def test_center_conv_and_pool_tables_match_the_full_covariance(h, w, depth):
    geos = _levels(h, w, depth)
    full = _full_input(h, w)
    for level, geo in enumerate(geos):
        x = _pack(full, geo)
        hw = geo.h * geo.w
        # center: the offset-0 entries are the diagonal S[p, p]
        assert np.array_equal(x.reshape(-1)[geo.tables.center], full.reshape(hw, hw).diagonal())
        # Conv: the layout's box sum equals the full one wherever the partner is inside
        conv = _full_conv(full)
        assert np.allclose(_box(x, geo)[geo.tables.mask], _pack(conv, geo)[geo.tables.mask], rtol=1e-12, atol=1e-12)
        if level < depth:  # AvgPool: the coarse layout read from the fine one equals the full pool
            coarse = geos[level + 1]
            pooled = _full_pool(conv)
            got = _pool(np.where(geo.tables.mask, _box(x, geo), 0.0), geo, coarse)
            assert np.allclose(got, _pack(pooled, coarse), rtol=1e-12, atol=1e-12)
            full = pooled


@pytest.mark.parametrize("h,w,depth", CASES)
def test_the_radii_keep_every_offset_the_readout_reads(h, w, depth):
    """depth x [Conv, Pool] then mean_p S[p, p] on the layout equals the full computation: the
    entries the layout drops never reach the readout (the self layouts: the last Conv's diagonal)."""
    full = _full_input(h, w, seed=1)
    for self_pass in (False, True):
        geos = _levels(h, w, depth, self_pass)
        x, ref = _pack(full, geos[0]), full
        last = depth - 1 if self_pass else depth
        for level in range(last):
            x = np.where(geos[level].tables.mask, _box(x, geos[level]), 0.0)
            x = _pool(x, geos[level], geos[level + 1])
            ref = _full_pool(_full_conv(ref))
        if self_pass:  # the variances the last ReLU reads: the diagonal after its Conv
            x, ref = _box(x, geos[last]), _full_conv(ref)
        hw = geos[last].h * geos[last].w
        assert np.allclose(x.reshape(-1)[geos[last].tables.center], ref.reshape(hw, hw).diagonal(), rtol=1e-12)


def test_layouts():
    h, w = convnet_layout.layouts(3, 32, 8)
    assert not h.full and h.radii == (7, 3, 1, 0) and h.sizes == (32, 16, 8, 4)
    assert w.full and w.sizes == (8, 4, 2, 1)
    # 32x32, depth 3: 32 * 15 entries per axis instead of 32 * 32
    assert h.entries(0) == 32 * 15
    # 28 -> 14 -> 7 -> 3 and 9 -> 4 -> 2 -> 1 (neural-tangents' VALID pooling rounds down)
    h, w = convnet_layout.layouts(3, 28, 9)
    assert h.sizes == (28, 14, 7, 3) and h.radii == (7, 3, 1, 0)
    assert w.sizes == (9, 4, 2, 1) and not w.full
    sh, sw = convnet_layout.self_layouts((h, w))
    assert sh.radii == (3, 1, 0, 0) and not sw.full
    with pytest.raises(ValueError, match="cannot be pooled 3 times"):
        convnet_layout.layouts(3, 7, 8)


def test_layer_lists_and_their_words():
    c, r, p, f = arch.Conv(), arch.Relu(), arch.AvgPool(), arch.Flatten()
    out = arch.Dense(readout=True)
    assert arch.network("fc", 2) == (f, arch.Dense(), r, arch.Dense(), r, out)
    assert arch.network("convnet", 2) == (c, r, c, r, p, c, r, p, f, out)
    assert arch.network("convnet3", 1) == (c, r, p, f, out)
    assert convnet_layout.layer_levels(arch.network("convnet", 2)) == [0, 0, 0, 0, 0, 1, 1, 1, 2, 2]
    # the words transfer's recipe records (unchanged from before the layer lists)
    assert arch.describe("fc", 2, 64) == "Flatten, 2 x [Dense(64), ReLU], Dense(C)"
    assert arch.describe("convnet", 3, 128) == (
        "[Conv3x3(128) SAME, ReLU], 3 x [Conv3x3(128) SAME, ReLU, AvgPool2x2], Flatten, Dense(C)")
    assert arch.describe("convnet3", 1, 8) == "1 x [Conv3x3(8) SAME, ReLU, AvgPool2x2], Flatten, Dense(C)"
    with pytest.raises(ValueError, match="unknown kernel architecture"):
        arch.network("resnet", 2)


def test_the_fast_kernel_refuses_a_layer_it_does_not_compute(monkeypatch):
    """The fast kernel is built from the same list: a layer it has no step for is an error, not a
    silently different kernel."""
    spec = KernelSpec("convnet", depth=2, impl="fast")
    convnet_kernel.kernel_fn(spec)
    net = arch.network("convnet", 2)
    monkeypatch.setattr(arch, "network", lambda a, d: net[:2] + (arch.Dense(), arch.Relu()) + net[2:])
    with pytest.raises(ValueError, match="fast kernel computes"):
        convnet_kernel.kernel_fn(spec)
    monkeypatch.setattr(arch, "network", lambda a, d: tuple(arch.Conv(size=5) if x == arch.Conv() else x for x in net))
    with pytest.raises(ValueError, match="fast kernel computes"):
        convnet_kernel.kernel_fn(spec)


def test_the_layout_and_the_layer_lists_import_no_jax():
    import subprocess
    import sys

    code = ("import sys\nimport distilled_registry.pipelines.convnet_layout\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'jaxlib', 'neural_tangents')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
