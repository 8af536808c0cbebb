import numpy as np
import pytest

from distilled_registry.pipelines.preprocess import fit_transform, zca_matrix
from distilled_registry.transform import Transform


def test_zca_matches_its_formula_on_a_small_matrix():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 6)) @ rng.normal(size=(6, 6))
    # the formula, written out independently: rows centred and unit-normed, cov, SVD
    xc = x - x.mean(1, keepdims=True)
    xc = xc / np.linalg.norm(xc, axis=1, keepdims=True)
    cov = xc.T @ xc / 50
    lam = 0.1 * np.trace(cov) / 6
    u, s, _ = np.linalg.svd(cov)
    expected = u @ np.diag(1 / np.sqrt(s + lam)) @ u.T
    np.testing.assert_allclose(zca_matrix(x, 0.1), expected, rtol=1e-5, atol=1e-6)


def test_zca_whitens_when_barely_regularised():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2000, 5)) @ rng.normal(size=(5, 5))
    w = zca_matrix(x, zca_reg=1e-6)
    xc = x - x.mean(1, keepdims=True)
    xc = xc / np.linalg.norm(xc, axis=1, keepdims=True)
    white = xc @ w
    cov = white.T @ white / len(x)
    # rows were centred, so one direction has zero variance; the rest is the identity
    ev = np.sort(np.linalg.eigvalsh(cov))
    np.testing.assert_allclose(ev[1:], 1.0, atol=1e-3)
    assert ev[0] < 1e-3
    with pytest.raises(ValueError, match="zca_reg must be > 0"):
        zca_matrix(x, zca_reg=0.0)


def test_transform_standardises_by_the_training_split_and_round_trips(tmp_path):
    rng = np.random.default_rng(2)
    x = (rng.uniform(size=(40, 4, 4, 3)) * [0.5, 0.75, 1.0] + [0.1, 0.2, 0.0]).astype(np.float32)  # raw pixels
    flat = x.reshape(-1, 3).astype(np.float64)  # the statistics, written out: per channel over N, H, W
    mean, std = flat.mean(0), flat.std(0)
    s = fit_transform(x, zca=False, fitted_on="abc")
    np.testing.assert_allclose(s.apply(x), (x - mean) / std, rtol=0, atol=1e-5)
    z = s.apply(x).reshape(-1, 3)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-5)
    # new images map by the training split's statistics, not their own
    x_new = rng.uniform(size=(7, 4, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(s.apply(x_new), (x_new - mean) / std, rtol=0, atol=1e-5)
    # with ZCA: standardise, then each image centred and unit-normed, then the whitening matrix of the formula
    t = fit_transform(x, zca=True, zca_reg=0.1, fitted_on="abc")
    zs = ((x - mean) / std).reshape(40, -1)
    w = zca_matrix(zs, 0.1)
    zc = zs - zs.mean(1, keepdims=True)
    np.testing.assert_allclose(t.apply(x).reshape(40, -1), (zc / np.linalg.norm(zc, axis=1, keepdims=True)) @ w,
                               rtol=0, atol=1e-4)
    (tmp_path / "t.npz").write_bytes(t.to_bytes())
    t2 = Transform.load(tmp_path / "t.npz")
    np.testing.assert_array_equal(t2.apply(x), t.apply(x))
    assert t2.params["fitted_on_sha256"] == "abc"
    assert t.to_bytes() == t2.to_bytes()  # deterministic bytes
