"""Where kernel tiles are computed: in this process (``local``) or on Ray actors (``ray``).

Both run the same :class:`TileWorker`. Forward, a worker computes each tile with
``out, vjp_fn = jax.vjp(kernel_fn, a, b)`` and keeps ``vjp_fn`` under the tile's id; backward, it
applies the kept ``vjp_fn`` to the tile's cotangent and returns ``(dL/da, dL/db)``. A worker that
no longer holds a tile's ``vjp_fn`` (it died and was restarted, or another worker must take
over) recomputes it from the inputs: the result is the same, since a tile is a pure function of
its inputs.

Both backends are one :class:`Workers` (a ``typing.Protocol``; the engine in :mod:`distributed` knows
no other), and a pool is a context manager: ``with make_workers(...) as pool:`` closes it (Ray actors
killed, a Ray started here shut down) however the block ends.
"""

from __future__ import annotations

import functools
import os
import time
from types import TracebackType
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np

from distilled_registry.errors import UserError


class WorkersLost(UserError):
    """No Ray worker could compute some tiles (every actor died or kept failing): exit 1, one line."""

Job = tuple[int, str, str]

# Environment that keeps an XLA CPU worker's kernels single-threaded (for scaling measurements).
# XLA still starts helper threads, so a one-core worker is also pinned: see ``pin_to_cpu``.
ONE_THREAD_ENV = {"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false",
                  "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def pin_to_cpu(index: int) -> int:
    """Pin every thread of this process to one CPU: the ``index``-th (mod count) it may use.

    ``os.sched_setaffinity(0, ...)`` sets the calling thread only (and threads it starts later),
    so each existing thread id under ``/proc/self/task`` is set as well. Linux only.
    Returns the CPU chosen.
    """
    cpus = sorted(os.sched_getaffinity(0))
    cpu = cpus[index % len(cpus)]
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), {cpu})
        except (ProcessLookupError, PermissionError):
            pass  # a thread that ended meanwhile
    os.sched_setaffinity(0, {cpu})
    return cpu


@functools.lru_cache(maxsize=16)
def _tile_functions(spec) -> tuple[Callable, Callable, Callable]:
    """The jitted ``kernel_fn``, ``(a, b) -> (K, vjp_fn)`` and ``(vjp_fn, cot) -> (da, db)`` of one
    :class:`KernelSpec`, built once a process (every worker of the process, and every later run in it,
    reuses their traced and compiled code)."""
    import jax

    from .kernels import shared_kernel_fn

    kernel_fn = shared_kernel_fn(spec)
    return kernel_fn, jax.jit(lambda a, b: jax.vjp(kernel_fn, a, b)), jax.jit(lambda vjp_fn, cot: vjp_fn(cot))


class TileWorker:
    """Computes kernel tiles of one :class:`KernelSpec` and keeps their ``vjp_fn`` until backward."""

    def __init__(self, spec: dict, pin_cpu: int | None = None):
        # One-core worker (scaling figures): pin before jax starts its thread pools.
        self.cpu = pin_to_cpu(pin_cpu) if pin_cpu is not None else None
        from .kernels import KernelSpec

        self._kernel, self._fwd, self._bwd = _tile_functions(KernelSpec.from_dict(spec))
        self._vjp: dict[int, Any] = {}
        self.tiles_done = 0
        self.recomputed = 0

    def forward(self, jobs: list[Job], blocks: dict[str, np.ndarray], keep_vjp: bool = True) -> list[np.ndarray]:
        out = []
        for tile_id, ka, kb in jobs:
            if keep_vjp:
                k, vjp_fn = self._fwd(blocks[ka], blocks[kb])
                self._vjp[tile_id] = vjp_fn
            else:
                k = self._kernel(blocks[ka], blocks[kb])
            out.append(np.asarray(k))
            self.tiles_done += 1
        return out

    def backward(self, jobs: list[tuple[int, str, str, np.ndarray]],
                 blocks: dict[str, np.ndarray] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Apply kept ``vjp_fn``; recompute it from ``blocks`` where it is not held here."""
        out = []
        for tile_id, ka, kb, cot in jobs:
            vjp_fn = self._vjp.pop(tile_id, None)
            if vjp_fn is None:
                if blocks is None:
                    raise KeyError(f"tile {tile_id}: vjp_fn not held and no inputs to recompute it")
                _, vjp_fn = self._fwd(blocks[ka], blocks[kb])
                self.recomputed += 1
            da, db = self._bwd(vjp_fn, cot)
            out.append((np.asarray(da), np.asarray(db)))
        return out

    def holds(self, tile_ids: list[int]) -> list[bool]:
        return [t in self._vjp for t in tile_ids]

    def end_step(self) -> None:
        self._vjp.clear()

    def info(self) -> dict:
        return {"pid": os.getpid(), "cpu": self.cpu, "tiles_done": self.tiles_done,
                "recomputed": self.recomputed}

    def die(self) -> None:  # test-only fault injection: the process ends at once
        os._exit(1)


@runtime_checkable
class Workers(Protocol):
    """A pool of tile workers, as :class:`distributed.TiledEngine` and :func:`distributed.kernel_rows` use it.

    ``forward(jobs, blocks, keep_vjp)``: ``jobs`` ``[(tile_id, key_a, key_b)]``, ``blocks`` maps keys to image
    blocks (r, H, W, C); returns the tiles ``K(blocks[key_a], blocks[key_b])`` in job order, keeping each
    ``vjp_fn`` with ``keep_vjp``. ``backward(jobs, blocks)``: ``[(tile_id, key_a, key_b, cotangent)]`` ->
    ``[(dL/da, dL/db)]`` in order. ``end_step()``: forget this step's ``vjp_fn``. ``describe()``: the
    provenance's backend block. ``close()``: release the workers (also on leaving a ``with`` block).

    The backends subclass it for the context-manager methods below.
    """

    name: str
    workers: int

    def forward(self, jobs: list[Job], blocks: dict[str, np.ndarray], keep_vjp: bool = True) -> list[np.ndarray]: ...

    def backward(self, jobs: list, blocks: dict[str, np.ndarray] | None) -> list[tuple[np.ndarray, np.ndarray]]: ...

    def end_step(self) -> None: ...

    def describe(self) -> dict: ...

    def close(self) -> None: ...

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _actor_errors(ray) -> tuple:
    """Exceptions that mean 'this actor is gone or restarting'."""
    errs = [ray.exceptions.RayActorError]
    if hasattr(ray.exceptions, "ActorUnavailableError"):
        errs.append(ray.exceptions.ActorUnavailableError)
    return tuple(errs)


class LocalWorkers(Workers):
    """One in-process worker: the default backend."""

    name = "local"

    def __init__(self, spec: dict):
        self.worker = TileWorker(spec)
        self.workers = 1

    def forward(self, jobs, blocks, keep_vjp=True):
        return self.worker.forward(jobs, blocks, keep_vjp)

    def backward(self, jobs, blocks):
        return self.worker.backward(jobs, blocks)

    def end_step(self):
        self.worker.end_step()

    def describe(self) -> dict:
        return {"name": "local", "workers": 1}

    def close(self):
        pass


def actor_options(resources: dict, workers: int, one_thread: bool = False) -> dict:
    """Ray options of each tile actor on a cluster with ``resources`` (``ray.cluster_resources()``).

    One CPU each; where the cluster has GPUs, also one GPU each (``num_gpus=1``), so
    ``--workers N`` spreads the tiles over N GPUs and jax in each actor computes on its own one.
    More workers than GPUs would leave actors waiting for a GPU forever: ValueError instead, before
    any actor starts.
    """
    opts: dict = {"num_cpus": 1, "max_restarts": 3, "max_task_retries": 0}
    gpus = int(resources.get("GPU", 0))
    if gpus:
        if workers > gpus:
            raise ValueError(f"--workers {workers} is more than the {gpus} GPU(s) of the Ray cluster; each worker "
                             f"takes one GPU: give --workers {gpus} or less")
        opts["num_gpus"] = 1
    if one_thread:
        opts["runtime_env"] = {"env_vars": ONE_THREAD_ENV}
    return opts


class RayWorkers(Workers):
    """``n`` Ray actors, each a :class:`TileWorker`; tiles dealt round-robin in tile order.

    Args:
      spec: the kernel spec (dict).
      workers: number of actors.
      address: a running cluster (``ray start --head`` prints it); None starts a local Ray with
        ``workers`` CPUs when none is running in this process.
      one_thread: make each actor a one-core worker: XLA kernels single-threaded and the process
        pinned to CPU ``i mod cpu_count`` (a scaling figure compares such workers).
      fault: test-only ``(step, worker)``: after that step's forward, that actor's process exits.

    Faults: actors restart (``max_restarts``); a tile whose ``vjp_fn`` was lost with its actor is
    recomputed, by the restarted actor or the next live one, from the step's inputs.
    """

    name = "ray"

    def __init__(self, spec: dict, workers: int = 2, address: str | None = None, one_thread: bool = False,
                 fault: tuple[int, int] | None = None):
        if address is None:
            # A Ray started here serves this machine alone: keep every socket on the loopback
            # interface (by default Ray advertises the machine's network address).
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        from distilled_registry.extras import require

        require("ray", what="--backend ray")
        import ray

        if workers < 1:
            raise ValueError(f"--workers must be >= 1, got {workers}")
        self._ray = ray
        self._started_ray = False
        if not ray.is_initialized():
            env = {"env_vars": {"PYTHONWARNINGS": "ignore"}}
            if address:
                ray.init(address=address, runtime_env=env, log_to_driver=False)
            else:
                # "local": a fresh instance of our own, never a cluster someone started here with `ray start`
                # (ray.init without an address joins that one, and then refuses num_cpus)
                ray.init(address="local", num_cpus=workers, include_dashboard=False, runtime_env=env,
                         log_to_driver=False, _node_ip_address="127.0.0.1")
                self._started_ray = True
        try:
            opts = actor_options(ray.cluster_resources(), workers, one_thread)
        except ValueError:
            if self._started_ray:
                ray.shutdown()
            raise
        actor_cls = ray.remote(TileWorker)
        self.actors = [actor_cls.options(**opts).remote(spec, i if one_thread else None) for i in range(workers)]
        self.workers = workers
        self.address = address
        self._call_all("info")  # wait until every actor is up
        self._fault = fault
        self._step = 0
        self._assign: dict[int, int] = {}

    def _deal(self, jobs: list) -> list[list[int]]:
        """Job positions per actor: round-robin over tile order."""
        per = [[] for _ in self.actors]
        for pos in range(len(jobs)):
            per[pos % len(self.actors)].append(pos)
        return per

    def forward(self, jobs, blocks, keep_vjp=True):
        ray = self._ray
        ref = ray.put(blocks)
        self._blocks_ref = ref
        per = self._deal(jobs)
        futures = [self.actors[w].forward.remote([jobs[p] for p in ps], ref, keep_vjp) if ps else None
                   for w, ps in enumerate(per)]
        out: list = [None] * len(jobs)
        for w, (ps, fut) in enumerate(zip(per, futures)):
            if fut is None:
                continue
            try:
                res = ray.get(fut)
            except _actor_errors(ray):
                res = self._retry(lambda a: a.forward.remote([jobs[p] for p in ps], ref, keep_vjp), w)
            for p, k in zip(ps, res):
                out[p] = k
                self._assign[jobs[p][0]] = w
        if self._fault is not None and keep_vjp and self._fault[0] == self._step:
            victim = self.actors[self._fault[1]]
            try:
                ray.get(victim.die.remote())
            except _actor_errors(ray):
                pass  # it died, as asked
        return out

    def backward(self, jobs, blocks):
        ray = self._ray
        by_actor: dict[int, list[int]] = {}
        for pos, job in enumerate(jobs):
            by_actor.setdefault(self._assign.get(job[0], 0), []).append(pos)
        ref = self._blocks_ref
        futures = {w: self.actors[w].backward.remote([jobs[p] for p in ps], ref) for w, ps in by_actor.items()}
        out: list = [None] * len(jobs)
        for w, ps in by_actor.items():
            try:
                res = ray.get(futures[w])
            except _actor_errors(ray):
                # The actor died after forward: its vjp_fn are gone. Recompute on a live worker.
                res = self._retry(lambda a: a.backward.remote([jobs[p] for p in ps], ref), w)
            for p, g in zip(ps, res):
                out[p] = g
        self._step += 1
        return out

    def _retry(self, call, failed: int):
        """Run ``call(actor)`` on the actors after ``failed`` in turn (then ``failed`` itself, restarted)."""
        ray = self._ray
        order = [(failed + k) % len(self.actors) for k in range(1, len(self.actors) + 1)]
        last = None
        for w in order:
            for _ in range(20):  # a restarting actor answers after a few seconds
                try:
                    return ray.get(call(self.actors[w]))
                except _actor_errors(ray) as e:
                    last = e
                    time.sleep(0.5)
                    if w != failed:
                        break
        raise WorkersLost(f"no Ray worker could compute the tiles of worker {failed} ({type(last).__name__}: "
                          f"{str(last).splitlines()[0] if str(last) else ''}); the cluster lost its workers: check "
                          "`ray status`, then run again (with --checkpoint-every, --resume continues)")

    def _call_all(self, method: str) -> list:
        """``method()`` on every actor, waiting for restarting ones (up to 60 s each)."""
        ray = self._ray
        out = []
        for a in self.actors:
            for attempt in range(120):
                try:
                    out.append(ray.get(getattr(a, method).remote()))
                    break
                except _actor_errors(ray):
                    if attempt == 119:
                        raise
                    time.sleep(0.5)
        return out

    def end_step(self):
        self._call_all("end_step")
        self._assign.clear()

    def describe(self) -> dict:
        infos = self._call_all("info")
        return {"name": "ray", "workers": self.workers, "address": self.address or "local",
                "tiles_recomputed": sum(i["recomputed"] for i in infos), "fault_injected": self._fault is not None}

    def close(self):
        for a in self.actors:
            self._ray.kill(a)
        if self._started_ray:
            self._ray.shutdown()


def make_workers(spec: dict, backend: str = "local", workers: int = 1, address: str | None = None,
                 **kwargs) -> Workers:
    """The pool of the backend named ``backend`` (``local`` or ``ray``); a context manager that closes it."""
    if backend == "local":
        if workers != 1:
            raise ValueError(f"the local backend has one in-process worker; got --workers {workers} "
                             "(use --backend ray for more)")
        return LocalWorkers(spec)
    if backend == "ray":
        return RayWorkers(spec, workers=workers, address=address, **kwargs)
    raise ValueError(f"unknown backend {backend!r}; choose local or ray")
