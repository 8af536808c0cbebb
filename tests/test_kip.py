import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax_x64 import enable_x64

from distilled_registry.pipelines import kip, krr
from distilled_registry.pipelines.kernels import KernelSpec, make_kernel_fn, stax_network


def _direct_loss(nt_kernel_fn, images, labels, x_t, y_t, reg):
    """The KIP loss written out densely, independently of pipelines.krr."""
    k_ss = nt_kernel_fn(images, images, "ntk")
    k_ts = nt_kernel_fn(x_t, images, "ntk")
    n = k_ss.shape[0]
    k_reg = k_ss + reg * jnp.trace(k_ss) / n * jnp.eye(n)
    pred = k_ts @ jnp.linalg.solve(k_reg, labels)
    return 0.5 * jnp.mean((pred - y_t) ** 2)


def _rel_err(a, b) -> float:
    """||a - b|| / ||b||: entry-wise tolerances are meaningless for float32 entries near zero."""
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b)))


def _problem(digits, n=20, m=60):
    rng = np.random.default_rng(0)
    s = rng.choice(len(digits.x_train), n, replace=False)
    t = rng.choice(len(digits.x_train), m, replace=False)
    return (digits.x_train[s], krr.centered_one_hot(digits.y_train[s], 10),
            digits.x_train[t], krr.centered_one_hot(digits.y_train[t], 10))


@pytest.mark.parametrize("learn_labels", [False, True])
@pytest.mark.parametrize("x64", [False, True])
def test_engine_gradient_equals_jax_grad_of_dense_loss(digits, learn_labels, x64):
    # float32 with reg=1e-6 leaves K_reg ill-conditioned (Cholesky vs LU differ at 1e-5), so the
    # float32 comparison uses reg=1e-3 and a relative-norm tolerance of 1e-3 (measured 1.1e-4 on the
    # images' gradient: the two programs round differently); float64 compares at the reference reg=1e-6
    # (measured 8.6e-9).
    reg, tol = (1e-6, 1e-7) if x64 else (1e-3, 1e-3)
    with enable_x64(x64):
        dtype = np.float64 if x64 else np.float32
        spec = KernelSpec("fc", depth=2)
        xs, ys, xt, yt = (np.asarray(a, dtype) for a in _problem(digits))
        learned = {"images": jnp.asarray(xs)}
        fixed = {"labels": jnp.asarray(ys)}
        if learn_labels:
            learned["labels"] = fixed.pop("labels")
        loss, grads = kip.dense_engine(make_kernel_fn(spec), reg)(learned, fixed, xt, yt)
        _, _, nt_fn = stax_network(spec)
        # jitted: one compiled program, not neural-tangents' hundreds of ops dispatched (and compiled) one by one
        direct_loss = jax.jit(jax.value_and_grad(lambda x, y: _direct_loss(nt_fn, x, y, xt, yt, reg), argnums=(0, 1)))
        loss_direct, direct = direct_loss(jnp.asarray(xs), jnp.asarray(ys))
        np.testing.assert_allclose(loss, loss_direct, rtol=tol)
        assert _rel_err(grads["images"], direct[0]) < tol
        if learn_labels:
            assert _rel_err(grads["labels"], direct[1]) < tol


@pytest.mark.parametrize("get", ["nngp", "ntk"])
def test_gradient_matches_finite_differences_in_float64(digits, get):
    """Directional derivatives of the KIP loss against central differences.

    The ReLU NTK contains arccos(cos angle), whose slope is infinite at angle 0: on the diagonal
    K(x, x) central differences themselves lose digits (measured: 2e-4 at eps=1e-5, 1e-3 at 1e-6),
    while autodiff stays exact. So the NTK is checked through K_ts (distinct points) and the
    NNGP, smooth everywhere, through the whole loss.
    """
    with enable_x64():
        kfn = make_kernel_fn(KernelSpec("fc", depth=1, get=get))
        xs, ys, xt, yt = (np.asarray(a, np.float64) for a in _problem(digits, n=10, m=40))
        if get == "nngp":
            f = lambda x: kip.kip_loss(kfn, x, ys, xt, yt, 1e-4)  # noqa: E731
        else:
            k_ss = kfn(xs, xs)
            f = lambda x: krr.loss(k_ss, kfn(xt, x), ys, yt, 1e-4)  # noqa: E731
        f = jax.jit(f)  # one compiled program for the 7 evaluations, not neural-tangents' ops compiled one by one
        g = np.asarray(jax.jit(jax.grad(f))(jnp.asarray(xs)))
        rng = np.random.default_rng(3)
        for _ in range(3):
            v = rng.normal(size=xs.shape)
            eps = 1e-5
            fd = (f(xs + eps * v) - f(xs - eps * v)) / (2 * eps)
            np.testing.assert_allclose(fd, np.sum(g * v), rtol=1e-6)


def test_target_batches_are_class_balanced_and_seeded(digits):
    a = kip.target_indices(digits.y_train, 100, seed=1, step=5)
    assert np.bincount(digits.y_train[a]).tolist() == [10] * 10
    np.testing.assert_array_equal(a, kip.target_indices(digits.y_train, 100, seed=1, step=5))
    assert not np.array_equal(a, kip.target_indices(digits.y_train, 100, seed=1, step=6))
    assert not np.array_equal(a, kip.target_indices(digits.y_train, 100, seed=2, step=5))


def test_ipc_larger_than_a_class_is_refused(digits):
    with pytest.raises(ValueError, match="smallest class"):
        kip.support_indices(digits.y_train, 1000, seed=0)


def test_kip_lowers_the_loss_and_keeps_fixed_labels(digits, fc_kernel):
    cfg = kip.KipConfig(ipc=2, steps=30, target_batch=200, learn_labels=False, seed=0)
    state, losses = kip.run(cfg, fc_kernel, digits.x_train, digits.y_train, 10, progress=False)
    assert losses[-1] < 0.8 * losses[0]
    np.testing.assert_array_equal(state.labels, krr.centered_one_hot(np.repeat(np.arange(10), 2), 10))
    # the same seed gives the same run; the hook sees every 10th step
    seen = []
    state2, _ = kip.run(cfg, fc_kernel, digits.x_train, digits.y_train, 10, progress=False,
                        hook=lambda s, loss: seen.append(s.step), hook_every=10)
    np.testing.assert_array_equal(state.images, state2.images)
    assert seen == [10, 20, 30]


def test_bad_kip_config_values():
    with pytest.raises(ValueError, match="ipc"):
        kip.KipConfig(ipc=0)
    with pytest.raises(ValueError, match="reg"):
        kip.KipConfig(ipc=1, reg=-1.0)
