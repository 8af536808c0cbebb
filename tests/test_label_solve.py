import jax.numpy as jnp
import numpy as np
import pytest

from distilled_registry.pipelines import kip, krr, label_solve
from distilled_registry.pipelines.kernels import kernel_matrix


@pytest.fixture(scope="module")
def problem(digits):
    idx = kip.support_indices(digits.y_train, 5, seed=0)
    return digits.x_train[idx], digits.x_train, krr.centered_one_hot(digits.y_train, 10)


def test_label_solve_equals_dense_least_squares(problem, fc_kernel):
    x_s, x_t, y_t = problem
    y_ls = label_solve.label_solve(fc_kernel, x_s, x_t, y_t, block=128)
    k_ss = kernel_matrix(fc_kernel, x_s, x_s).astype(np.float64)
    k_ts = kernel_matrix(fc_kernel, x_t, x_s).astype(np.float64)
    n = len(x_s)
    k_reg = k_ss + 1e-6 * np.trace(k_ss) / n * np.eye(n)
    design = k_ts @ np.linalg.inv(k_reg)  # predictions are design @ y_s
    expected, *_ = np.linalg.lstsq(design, y_t, rcond=None)
    np.testing.assert_allclose(y_ls, expected, atol=1e-4)


def test_solved_labels_lower_the_target_loss(problem, fc_kernel):
    x_s, x_t, y_t = problem
    y_ls = label_solve.label_solve(fc_kernel, x_s, x_t, y_t)
    k_ss = jnp.asarray(kernel_matrix(fc_kernel, x_s, x_s))
    k_ts = jnp.asarray(kernel_matrix(fc_kernel, x_t, x_s))
    one_hot = krr.centered_one_hot(np.repeat(np.arange(10), 5), 10)
    assert float(krr.loss(k_ss, k_ts, y_ls, y_t)) < 0.9 * float(krr.loss(k_ss, k_ts, one_hot, y_t))


def test_block_size_does_not_change_the_result(problem, fc_kernel):
    x_s, x_t, y_t = problem
    a = label_solve.label_solve(fc_kernel, x_s, x_t, y_t, block=97)
    b = label_solve.label_solve(fc_kernel, x_s, x_t, y_t, block=1000)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_fewer_targets_than_support_is_refused(problem, fc_kernel):
    x_s, x_t, y_t = problem
    with pytest.raises(ValueError, match="m=10 < n=50"):
        label_solve.label_solve(fc_kernel, x_s, x_t[:10], y_t[:10])
