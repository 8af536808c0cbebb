import jax.numpy as jnp
import numpy as np

from distilled_registry.pipelines import krr
from distilled_registry.pipelines.kernels import kernel_matrix


def test_predict_matches_the_formula():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(8, 8))
    k_ss = a @ a.T
    k_ts = rng.normal(size=(5, 8))
    y = rng.normal(size=(8, 3))
    k_reg = k_ss + 1e-3 * np.trace(k_ss) / 8 * np.eye(8)
    expected = k_ts @ np.linalg.solve(k_reg, y)
    got = krr.predict(jnp.asarray(k_ss), jnp.asarray(k_ts), jnp.asarray(y), reg=1e-3)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_centered_labels():
    y = krr.centered_one_hot([0, 2], 4)
    np.testing.assert_allclose(y, [[0.75, -0.25, -0.25, -0.25], [-0.25, -0.25, 0.75, -0.25]])


def test_batched_evaluation_equals_dense(digits, fc_kernel):
    x_s, y_s = digits.x_train[:30], krr.centered_one_hot(digits.y_train[:30], 10)
    small = krr.evaluate(fc_kernel, x_s, y_s, digits.x_test, digits.y_test, block=64)
    k_ss = kernel_matrix(fc_kernel, x_s, x_s)
    k_ts = kernel_matrix(fc_kernel, digits.x_test, x_s)
    pred = np.asarray(krr.predict(jnp.asarray(k_ss), jnp.asarray(k_ts), jnp.asarray(y_s)))
    assert small["accuracy"] == krr.accuracy(pred, digits.y_test)
    mse = 0.5 * np.mean((pred - krr.centered_one_hot(digits.y_test, 10)) ** 2)
    np.testing.assert_allclose(small["mse"], mse, rtol=1e-4)
    assert small["test_size"] == len(digits.x_test)


def test_one_kernel_pass_for_several_label_sets_equals_separate_evaluations(digits, fc_kernel):
    """LS's release and its natural baseline share the support images: evaluating both from one pass
    over K(x_test, x_s) gives exactly what two separate evaluations give, and counts one pass."""
    x_s, x_t = digits.x_train[:40], digits.x_test[:130]
    y0 = krr.centered_one_hot(digits.y_train[:40], 10)
    y1 = np.random.default_rng(0).normal(size=y0.shape).astype(np.float32)  # other labels, same images
    calls = []

    def counting(a, b):
        calls.append((len(a), len(b)))
        return fc_kernel(a, b)

    both = krr.evaluate_labels(counting, x_s, [y0, y1], x_t, digits.y_test[:130], block=50)
    one_pass = list(calls)
    calls.clear()
    apart = [krr.evaluate(counting, x_s, y, x_t, digits.y_test[:130], block=50) for y in (y0, y1)]
    assert both == apart  # bit for bit
    assert len(calls) == 2 * len(one_pass) and sum(a * b for a, b in one_pass) == 40 * 40 + 130 * 40
    assert both[0]["accuracy"] != both[1]["accuracy"]  # the two label sets really differ
