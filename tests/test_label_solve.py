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


def test_ls_targets_solves_against_the_class_balanced_sample(digits, fc_kernel):
    """With ``ls_targets`` the update equals label_solve on exactly the sampled rows, and the sample is
    class-balanced, seeded, and differs from the whole split (so the option is not a no-op)."""
    from distilled_registry.pipelines import algorithm as alg

    idx = label_solve.target_indices(digits.y_train, 10, 300, seed=3)
    assert np.array_equal(idx, label_solve.target_indices(digits.y_train, 10, 300, seed=3))
    assert not np.array_equal(idx, label_solve.target_indices(digits.y_train, 10, 300, seed=4))
    assert np.bincount(digits.y_train[idx]).tolist() == [30] * 10 and len(set(idx.tolist())) == 300
    assert label_solve.target_indices(digits.y_train, 10, None, seed=3) is None
    assert label_solve.solved_rows(10, len(digits.y_train), 305) == 300

    support = kip.support_indices(digits.y_train, 2, seed=0)
    x_s = digits.x_train[support]
    problem = alg.problem(digits.x_train, digits.y_train, 10, fc_kernel,
                          rows=lambda a, b: kernel_matrix(fc_kernel, a, b, block=1000))
    y0 = krr.centered_one_hot(digits.y_train[support], 10)
    for targets, rows in ((300, idx), (None, slice(None))):
        algo = label_solve.algorithm(targets=targets, seed=3)
        state, _ = algo.update(problem, algo.init(problem, {"images": x_s, "labels": y0}))
        expected = label_solve.label_solve(fc_kernel, x_s, digits.x_train[rows], problem.targets[rows])
        np.testing.assert_allclose(state.learned["labels"], expected, atol=1e-5)
    assert algo.targets(10, len(digits.y_train)) == len(digits.y_train)
    assert label_solve.algorithm(targets=300).targets(10, len(digits.y_train)) == 300


def test_ls_targets_is_refused_before_work():
    from distilled_registry.distill_config import ConfigError, DistillConfig, KernelSpec

    with pytest.raises(ConfigError, match="--ls-targets 300 is for --algorithm ls"):
        DistillConfig(algorithm="kip", ls_targets=300).validate()
    with pytest.raises(ConfigError, match="fewer than the 100 support images"):
        DistillConfig(source="mnist", algorithm="ls", ipc=10, ls_targets=99, kernel=KernelSpec.of("convnet")).validate()
    ok = DistillConfig(source="mnist", algorithm="ls", ipc=10, ls_targets=100, kernel=KernelSpec.of("convnet"))
    ok.validate()
    assert ok.to_dict()["ls_targets"] == 100 and "ls_targets" not in DistillConfig().to_dict()
