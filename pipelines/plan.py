"""The wall time of a run before it starts: every part of it timed here, or taken from a table, and said which.

A run (``distill``, ``regenerate``, ``demo``) is cut into the parts it spends its time on, each
priced from what this process measures while it plans (:class:`KernelTimer` and the functions below):

- start-up: a fresh python importing the CLI and the pipelines (jax, optax), timed by starting one;
- loading and preprocessing: :func:`distill.prepare` itself, when the source is at hand (digits, or
  ``--source-dir``); else not counted, and said so;
- the kernel calls: KIP tiles forward with ``jax.vjp`` and backward through ``vjp_fn``, as a
  :class:`backends.TileWorker` computes them; Label Solve's tiles and every evaluation forward only,
  through :func:`kernels.make_kernel_fn`. Each shape the run will cut (:meth:`tiling.Tiling.for_tile`,
  :func:`kernels.kernel_matrix`'s blocks) is timed on random images of the source's shape, on the same
  device split as the run (every CPU core a jax device: :mod:`devices`), after its compilation (timed
  apart: the run compiles each shape once too);
- the rest of a KIP step (target batch, assembling, the KRR solve and its gradient, Adam, the checks):
  :func:`kip.run` with :class:`distributed.TiledEngine` over workers that answer every tile at once;
- Label Solve's normal equations (``G += K^T K`` per block of 1000 targets) and its solve;
- the accuracy curve (``--eval-every``), the checkpoints, and the release files (previews, parquet,
  Croissant, provenance; written to a temporary folder when the source is at hand).

Kernel costs, shape ``r x c`` (``r`` rows, ``c`` columns), are linear in ``r`` at fixed ``c`` (per-entry
terms ``r c``, per-image terms ``r + c``): a shape too dear to time within the budget (``--budget``,
30 s) is priced from two timed shapes of 2 and 8 rows at the same ``c``, ``t(r) = t(r_a) + (r - r_a)
(t(r_b) - t(r_a)) / (r_b - r_a)``, never from a 2x2 tile alone. Each part says whether it was
measured, extrapolated or assumed.

``--device h100|h200|cpu`` prices the kernel from :mod:`device_costs` (per-entry costs measured
on that device at its reference kernel), scaled by this CPU's ratio of the run's kernel to the
reference kernel (timed here, assumed device-independent); compilation is not counted there.
"""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from .kernels import KernelSpec
from .tiling import Tiling

DEFAULT_BUDGET_S = 30.0
PROBE_ROWS = (2, 8)   # rows of the two shapes a dear kernel call is extrapolated from
EVAL_BLOCK = 1000     # rows per test block of an evaluation (DistillConfig.eval_block)
MODES = ("vjp", "forward")
SMALL_CALL = 256      # entries of a call timed without a probe first (seconds at most, even for a ConvNet's vjp)


@dataclasses.dataclass(frozen=True)
class Timing:
    """One kernel call of ``rows x cols`` entries timed here: ``seconds`` a call (mean of ``repeats`` after the
    first), ``compile_seconds`` what the first call took beyond that."""

    mode: str
    rows: int
    cols: int
    seconds: float
    compile_seconds: float
    repeats: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Estimate:
    """The price of one kernel call: ``basis`` ``measured`` (that shape timed), ``extrapolated`` (from two
    timed shapes) or ``table`` (:mod:`device_costs`)."""

    seconds: float
    compile_seconds: float
    basis: str
    detail: str


class KernelTimer:
    """Times kernel calls of ``spec`` on random images of ``image_shape`` (H, W, C) as the run makes them.

    ``vjp``: a :class:`backends.TileWorker`'s forward (``jax.vjp``, ``vjp_fn`` kept) and backward (``vjp_fn``
    applied to a cotangent), host copies included; ``forward``: :func:`kernels.make_kernel_fn`'s function and
    the host copy. ``budget_s`` bounds the seconds spent measuring (compilations included); past it, shapes
    are extrapolated from the two probe shapes, which are always timed.
    """

    def __init__(self, spec: KernelSpec, image_shape: tuple[int, int, int], budget_s: float = DEFAULT_BUDGET_S,
                 min_seconds: float = 0.2, max_repeats: int = 20, seed: int = 0):
        from .backends import TileWorker
        from .kernels import make_kernel_fn

        spec.check_images((1, *image_shape))
        self.spec, self.image_shape = spec, tuple(image_shape)
        self.worker = TileWorker(spec.to_dict())
        self.kernel_fn = make_kernel_fn(spec)
        self.budget_s, self.min_seconds, self.max_repeats = budget_s, min_seconds, max_repeats
        self.rng = np.random.default_rng(seed)
        self.timings: dict[tuple[str, int, int], Timing] = {}
        self.spent = 0.0

    @property
    def left(self) -> float:
        return self.budget_s - self.spent

    def _call(self, mode: str, a: np.ndarray, b: np.ndarray, cot: np.ndarray) -> None:
        if mode == "vjp":
            self.worker.forward([(0, "a", "b")], {"a": a, "b": b}, keep_vjp=True)
            self.worker.backward([(0, "a", "b", cot)])
        else:
            np.asarray(self.kernel_fn(a, b))

    def measure(self, mode: str, rows: int, cols: int) -> Timing:
        """Time one ``rows x cols`` call of ``mode``: the first call (compiling), then repeats until
        ``min_seconds`` have passed (at least one, at most ``max_repeats``)."""
        key = (mode, rows, cols)
        if key in self.timings:
            return self.timings[key]
        t0 = time.perf_counter()
        a = self.rng.standard_normal((rows, *self.image_shape)).astype(np.float32)
        b = self.rng.standard_normal((cols, *self.image_shape)).astype(np.float32)
        cot = self.rng.standard_normal((rows, cols)).astype(np.float32)
        t = time.perf_counter()
        self._call(mode, a, b, cot)
        first = time.perf_counter() - t
        times: list[float] = []
        while len(times) < self.max_repeats and (not times or sum(times) < self.min_seconds):
            t = time.perf_counter()
            self._call(mode, a, b, cot)
            times.append(time.perf_counter() - t)
        mean = sum(times) / len(times)
        self.timings[key] = Timing(mode, rows, cols, mean, max(0.0, first - mean), len(times))
        self.spent += time.perf_counter() - t0
        return self.timings[key]

    def estimate(self, mode: str, rows: int, cols: int) -> Estimate:
        """The price of a ``rows x cols`` call; call it for the dearest shapes first.

        Timed itself when it is small (:data:`SMALL_CALL` entries), when that fits the budget left, or when it
        is the first shape of its mode and predicted to cost less than a compilation (the per-entry cost of
        the calls timed so far predicts it; with none timed, a 2-row call at the same ``cols`` first). The
        first shape of a mode that does not fit is extrapolated linearly in rows from timed calls of
        :data:`PROBE_ROWS` rows at the same ``cols``; a later one from the calls of its mode timed so far
        (:meth:`from_timed`).
        """
        if (mode, rows, cols) in self.timings or rows <= PROBE_ROWS[0] or rows * cols <= SMALL_CALL:
            return _measured(self.measure(mode, rows, cols))
        same = [t for t in self.timings.values() if t.mode == mode]
        known = same or list(self.timings.values())
        if not known:
            known = [self.measure(mode, PROBE_ROWS[0], cols)]
        per_entry = min(t.seconds / (t.rows * t.cols) for t in known)  # small calls overstate it
        if known[0].mode != mode and mode == "vjp":
            per_entry *= 4  # forward+vjp from forward alone: a guess, only to decide what to time
        predicted = per_entry * rows * cols
        compile_s = max(t.compile_seconds for t in known)
        if compile_s + 2 * predicted <= self.left or (not same and predicted <= max(compile_s, 1.0)):
            return _measured(self.measure(mode, rows, cols))
        if same:
            return self.from_timed(mode, rows, cols)
        self.measure(mode, PROBE_ROWS[0], cols)  # recorded in self.timings: from_timed fits through it
        tb = self.measure(mode, min(rows, PROBE_ROWS[1]), cols)
        if tb.rows == rows:
            return _measured(tb)
        return self.from_timed(mode, rows, cols)

    def from_timed(self, mode: str, rows: int, cols: int) -> Estimate:
        """A ``rows x cols`` call priced from the calls of ``mode`` timed so far, not timing it: linear in rows
        through the two timed calls at ``cols`` farthest apart, else the per-entry cost of the timed call
        nearest in entries; its compilation as the mean of the timed calls' (assumed)."""
        same = [t for t in self.timings.values() if t.mode == mode]
        compile_s = sum(t.compile_seconds for t in same) / len(same)
        at_cols = sorted((t for t in same if t.cols == cols), key=lambda t: t.rows)
        if len(at_cols) >= 2 and at_cols[0].rows != at_cols[-1].rows:
            ta, tb = at_cols[0], at_cols[-1]
            slope = (tb.seconds - ta.seconds) / (tb.rows - ta.rows)
            seconds = ta.seconds + (rows - ta.rows) * slope if slope > 0 else tb.seconds * rows / tb.rows
            how = (f"from timed {ta.rows}x{cols} ({_s(ta.seconds)}) and {tb.rows}x{cols} ({_s(tb.seconds)}) calls, "
                   "linear in rows")
        else:
            t = min(same, key=lambda t: abs(math.log(t.rows * t.cols / (rows * cols))))
            seconds = t.seconds * rows * cols / (t.rows * t.cols)
            how = f"at the per-entry cost of the timed {t.rows}x{t.cols} call ({_s(t.seconds)})"
        return Estimate(seconds, compile_s, "extrapolated",
                        f"{rows}x{cols} {how} (budget spent); compiling as the timed calls' (assumed)")


def _measured(t: Timing) -> Estimate:
    return Estimate(t.seconds, t.compile_seconds, "measured",
                    f"{t.rows}x{t.cols} timed: {_s(t.seconds)} a call (mean of {t.repeats}), compiled in "
                    f"{_s(t.compile_seconds)}")


def _s(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


class TableTimer:
    """Kernel prices for a device one does not have: ``entries x`` the per-entry cost of :mod:`device_costs`'
    row for ``device``, times this CPU's ratio of ``spec``'s per-entry cost to the reference kernel's (both timed
    here on a tile of the row's size; 1 for the reference kernel itself)."""

    def __init__(self, device: str, spec: KernelSpec, image_shape: tuple[int, int, int],
                 budget_s: float = DEFAULT_BUDGET_S):
        from . import device_costs

        self.device, self.row, ref = device, device_costs.row(device), device_costs.REFERENCE
        self.ref = (KernelSpec(**{**KernelSpec().to_dict(), **ref["kernel"]}), tuple(ref["image_shape"]))
        self.own = (spec, tuple(image_shape))
        self.tile, self.budget_s = ref["tile"], budget_s
        self.ratio: dict[str, float] = {}
        self.timers: list[KernelTimer] = []

    @property
    def spent(self) -> float:
        return sum(t.spent for t in self.timers)

    def _ratio(self, mode: str) -> tuple[float, str]:
        """This CPU's ratio of the run's kernel to the reference, per entry, at the row's tile (timed once)."""
        if self.own == self.ref:
            return 1.0, "the run's kernel is the row's reference kernel"
        if mode not in self.ratio:
            if not self.timers:
                self.timers = [KernelTimer(*self.own, self.budget_s), KernelTimer(*self.ref, self.budget_s)]
            here, there = (t.measure(mode, self.tile, self.tile).seconds for t in self.timers)
            self.ratio[mode] = here / there
        return self.ratio[mode], (f"x {self.ratio[mode]:.3g}, this CPU's ratio of the run's kernel to the reference "
                                  f"at {self.tile}x{self.tile}, timed here and assumed the same on the device")

    def estimate(self, mode: str, rows: int, cols: int) -> Estimate:
        ratio, how = self._ratio(mode)
        per = self.row["vjp_ms_per_entry" if mode == "vjp" else "forward_ms_per_entry"] * 1e-3
        return Estimate(per * ratio * rows * cols, 0.0, "table",
                        f"{rows}x{cols} at {self.device}'s {per * 1e3:.3g} ms per entry ({how}); compiling not "
                        "counted")


@dataclasses.dataclass(frozen=True)
class Run:
    """One run to plan: its config and the options beside it that change its time."""

    config: object  # distill.DistillConfig
    backend: str = "local"
    workers: int = 1
    eval_every: int = 0
    eval_subset: int = 1000
    checkpoint_every: int = 0
    source_dir: str | None = None


@dataclasses.dataclass(frozen=True)
class Call:
    """``count`` kernel calls of ``rows x cols`` in ``mode``, made by ``fn`` (``worker`` or ``driver``: the run
    compiles each function's shapes apart), ``per`` step (KIP tiles) or once."""

    part: str
    mode: str
    rows: int
    cols: int
    count: int
    fn: str
    per_step: bool = False


def _algorithm(config):
    """The run's :class:`algorithm.Algorithm` (:mod:`algorithms`; imported here: it imports jax and optax)."""
    from . import algorithms

    return algorithms.make(config)


def support_and_targets(config, source_info: dict) -> tuple[int, int]:
    """``(n, m)``: support size (ipc x classes) and the target rows a pass covers (the algorithm's ``targets``:
    KIP's class-balanced batch, LS's whole training split)."""
    c, train = int(source_info["num_classes"]), int(source_info["train_size"])
    return config.ipc * c, _algorithm(config).targets(c, train)


def eval_calls(part: str, n: int, test_rows: int, times: int) -> list[Call]:
    """:func:`krr.evaluate_labels`' kernel calls, ``times`` over: ``K_ss`` and ``K(test, support)`` in blocks of
    :data:`EVAL_BLOCK` rows (:func:`kernels.kernel_matrix`, each block padded to its fixed shape)."""
    b = min(EVAL_BLOCK, n)
    col_blocks = math.ceil(n / b)
    calls = [Call(part, "forward", b, b, times * col_blocks ** 2, "driver")]
    full, last = divmod(test_rows, EVAL_BLOCK)
    if full:
        calls.append(Call(part, "forward", min(EVAL_BLOCK, test_rows), b, times * full * col_blocks, "driver"))
    if last:
        calls.append(Call(part, "forward", last, b, times * col_blocks, "driver"))
    return calls


def kernel_calls(run: Run, source_info: dict) -> list[Call]:
    """Every kernel call ``run`` makes: the algorithm's own (its ``kernel_calls``: KIP's tiles per step, LS's
    pass), the accuracy curve (algorithms with steps) and the evaluation (one pass serves both figures when the
    algorithm keeps the real images)."""
    cfg = run.config
    algo = _algorithm(cfg)
    n, m = support_and_targets(cfg, source_info)
    test = int(source_info["test_size"])
    calls = [Call(*c) for c in algo.kernel_calls(n, m, cfg.tile)]
    if run.eval_every and algo.has_steps:
        points = 1 + cfg.steps // run.eval_every + (1 if cfg.steps % run.eval_every else 0)
        c = int(source_info["num_classes"])
        subset = test if run.eval_subset >= test else min(test, c * max(1, run.eval_subset // c))
        calls += eval_calls("accuracy curve", n, subset, points)
    if cfg.ls_finish:  # the label solve after the last step: LS's pass over its targets, once
        from . import label_solve

        rows = finish_rows(cfg, source_info)
        calls += [Call("LS finish", *c[1:]) for c in label_solve.pass_calls(n, rows, cfg.tile, cfg.eval_block)]
    return calls + eval_calls("evaluation", n, test, 2 if algo.learns_images else 1)


def finish_rows(config, source_info: dict) -> int:
    """The target rows ``--ls-finish`` solves against (:func:`label_solve.solved_rows`)."""
    from .label_solve import solved_rows

    return solved_rows(int(source_info["num_classes"]), int(source_info["train_size"]), config.ls_targets)


def tile_counts(run: Run, source_info: dict) -> dict:
    """Entries and tiles of one KIP step or of the LS pass (as :class:`Tiling` cuts them); ``K_ss``'s tiles count
    for an algorithm with steps (a pass without steps computes ``K_ss`` once, beside its target blocks)."""
    cfg = run.config
    n, m = support_and_targets(cfg, source_info)
    t = Tiling.for_tile(n, m, cfg.tile or max(n, m))
    sb, tb = t.support_blocks, t.target_blocks
    ss = sb * (sb + 1) // 2 if _algorithm(cfg).has_steps else 0
    return {"support_size": n, "target_size": m, "block": t.block, "target_block": t.target_block,
            "k_ss_upper": n * (n + 1) // 2, "k_ts": m * n, "entries": n * (n + 1) // 2 + m * n,
            "tiles_ss": ss, "tiles_ts": tb * sb, "tiles": ss + tb * sb}


def startup_seconds(neural_tangents: bool = False) -> float:
    """A fresh python importing what a computing command imports before it works (the CLI, jax, optax and the
    pipelines; with ``neural_tangents``, that too, as the ``nt`` kernels import it), timed by starting one."""
    code = ("import distilled_registry.cli.computing, optax, jax\n"
            "from distilled_registry.pipelines import distill, backends, distributed\n")
    if neural_tangents:
        code += "from distilled_registry.pipelines import nt_compat\nnt_compat.stax()\n"
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=300)
    return time.perf_counter() - t


class _InstantWorkers:
    """Tile workers that answer at once (``K_ss`` the identity, the rest zeros): a KIP step without its kernel."""

    def forward(self, jobs, blocks, keep_vjp=True):
        return [np.eye(len(blocks[ka]), len(blocks[kb]), dtype=np.float32) * (ka == kb) for _, ka, kb in jobs]

    def backward(self, jobs, blocks):
        return [(np.zeros_like(blocks[ka]), np.zeros_like(blocks[kb])) for _, ka, kb, _ in jobs]

    def end_step(self):
        pass


class _Enough(Exception):
    pass


def step_overhead(run: Run, source_info: dict, seconds: float = 1.0) -> tuple[float, float]:
    """``(per step, first step's extra)`` of a step without its kernel: the algorithm's updates through
    :func:`algorithm.run` (for KIP: target batch drawn and gathered, the engine's tiling and assembling, the KRR
    loss and its gradient, Adam, the checks) with :class:`distributed.TiledEngine` over :class:`_InstantWorkers`,
    on a training split of the source's size; at most ``seconds`` of steps after the first."""
    from . import algorithm, kip
    from .distributed import TiledEngine

    cfg = run.config
    c, train = int(source_info["num_classes"]), int(source_info["train_size"])
    shape = tuple(source_info["image_shape"])
    x_train = np.broadcast_to(np.zeros((1, *shape), np.float32), (train, *shape))
    y_train = np.random.default_rng(0).permutation(np.arange(train) % c)
    algo = _algorithm(dataclasses.replace(cfg, steps=50))
    engine = TiledEngine(_InstantWorkers(), cfg.reg, cfg.tile or max(support_and_targets(cfg, source_info)))
    problem = algorithm.problem(x_train, y_train, c, gradients=engine)
    state = algo.init(problem, kip.start(x_train, y_train, c, cfg.ipc, cfg.seed)[0])
    stamps = [time.perf_counter()]

    def hook(state, losses):
        stamps.append(time.perf_counter())
        if len(stamps) > 3 and stamps[-1] - stamps[1] > seconds:
            raise _Enough

    try:
        algorithm.run(algo, problem, state, hook=hook, hook_every=1, progress=False)
    except _Enough:
        pass
    steps = np.diff(stamps)
    per = float(np.mean(steps[1:]))
    return per, max(0.0, float(steps[0]) - per)


def checkpoint_seconds(run: Run) -> float:
    """One :func:`checkpoint.save` of a support set of the run's size, into a temporary folder of this process."""
    from . import algorithm, checkpoint, kip

    cfg = run.config
    c = 10
    x = np.zeros((cfg.ipc * c, 2, 2, 1), np.float32)
    y = np.arange(len(x)) % c
    problem = algorithm.problem(x, y, c)
    state = _algorithm(cfg).init(problem, kip.start(x, y, c, cfg.ipc, cfg.seed)[0])
    with tempfile.TemporaryDirectory(prefix="distilled-registry-plan-") as tmp:
        t = time.perf_counter()
        checkpoint.save(tmp, state, cfg.to_dict(), [0.0] * 100)
        return time.perf_counter() - t


def release_seconds(run: Run, data) -> float:
    """Writing the release: the run's own files and provenance (:func:`distill._files`, ``_provenance``) and
    :func:`release.write_release`, for a support set of the run's shape, into a temporary folder."""
    import datetime as dt

    from distilled_registry import release as rel

    from . import distill, kip
    from .accuracy_curve import Curve

    cfg = run.config
    algo = _algorithm(cfg)
    src = data.source
    idx = kip.support_indices(src.y_train, cfg.ipc, cfg.seed)
    x0, ids = data.x_train[idx], src.y_train[idx]
    labels = np.eye(src.num_classes, dtype=np.float32)[ids]
    losses = [1.0 / (i + 1) for i in range(cfg.steps)] if algo.has_steps else None
    d = distill.Distilled(x0 + np.float32(1e-3 if algo.learns_images else 0.0), labels, x0, ids, losses, 0, 1.0)
    ev = {"accuracy": 0.5, "mse": 0.1, "test_size": len(src.y_test)}
    curve = None
    if run.eval_every and algo.has_steps:
        curve = Curve(run.eval_every, np.arange(10), cfg.seed, [(s, 0.5) for s in range(0, cfg.steps + 1,
                                                                                          run.eval_every)])
    t = time.perf_counter()
    files = distill._files(cfg, data, d, ev, ev, curve)
    prov = distill._provenance(cfg, data, d, ev, ev, None, {"wall_seconds": 1.0}, dt.datetime.now(dt.timezone.utc),
                               curve)
    with tempfile.TemporaryDirectory(prefix="distilled-registry-plan-") as tmp:
        rel.write_release(os.path.join(tmp, "release"), files, prov)
    return time.perf_counter() - t


@dataclasses.dataclass(frozen=True)
class Part:
    """One part of a run's time: ``basis`` is ``measured``, ``extrapolated``, ``table`` or ``assumed``."""

    name: str
    seconds: float
    basis: str
    detail: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _basis(estimates: list[Estimate]) -> str:
    kinds = {e.basis for e in estimates}
    return "measured" if kinds == {"measured"} else ("table" if "table" in kinds else "extrapolated")


def kernel_parts(run: Run, source_info: dict, timer) -> tuple[list[Part], dict]:
    """The kernel's parts of ``run`` priced by ``timer`` (a :class:`KernelTimer` or :class:`TableTimer`), dearest
    calls first (they get the budget); returns ``(parts, per-step seconds of the KIP tiles)``."""
    cfg = run.config
    calls = kernel_calls(run, source_info)
    weight = {c: c.count * c.rows * c.cols * (3 if c.mode == "vjp" else 1) * (cfg.steps if c.per_step else 1)
              for c in calls}
    est = {c: timer.estimate(c.mode, c.rows, c.cols) for c in sorted(calls, key=lambda c: -weight[c])}
    counts = tile_counts(run, source_info)
    share = 1.0
    if run.backend != "local" and run.workers > 1:  # tiles dealt round-robin: ceil(T / W) rounds of a pass's T
        tiles = [c for c in calls if c.fn == "worker"]
        per_step = [c for c in tiles if c.per_step]  # a step's tiles; else one pass's, over its target blocks
        per_pass = (sum(c.count for c in per_step) if per_step else
                    max(1, sum(c.count for c in tiles) // max(1, math.ceil(counts["target_size"] / EVAL_BLOCK))))
        share = math.ceil(per_pass / run.workers) / per_pass
    parts, step = [], {}
    for name in dict.fromkeys(c.part for c in calls):
        group = [c for c in calls if c.part == name]
        secs = sum(c.count * est[c].seconds for c in group)
        detail = "; ".join(f"{c.count:,} x {est[c].detail}" for c in group)
        basis = _basis([est[c] for c in group])
        if any(c.fn == "worker" for c in group) and share != 1.0:
            secs *= share
            detail += f"; on {run.workers} workers, {share:.3g} of the one-worker time (assumed: perfect scaling)"
            basis = "assumed"
        if any(c.per_step for c in group):
            step["tiles"] = secs
            detail = f"{cfg.steps:,} steps of {_s(secs)}: " + detail
            secs *= cfg.steps
        parts.append(Part(name, secs, basis, detail))
    compiled = {(c.fn, c.mode, c.rows, c.cols): est[c] for c in calls}
    parts.append(Part("compiling", sum(e.compile_seconds for e in compiled.values()), _basis(list(compiled.values())),
                      f"{len(compiled)} kernel shape(s), each compiled once by the run"))
    return parts, step


def plan_run(run: Run, source_info: dict, timer, data=None, prepare_seconds: float | None = None) -> dict:
    """Every part of ``run``'s time (:class:`Part`), the kernel's from ``timer``; ``data`` (a prepared source) and
    ``prepare_seconds``: the loading timed here, when the source was at hand."""
    cfg = run.config
    algo = _algorithm(cfg)
    parts = []
    if prepare_seconds is not None:
        parts.append(Part("loading and preprocessing", prepare_seconds, "measured", "distill.prepare, timed here"))
    else:
        parts.append(Part("loading and preprocessing", 0.0, "assumed",
                          "not counted: the source is not at hand (give --source-dir DIR to time it)"))
    kparts, step = kernel_parts(run, source_info, timer)
    parts += kparts
    n, m = support_and_targets(cfg, source_info)
    c = int(source_info["num_classes"])
    if algo.has_steps:
        per, first = step_overhead(run, source_info)
        step["rest"] = per
        parts.append(Part("rest of each step", per * cfg.steps + first, "measured",
                          f"{cfg.steps:,} x {_s(per)} (target batch, assembling, KRR solve and gradient, Adam, "
                          f"checks; kernel tiles answered at once) + {_s(first)} compiling"))
        if run.checkpoint_every:
            saves = cfg.steps // run.checkpoint_every
            parts.append(Part("checkpoints", saves * checkpoint_seconds(run), "measured",
                              f"{saves:,} saves of the state"))
    parts += [Part(name, seconds, "measured", detail) for name, seconds, detail in algo.other_costs(n, m, c)]
    if cfg.ls_finish:
        from .label_solve import solve_seconds

        rows = finish_rows(cfg, source_info)
        parts.append(Part("LS finish normal equations and solve", solve_seconds(n, rows, c, cfg.reg, cfg.ls_reg,
                                                                                cfg.eval_block), "measured",
                          f"G += K^T K over {math.ceil(rows / cfg.eval_block):,} blocks of targets, then the solve"))
    if data is not None:
        parts.append(Part("release files", release_seconds(run, data), "measured",
                          "previews, data.npz, parquet, Croissant, provenance, written to a temporary folder"))
    else:
        parts.append(Part("release files", 0.0, "assumed", "not counted: the source is not at hand"))
    total = sum(p.seconds for p in parts)
    counts = tile_counts(run, source_info)
    return {"algorithm": cfg.algorithm, "kernel": cfg.kernel.to_dict(), "image_shape": list(source_info["image_shape"]),
            "steps": cfg.steps if algo.has_steps else 0, "tile": cfg.tile, "backend": run.backend,
            "workers": run.workers,
            **counts, "parts": [p.to_dict() for p in parts], "seconds": total,
            "step_seconds": sum(step.values()) if algo.has_steps else None}


__all__ = ["Call", "Estimate", "KernelTimer", "Part", "Run", "TableTimer", "Timing", "eval_calls", "kernel_calls",
           "kernel_parts", "plan_run", "release_seconds", "startup_seconds", "step_overhead", "support_and_targets",
           "tile_counts"]
