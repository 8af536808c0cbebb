"""The tiled KIP step (server/worker protocol) against single-process autodiff, the Ray backend
against the local one, worker loss, SIGKILL + --resume, and a real `ray start` cluster."""

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax_x64 import enable_x64

from distilled_registry import cli
from distilled_registry.pipelines import backends, distributed, kip, krr, label_solve
from distilled_registry.pipelines.kernels import KernelSpec, make_kernel_fn
from distilled_registry.pipelines.tiling import Tiling, block_size

EXE = str(Path(sys.executable).parent / "distilled-registry")


def _rel_err(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b)))


def test_tiling_round_trip_on_uneven_sizes():
    rng = np.random.default_rng(0)
    n, m = 11, 7
    t = Tiling(n, m, 4)
    tiles = t.tiles()
    assert sum(x.kind == "ss" for x in tiles) == 6 and sum(x.kind == "ts" for x in tiles) == 6  # 3*4/2, 2*3
    k = rng.normal(size=(n + m, n + m))
    k = k @ k.T  # symmetric "kernel" over support + targets
    blocks = t.blocks(np.arange(n), np.arange(n, n + m))
    outs = [k[np.ix_(blocks[a], blocks[b])] for a, b in (x.keys for x in tiles)]
    k_ss, k_ts = t.assemble(tiles, outs)
    np.testing.assert_array_equal(k_ss, k[:n, :n])
    np.testing.assert_array_equal(k_ts, k[n:, :n])


@pytest.mark.parametrize("n, tile, block", [(20, 128, 20), (100, 128, 100), (128, 128, 128), (129, 128, 65),
                                             (500, 128, 125), (100, 8, 8), (1, 128, 1), (7, 1, 1)])
def test_blocks_are_balanced_and_never_above_the_tile(n, tile, block):
    """--tile is an upper bound: the fewest blocks of at most ``tile`` rows, balanced, so a small support
    set is not padded to the tile (20 images with --tile 128 were padded to 128: 41x the K_ss work)."""
    assert block_size(n, tile) == block
    t = Tiling.for_tile(n, 1347, tile)
    assert t.block <= tile and t.support_blocks * t.block - n < t.support_blocks  # padding < one row a block
    assert t.target_block <= tile and t.target_blocks * t.target_block - 1347 < t.target_blocks


def test_tiling_round_trip_with_other_target_blocks():
    """Support blocks of 3 rows, target blocks of 4: K_ss and K_ts come back whole, and the gradient of
    sum(W * K) through the tiles equals the dense one."""
    rng = np.random.default_rng(1)
    n, m = 7, 10
    t = Tiling(n, m, 3, 4)
    tiles = t.tiles()
    assert {tuple(x.keys) for x in tiles if x.kind == "ts"} == {(f"t{i}", f"s{j}") for i in range(3) for j in range(3)}
    x = rng.normal(size=(n + m, 5))
    blocks = t.blocks(x[:n], x[n:])
    assert blocks["t0"].shape == (4, 5) and blocks["s0"].shape == (3, 5)
    k_ss, k_ts = t.assemble(tiles, [blocks[a] @ blocks[b].T for a, b in (x.keys for x in tiles)])
    np.testing.assert_allclose(k_ss, x[:n] @ x[:n].T)
    np.testing.assert_allclose(k_ts, x[n:] @ x[:n].T)
    w_ss, w_ts = rng.normal(size=(n, n)), rng.normal(size=(m, n))
    cots = t.cotangents(tiles, w_ss, w_ts)
    grads = [(c @ blocks[b], c.T @ blocks[a]) for (a, b), c in zip((x.keys for x in tiles), cots)]
    dense = (w_ss + w_ss.T) @ x[:n] + w_ts.T @ x[n:]  # d/dXs of sum(w_ss * Xs Xs^T) + sum(w_ts * Xt Xs^T)
    np.testing.assert_allclose(t.support_gradient(tiles, grads), dense, rtol=1e-10)


@pytest.mark.parametrize("arch", ["fc", "convnet"])
@pytest.mark.parametrize("learn_labels", [False, True])
@pytest.mark.parametrize("x64", [True, False])
def test_tiled_gradient_equals_dense_jax_grad(digits, arch, learn_labels, x64):
    """float64: 1e-5 relative (measured ~1e-8). float32: the NTK's own gradient is not reproducible
    below ~1e-4 (arccos at angle 0 on K_ss's diagonal amplifies rounding; two single-process
    evaluations that differ only in XLA fusion differ by 1.9e-4), so float32 is held to 1e-3."""
    # the fast ConvNet kernel: the tiling is under test here, not the kernel (tests/test_convnet_kernel.py
    # holds it to neural-tangents), and neural-tangents' float64 ConvNet graphs crash jaxlib 0.10.2's compiler
    # depth 1: the test's cost is compiling the kernel's gradient (two of these took 36 s and 34 s in the suite
    # at depth 2)
    spec = KernelSpec(arch, depth=1, impl="nt" if arch == "fc" else "fast")
    tol = 1e-5 if x64 else 1e-3
    with enable_x64(x64):
        dt = np.float64 if x64 else np.float32
        rng = np.random.default_rng(0)
        s = rng.choice(len(digits.x_train), 13, replace=False)
        t = rng.choice(len(digits.x_train), 30, replace=False)
        xs, xt = digits.x_train[s].astype(dt), digits.x_train[t].astype(dt)
        ys = krr.centered_one_hot(digits.y_train[s], 10).astype(dt)
        yt = krr.centered_one_hot(digits.y_train[t], 10).astype(dt)
        learned, fixed = {"images": jnp.asarray(xs)}, {"labels": jnp.asarray(ys)}
        if learn_labels:
            learned["labels"] = fixed.pop("labels")
        kfn = make_kernel_fn(spec)
        reference = jax.value_and_grad(lambda p: kip.kip_loss(kfn, p["images"], {**fixed, **p}["labels"], xt, yt, 1e-6))
        loss0, g0 = reference(learned)
        engine = distributed.TiledEngine(backends.LocalWorkers(spec.to_dict()), 1e-6, tile=5)
        loss1, g1 = engine(learned, fixed, xt, yt)
        np.testing.assert_allclose(float(loss1), float(loss0), rtol=1e-6 if x64 else 1e-5)
        for key in g0:
            assert _rel_err(g1[key], g0[key]) < tol, (key, _rel_err(g1[key], g0[key]))


def test_tiled_label_solve_equals_dense(digits, fc_kernel):
    idx = kip.support_indices(digits.y_train, 3, seed=0)
    x_s, y_t = digits.x_train[idx], krr.centered_one_hot(digits.y_train, 10)
    pool = backends.LocalWorkers(KernelSpec("fc").to_dict())
    g, b = label_solve.accumulate(lambda i, j: distributed.kernel_rows(pool, digits.x_train[i:j], x_s, 16),
                                  y_t, len(y_t), 200)
    tiled = label_solve.solve(distributed.kernel_rows(pool, x_s, x_s, 16), g, b)
    dense = label_solve.label_solve(fc_kernel, x_s, digits.x_train, y_t)
    np.testing.assert_allclose(tiled, dense, atol=1e-4)


# No --tile: the one default of every backend, so that `--backend` alone is what differs between the runs.
RUN = ["distill", "--source", "digits", "--ipc", "3", "--learn-labels", "--steps", "12",
       "--target-batch", "300", "--quiet"]


@pytest.fixture(scope="module")
def local_release(tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "rel"
    assert cli.main(RUN + ["--out", str(out)]) == 0
    return out


def _data(path):
    with np.load(Path(path) / "data.npz") as z:
        return {k: z[k] for k in z}


def _assert_same_release(a, b):
    """The same data.npz, byte for byte (the tiles are summed in a fixed order whoever computes them)."""
    assert (Path(a) / "data.npz").read_bytes() == (Path(b) / "data.npz").read_bytes()
    ca = json.loads((Path(a) / "provenance.json").read_text())["config"]
    assert ca == json.loads((Path(b) / "provenance.json").read_text())["config"] and ca["tile"] > 0


# The Ray backend gives the local release twice below: on a Ray it starts itself (with a worker lost mid-step)
# and, from the command line, on a cluster started with `ray start` (with none lost). A third run, from the command
# line on a Ray of its own, cost ~30 s of the suite and claimed nothing those two do not.


def test_a_worker_lost_mid_step_changes_nothing(local_release, tmp_path, monkeypatch):
    """On a Ray the backend starts itself (no address): worker 1 dies after step 5's forward; its tiles are
    computed again and the release is the local one, byte for byte."""
    from distilled_registry.pipelines.distill import DistillConfig, distill

    prov_local = json.loads((local_release / "provenance.json").read_text())
    cfg = DistillConfig.from_dict(prov_local["config"])
    out = tmp_path / "fault"
    make_workers = backends.make_workers  # worker 1 dies after step 5's forward: the pool the run gets has a fault
    monkeypatch.setattr(backends, "make_workers", lambda *a, **k: make_workers(*a, **k, fault=(5, 1)))
    prov = distill(cfg, out, progress=False, backend="ray", workers=2)
    assert prov["backend"]["tiles_recomputed"] > 0  # the victim's tiles really were recomputed
    assert (prov["backend"]["name"], prov["backend"]["address"], prov["backend"]["workers"]) == ("ray", "local", 2)
    _assert_same_release(out, local_release)


def test_sigkill_then_resume_gives_the_uninterrupted_release(local_release, tmp_path):
    out = tmp_path / "killed"
    ckpt = tmp_path / "ckpt"
    # 60 steps: killed as soon as the step-5 checkpoint is seen (polled every 50 ms, a step takes longer),
    # so the kill lands well before the end; more steps only made the reference and the resume longer
    args = [EXE] + RUN[:RUN.index("--steps")] + ["--steps", "60"] + RUN[RUN.index("--steps") + 2:] + [
        "--out", str(out), "--checkpoint-every", "5", "--checkpoint-dir", str(ckpt)]
    reference = tmp_path / "reference"
    ref_args = [a if a != str(out) else str(reference) for a in args]
    subprocess.run(ref_args, check=True, capture_output=True, timeout=300)
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (ckpt / "kip_state.npz").exists():
        assert proc.poll() is None and time.time() < deadline, "run ended before its first checkpoint"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()  # killed mid-way: no release
    with np.load(ckpt / "kip_state.npz") as z:
        step = json.loads(bytes(z["meta_json"]).decode())["step"]
    assert 0 < step < 60
    subprocess.run(args + ["--resume"], check=True, capture_output=True, timeout=300)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["algorithm"]["resumed_from_step"] == step
    assert (out / "data.npz").read_bytes() == (reference / "data.npz").read_bytes()
    assert not ckpt.exists()  # removed once the release is written


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path, capsys):
    from distilled_registry.pipelines import checkpoint, sources
    from distilled_registry.pipelines.distill import DistillConfig

    d = sources.load_source("digits")
    cfg = DistillConfig(ipc=1, steps=5)
    state, _ = kip.init(kip.KipConfig.of(cfg), d.x_train, d.y_train, 10)
    checkpoint.save(tmp_path / "c", state, {**cfg.to_dict(), "seed": 99})
    args = ["distill", "--ipc", "1", "--steps", "5", "--quiet", "--out", str(tmp_path / "o"), "--resume",
            "--checkpoint-dir", str(tmp_path / "c")]
    assert cli.main(args) == 1  # a runtime failure, said in one line, no traceback
    err = capsys.readouterr().err
    assert re.search(r"distill: error: .*different config \(seed: checkpoint 99, this run 0\); resume with the "
                     r"same arguments", err) and err.count("\n") == 1, err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("ray", path=str(Path(sys.executable).parent)) is None, reason="no ray CLI")
def test_joins_a_cluster_started_with_ray_start(local_release, tmp_path):
    ray_exe = str(Path(sys.executable).parent / "ray")
    port = _free_port()
    # Loopback only (Ray otherwise advertises the machine's network address), and the token
    # authentication Ray >= 2.59 asks of `ray start` clusters, shared by head and client.
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    subprocess.run([ray_exe, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
                    "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats"],
                   check=True, capture_output=True, timeout=120, env=env)
    try:
        out = tmp_path / "cluster"
        r = subprocess.run([EXE] + RUN + ["--out", str(out), "--backend", "ray", "--workers", "2",
                                         "--ray-address", f"127.0.0.1:{port}"],
                           capture_output=True, text=True, timeout=300, env=env)
        assert r.returncode == 0, r.stderr[-2000:]
        prov = json.loads((out / "provenance.json").read_text())
        assert prov["backend"]["address"] == f"127.0.0.1:{port}"
        assert prov["backend"]["name"] == "ray" and prov["backend"]["workers"] == 2
        assert prov["backend"]["tiles_recomputed"] == 0 and not prov["backend"]["fault_injected"]
        _assert_same_release(out, local_release)
    finally:
        subprocess.run([ray_exe, "stop", "--force"], capture_output=True, timeout=120, env=env)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU pinning needs Linux sched_setaffinity")
def test_one_core_worker_pins_every_thread_to_one_cpu():
    # In a child process, so the test process itself stays unpinned. A thread started before the
    # pin must be pinned too (os.sched_setaffinity(0, ...) alone sets only the calling thread).
    code = (
        "import os, threading, time\n"
        "from distilled_registry.pipelines.backends import pin_to_cpu\n"
        "ev = threading.Event(); t = threading.Thread(target=ev.wait); t.start()\n"
        "cpus = sorted(os.sched_getaffinity(0))\n"
        "cpu = pin_to_cpu(len(cpus) + 1)\n"
        "assert cpu == cpus[(len(cpus) + 1) % len(cpus)], cpu\n"
        "sets = {tid: os.sched_getaffinity(int(tid)) for tid in os.listdir('/proc/self/task')}\n"
        "ev.set(); t.join()\n"
        "assert len(sets) >= 2 and all(s == {cpu} for s in sets.values()), sets\n"
        "print('ok', cpu)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stdout + r.stderr


def test_a_checkpoint_gives_back_every_leaf_with_its_shape_and_value(digits, tmp_path):
    """Adam's step count is a 0-d array: it must come back 0-d (it came back as shape (1,), which
    broadcasts to the same numbers but compiles another update, so on jax 0.10 a resumed run rounded
    differently from an uninterrupted one)."""
    from distilled_registry.npz import npz_bytes
    from distilled_registry.pipelines import checkpoint
    from distilled_registry.pipelines.distill import DistillConfig

    with np.load(__import__("io").BytesIO(npz_bytes({"c": np.int32(3), "v": np.ones((2, 3))}))) as z:
        assert z["c"].shape == () and z["c"] == 3 and z["v"].shape == (2, 3)
    cfg = DistillConfig(ipc=1, steps=4, learn_labels=True, target_batch=50)
    state, _ = kip.init(kip.KipConfig.of(cfg), digits.x_train, digits.y_train, 10)
    state, losses = kip.run(kip.KipConfig.of(cfg), make_kernel_fn(cfg.kernel), digits.x_train, digits.y_train, 10,
                            state=state, progress=False)
    assert checkpoint.saved_step(tmp_path) is None  # no checkpoint there yet
    checkpoint.save(tmp_path, state, cfg.to_dict(), losses)
    assert checkpoint.saved_step(tmp_path) == 4  # read from the meta alone (benchmarks/gpu_run.py's clock stop)
    template, _ = kip.init(kip.KipConfig.of(cfg), digits.x_train, digits.y_train, 10)
    loaded, got_losses = checkpoint.load(tmp_path, template, cfg.to_dict())
    want = jax.tree_util.tree_leaves((state.learned, state.fixed, state.opt_state))
    got = jax.tree_util.tree_leaves((loaded.learned, loaded.fixed, loaded.opt_state))
    assert [np.shape(a) for a in got] == [np.shape(a) for a in want] and () in [np.shape(a) for a in got]
    assert all(np.array_equal(a, b) and np.asarray(a).dtype == np.asarray(b).dtype for a, b in zip(got, want))
    assert loaded.step == state.step == 4 and got_losses == losses


@pytest.mark.parametrize("resources, workers, want", [
    ({"CPU": 2.0}, 2, {"num_cpus": 1}),                       # no GPU: CPU actors, as before
    ({"CPU": 16.0, "GPU": 4.0}, 4, {"num_cpus": 1, "num_gpus": 1}),  # one GPU per actor
    ({"CPU": 16.0, "GPU": 8.0}, 2, {"num_cpus": 1, "num_gpus": 1}),
])
def test_each_ray_actor_takes_one_gpu_where_the_cluster_has_gpus(resources, workers, want):
    opts = backends.actor_options(resources, workers)
    assert {k: opts[k] for k in ("num_cpus", "num_gpus") if k in opts} == want


def test_more_workers_than_gpus_is_one_line_exit_2_before_any_actor_starts(tmp_path, monkeypatch, capsys):
    """A cluster with 4 GPUs, `--workers 5`: the command refuses it in one line (exit 2), no actor started,
    nothing written (Ray itself is not started: the cluster is faked)."""
    ray = pytest.importorskip("ray")
    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 64.0, "GPU": 4.0})
    started = []
    monkeypatch.setattr(ray, "remote", lambda *a, **k: started.append(a))
    out = tmp_path / "r"
    code = cli.main(["distill", "--backend", "ray", "--workers", "5", "--ipc", "1", "--steps", "1", "--out", str(out),
                     "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert re.search(r"--workers 5 is more than the 4 GPU\(s\).*--workers 4 or less", err), err
    assert not started and not out.exists()
