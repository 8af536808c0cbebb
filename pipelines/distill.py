"""The main job: source -> preprocessing -> KIP or LS -> evaluation -> release folder.

``distill(config, out)`` is what ``distilled-registry distill`` runs. Every input that decides
the result is in :class:`DistillConfig` (:mod:`distilled_registry.distill_config`, the one home of the
hyper-parameters, their defaults and their checks; re-exported here), and the whole config is written
into the release's provenance, so ``DistillConfig.from_dict(provenance["config"])`` reruns it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from distilled_registry import environment, output_folder, preview, provenance, references, user_values
from distilled_registry import release as rel
from distilled_registry.distill_config import (  # noqa: F401 - re-exported: pipelines.distill.DistillConfig, ...
    ALGORITHMS,
    ConfigError,
    DistillConfig,
    KernelSpec,
)

from . import algorithm as alg
from . import algorithms, kip, krr, sources, starting
from .limits import DEFAULT_TILE, MAX_EVAL_SUBSET, MAX_STEPS, MAX_TILE, MAX_WORKERS  # noqa: F401 - MAX_TILE re-exported
from .preprocess import fit_transform

CHECKPOINT_FILE = "kip_state.npz"  # checkpoint.FILE (that module imports jax)
# jax's matmul precision for a run, recorded in the provenance (environment.device.matmul_precision).
MATMUL_PRECISION = "highest"


@dataclasses.dataclass
class Prepared:
    """A source loaded and mapped into the preprocessed space, ready for a kernel."""

    source: sources.Source
    transform: object
    x_train: np.ndarray
    x_test: np.ndarray


def check_images(config: DistillConfig, shape: tuple) -> None:
    """ConfigError when images of ``shape`` (N, H, W, C) cannot go through ``config``'s kernel (too deep)."""
    try:
        config.kernel.check_images(tuple(shape))
    except ValueError as e:
        raise ConfigError(str(e)) from e


def check_ipc(config: DistillConfig, labels: np.ndarray, class_names: list[str]) -> None:
    """ConfigError when a class of the training split has fewer than ``config.ipc`` images.

    The support set takes ``ipc`` distinct real images of every class, so ``ipc`` is at most the size
    of the smallest class; the message names that class and its size.
    """
    counts = np.bincount(np.asarray(labels, np.int64), minlength=len(class_names))
    c = int(np.argmin(counts))
    if config.ipc > counts[c]:
        name = f" ({class_names[c]!r})" if c < len(class_names) and class_names[c] != str(c) else ""
        raise ConfigError(f"--ipc {config.ipc} is more than the {int(counts[c])} training images of class {c}{name}, "
                          f"the smallest class of {config.source}; give --ipc {int(counts[c])} or less")


def check_workers(backend: str, workers: int) -> None:
    """ConfigError unless ``workers`` is 1..MAX_WORKERS, and 1 for the local backend (checked before any work)."""
    user_values.count(workers, "--workers", 1, MAX_WORKERS)  # Ray actors computing kernel tiles
    if backend == "local" and workers != 1:
        raise ConfigError(f"--workers {workers} needs --backend ray: the local backend computes every tile in this "
                          "process (one worker)")


def prepare(config: DistillConfig, source_dir: str | None = None, source_notes: dict | None = None) -> Prepared:
    """Load the source and fit + apply the preprocessing (raises SourceError / ConfigError).

    The config is checked against the source before any work: the kernel's depth against the image
    size (known from the source facts before loading, and again on the loaded arrays), and
    ``ipc`` against the smallest class, before the preprocessing is fitted.
    """
    from distilled_registry import source_facts

    known = source_facts.SOURCES.get(config.source)
    if known:
        check_images(config, (1, *known.image_shape))
    src = sources.load_source(config.source, source_dir, **config.source_options(), **(source_notes or {}))
    check_images(config, src.x_train.shape)
    check_ipc(config, src.y_train, src.class_names)
    t = fit_transform(src.x_train, zca=config.zca, zca_reg=config.zca_reg, fitted_on=src.fingerprint)
    return Prepared(src, t, t.apply(src.x_train), t.apply(src.x_test))


def distill(config: DistillConfig, out: str | Path, source_dir: str | None = None, *,
            progress: bool = True, overwrite: bool = False, backend: str = "local", workers: int = 1,
            ray_address: str | None = None, checkpoint_every: int = 0, checkpoint_dir: str | Path | None = None,
            resume: bool = False, eval_every: int = 0, eval_subset: int = 1000, family: str | None = None,
            source_notes: dict | None = None, resume_on_other_devices: bool = False,
            overrides: list[dict] | None = None, write: Callable[[dict, dict], Path] | None = None,
            finish_from: str | Path | None = None, init_from: str | Path | None = None) -> dict:
    """Run ``config`` and write a release folder at ``out``; returns its provenance as written (``files`` included).

    Nothing is written at ``out`` unless the whole run succeeds.

    Args:
      backend, workers, ray_address: where kernel tiles are computed (``local`` in-process, or
        ``ray`` actors; see :mod:`backends`). Needs ``config.tile > 0`` for ``ray``.
      checkpoint_every: save the KIP state every this many steps (0: never) into
        ``checkpoint_dir`` (default: ``<out>.checkpoint`` beside ``out``), removed on success.
      resume: continue from the checkpoint in ``checkpoint_dir`` when there is one; one written on other
        devices is refused unless ``resume_on_other_devices`` (:func:`checkpoint.load`, rule F).
      eval_every, eval_subset: KIP only: measure the KRR test accuracy every ``eval_every`` steps (0: never)
        on a fixed class-balanced subset of ``eval_subset`` test images (:mod:`accuracy_curve`); the points go
        into the checkpoint, the provenance (``metrics.test_subset_curve``) and ``accuracy_curve.png``.
      family: the provenance's family name (default :meth:`DistillConfig.family`); a release put into the
        store by name carries that name's family.
      source_notes: a user source's ``licence`` and ``citation``, recorded in the provenance's source block.
      overrides: the fields changed from the config the run was asked for (``--set``: ``[{"field", "value",
        "was"}]``), recorded in the provenance beside the config, which holds the values run.
      write: how the release's ``(files, provenance)`` are written, once (default: a release folder at
        ``out``; ``regenerate`` writes into the store, :func:`distilled_registry.store.put`); returns the folder.
      finish_from: a finished KIP release of this same config without ``ls_finish`` (:func:`finished_release`):
        its steps are not run again; its images and labels are the state after them, and only ``ls_finish``'s
        label solve and the evaluation run. Its loss, curve and step time are carried into the new provenance.
      init_from: KIP: start from this release's images and labels (:func:`starting.start_release`).
    """
    config.validate()
    config, start = starting.start_release(config, init_from)
    check_workers(backend, workers)
    out = user_values.path(out, "--out")
    checkpoint_every = user_values.count(checkpoint_every, "--checkpoint-every", 0, MAX_STEPS)
    eval_every = user_values.count(eval_every, "--eval-every", 0, MAX_STEPS)
    eval_subset = user_values.count(eval_subset, "--eval-subset", 1, MAX_EVAL_SUBSET)
    ckpt_dir = user_values.path(checkpoint_dir, "--checkpoint-dir") if checkpoint_dir is not None else None
    ckpt_dir = Path(ckpt_dir) if ckpt_dir else out.with_name(out.name + ".checkpoint")
    ckpt = Checkpointing(checkpoint_every, ckpt_dir, resume, resume_on_other_devices)
    if resume_on_other_devices and not resume:
        raise ConfigError("--resume-on-other-devices goes with --resume (it lets a resume use a checkpoint written "
                          "on other devices)")
    check_out(out, overwrite)
    parent = finished_release(config, finish_from, checkpoint_every, resume, eval_every) if finish_from else None
    algo = algorithms.make(config)  # built once for the run: its optimiser too
    if algo.has_steps and ckpt.used:
        claim_checkpoint_dir(out, ckpt)
    if eval_every and not algo.has_steps:
        raise ConfigError(f"--eval-every measures a run's accuracy as it learns; {algo.title} has no steps")
    if backend != "local" and config.tile == 0:
        raise ConfigError(f"--backend {backend} spreads kernel tiles over workers: give --tile N (rows per tile), "
                          f"e.g. the default {DEFAULT_TILE}")
    t0 = time.perf_counter()
    started = dt.datetime.now(dt.timezone.utc)
    data = prepare(config, source_dir, source_notes)
    for release, flag in ((parent, "--finish-from"), (start, "--init-from")):
        if release is not None:
            check_same_space(release, data, flag)
    from .kernels import shared_kernel_fn

    kernel_fn = shared_kernel_fn(config.kernel)
    pool = None
    if config.tile:
        from . import backends

        try:
            pool = backends.make_workers(config.kernel.to_dict(), backend, workers, ray_address)
        except ValueError as e:
            raise ConfigError(str(e)) from e
    import jax

    with pool if pool is not None else contextlib.nullcontext():  # the workers end with the run, however it ends
        # Full float32 products everywhere (KRR solves, neural-tangents' convolutions): no TF32 or
        # bf16 passes on GPUs, so a GPU computes what the CPU does (the fast kernel asks for it too).
        with jax.default_matmul_precision(MATMUL_PRECISION):
            curve = None
            if eval_every:
                from .accuracy_curve import Curve, subset_indices

                curve = Curve(eval_every, subset_indices(data.source.y_test, eval_subset, config.seed), config.seed)
            elif parent is not None:
                curve = parent_curve(parent, data.source.y_test)
            d = _distil(config, algo, data, kernel_fn, pool, progress, ckpt, curve, parent, start)
            t_eval = time.perf_counter()
            natural, distilled, before = _evaluate(config, data, kernel_fn, d, progress)
            timing = _timing(t0, t_eval, d)
            files = _files(config, data, d, natural, distilled, curve)
            prov = _provenance(config, data, d, natural, distilled, pool, timing, started, curve, family, before)
        if overrides:
            prov["overrides"] = list(overrides)
        written = write(files, prov) if write is not None else rel.write_release(out, files, prov, overwrite=overwrite)
        if algo.has_steps and ckpt.used:
            from . import checkpoint

            checkpoint.remove(ckpt.folder)  # its own files only; the folder too when that leaves it empty
        return rel.read_provenance(written)  # as written: with "files" (every file's sha256 and size, croissant's too)


def claim_checkpoint_dir(out: Path, ckpt: "Checkpointing") -> None:
    """Before any work: the checkpoint folder is not ``out`` nor inside it, and is a new folder or the checkpoint
    folder of an earlier run, continued with ``--resume`` (rule A, :func:`output_folder.claim`)."""
    a, c = out.resolve(), ckpt.folder.resolve()
    if c == a or a in c.parents:
        raise ConfigError(f"--checkpoint-dir {str(ckpt.folder)!r} is --out or inside it; give a folder beside it "
                          f"(default: {out.name}.checkpoint)")
    if ckpt.resume:
        from . import checkpoint

        checkpoint.adopt(ckpt.folder)  # a checkpoint folder of an older version: only its kip_state.npz
    output_folder.claim(ckpt.folder, "checkpoint", replace=ckpt.resume, flag="--resume", option="--checkpoint-dir",
                        writes=[CHECKPOINT_FILE], verb="continue")


def check_out(out: Path, overwrite: bool = False, flag: str | None = "--overwrite") -> None:
    """Refuse, before any work, an ``--out`` the release could not be written to.

    It must not exist (not even as a dangling symlink), or, with ``overwrite``, be a release folder this
    package wrote (rule A, :func:`output_folder.claim`; ``flag`` is the option that allows replacing one);
    and its nearest existing ancestor must be a folder this process may write in.
    """
    output_folder.claim(out, output_folder.RELEASE, replace=overwrite, flag=flag)
    parent = out.parent
    while not os.path.lexists(parent) and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"--out {str(out)!r}: {str(parent)!r} is a file (or a broken link), not a folder; "
                          "choose another --out")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {str(out)!r}: no permission to write in {str(parent)!r}; choose another --out")


@dataclasses.dataclass(frozen=True)
class Checkpointing:
    """KIP checkpoints of a run: every ``every`` steps (0: never) into ``folder``; ``resume`` from it."""

    every: int
    folder: Path
    resume: bool
    other_devices: bool = False  # resume a checkpoint written on other devices (rule F)

    @property
    def used(self) -> bool:
        return bool(self.every or self.resume)


@dataclasses.dataclass
class Distilled:
    """What a run made: the support set (``images`` (n, H, W, C), ``labels`` (n, C)), the real images it
    started from (``x0``, with ``class_ids`` (n,)), the KIP loss per step and the step it resumed from."""

    images: np.ndarray
    labels: np.ndarray
    x0: np.ndarray
    class_ids: np.ndarray
    losses: list | None
    resumed_from: int
    seconds: float
    resumed_on_other_devices: dict | None = None  # {"checkpoint", "here"}: the machines, when they differ
    seconds_before: float | None = 0.0  # the algorithm's time in earlier processes (resumes); None: not recorded
    labels_before_finish: np.ndarray | None = None  # --ls-finish: the KIP labels its solve replaced (n, C)
    finish: dict | None = None  # --ls-finish: what it did ({"targets", "ls_reg", "seconds"})
    parent: object | None = None  # --finish-from: the finished release the steps came from (ReleaseContents)
    start: object | None = None  # --init-from: the release the steps started from (ReleaseContents)


def _distil(config: DistillConfig, algo: alg.Algorithm, data: Prepared, kernel_fn, pool, progress: bool,
            ckpt: Checkpointing, curve=None, parent=None, start=None) -> Distilled:
    """Run ``algo`` (:func:`algorithm.run`) from the real images of :func:`kip.support_indices`; the same loop for
    every algorithm. One with steps is checkpointed and resumed (``ckpt``) and measured by ``curve`` (an
    :class:`accuracy_curve.Curve`) at the start step and every ``curve.every`` steps; its points travel in the
    checkpoint. With ``config.ls_finish`` the labels are then solved in closed form (:func:`label_solve.finish`);
    with ``parent`` (``--finish-from``) the steps are the parent release's and only that solve runs; with ``start``
    (``--init-from``) the steps start from that release's images and labels (the natural baseline keeps the real
    start images)."""
    src = data.source
    support, class_ids = kip.start(data.x_train, src.y_train, src.num_classes, config.ipc, config.seed)
    x0 = support["images"]
    if start is not None:
        support = starting.start_support(start, support, class_ids)
    t = time.perf_counter()
    problem = _problem(config, data, kernel_fn, pool, progress)
    if parent is not None:
        return _finish(config, problem, parent, x0, class_ids, t)
    state = algo.init(problem, support)
    history: list[float] = []
    other_devices = None
    stepped = algo.has_steps
    if stepped and ckpt.resume:
        from . import checkpoint

        saved = checkpoint.load(ckpt.folder, state, config.to_dict(), other_machine=ckpt.other_devices)
        if saved is not None:
            state, history = saved
            if curve is not None:
                curve.points = checkpoint.load_curve(ckpt.folder)
            other = checkpoint.saved_machine(ckpt.folder) if ckpt.other_devices else None
            if other is not None and other != checkpoint.machine():  # recorded in the provenance (rule F)
                other_devices = {"checkpoint": other, "here": checkpoint.machine()}
    resumed_from = state.step
    # the run's time before this process (None: resumed from a checkpoint that did not record it)
    before = 0.0 if resumed_from == 0 else checkpoint.saved_seconds(ckpt.folder)

    def measure(s) -> None:
        curve.measure(kernel_fn, s.step, s.images, s.labels, data.x_test, src.y_test, config.reg, config.eval_block)

    if curve is not None and not any(step == state.step for step, _ in curve.points):
        measure(state)

    def hook(s, losses_so_far) -> None:
        if curve is not None and s.step % curve.every == 0:
            measure(s)
        if ckpt.every and s.step % ckpt.every == 0:
            from . import checkpoint

            checkpoint.save(ckpt.folder, s, config.to_dict(), losses_so_far,
                            curve=curve.points if curve is not None else None,
                            seconds=None if before is None else before + time.perf_counter() - t)

    state, losses = alg.run(algo, problem, state, hook=hook, hook_every=1 if stepped and (curve or ckpt.every) else 0,
                            progress=progress, losses=history)
    if curve is not None and curve.points[-1][0] != state.step:
        measure(state)
    d = Distilled(state.images, state.labels, x0, class_ids, losses if stepped else None,
                  resumed_from, time.perf_counter() - t, other_devices, before, start=start)
    return _label_solve_finish(config, problem, d, t) if config.ls_finish else d


def _label_solve_finish(config: DistillConfig, problem: alg.Problem, d: Distilled, t: float) -> Distilled:
    """``d`` with its labels replaced by :func:`label_solve.finish`'s for its images (``--ls-finish``)."""
    from . import label_solve

    t_solve = time.perf_counter()
    labels = label_solve.finish(problem, d.images, d.labels, config.reg, config.ls_reg, config.eval_block,
                                config.ls_targets, config.seed)
    targets = label_solve.solved_rows(problem.num_classes, len(problem.y_train), config.ls_targets)
    finish = {"targets": targets, "ls_reg": config.ls_reg, "seconds": round(time.perf_counter() - t_solve, 3),
              "what": "the support labels replaced by Label Solve's closed form for the final images, "
                      "y_s = K_reg solve(K_st K_ts + ls_reg tr/n I, K_st y_t) over the targets "
                      "(pipelines/label_solve.py)"}
    return dataclasses.replace(d, labels=labels, labels_before_finish=d.labels, finish=finish,
                               seconds=time.perf_counter() - t)


def _finish(config: DistillConfig, problem: alg.Problem, parent, x0: np.ndarray, class_ids: np.ndarray,
            t: float) -> Distilled:
    """``--finish-from``: the parent release's images and labels as the state after its steps, then
    :func:`_label_solve_finish`; its time before is the parent's algorithm time (None when not recorded)."""
    prov = parent.record
    if not np.array_equal(parent.arrays["class_ids"], class_ids):
        raise ConfigError(f"--finish-from {str(parent.path)!r}: its class ids are not those of this config's start "
                          "images; it was not made by this config")
    timing = prov.get("timing") or {}
    before = timing.get("seconds_before_resume", 0.0) if (prov["algorithm"].get("resumed_from_step") or 0) else 0.0
    before = None if before is None else before + timing.get("algorithm_seconds", 0.0)
    d = Distilled(parent.arrays["images"], parent.arrays["labels"], x0, class_ids, None, config.steps, 0.0,
                  seconds_before=before, parent=parent)
    return _label_solve_finish(config, problem, d, t)


# config fields a --finish-from run may give differently from its parent release: the finish itself, and how the
# kernel is computed
FINISH_FREE = ("ls_finish", "ls_reg", "ls_targets", "tile", "eval_block")


def finished_release(config: DistillConfig, path: str | Path, checkpoint_every: int, resume: bool, eval_every: int):
    """The release at ``path`` (read and verified: :func:`distilled_registry.release.read_release`) that
    ``--finish-from`` continues, checked before any work: a run of this package whose config equals ``config``
    but for :data:`FINISH_FREE`, without ``ls_finish``, its steps all run; ConfigError naming the difference."""
    path = user_values.path(path, "--finish-from")
    if not config.ls_finish:
        raise ConfigError("--finish-from runs only what --ls-finish adds to a finished KIP release; add --ls-finish")
    if checkpoint_every or resume or eval_every:
        raise ConfigError("--finish-from runs no steps: leave out --checkpoint-every, --resume and --eval-every "
                          "(the release's own accuracy curve is carried over)")
    parent, prov = starting.run_release(path, "--finish-from", "only a KIP run's release can be finished")
    if prov["config"].get("ls_finish"):
        raise ConfigError(f"--finish-from {str(path)!r}: its labels were already solved (--ls-finish); finish the "
                          "release it was made from")
    mine, theirs = config.to_dict(), prov["config"]
    diff = starting.config_difference(mine, theirs, sorted((set(mine) | set(theirs)) - set(FINISH_FREE)))
    if diff:
        raise ConfigError(f"--finish-from {str(path)!r} was made with another config ({diff}); give the flags it was "
                          "made with, plus --ls-finish")
    if (prov.get("algorithm") or {}).get("steps_run") != config.steps:
        raise ConfigError(f"--finish-from {str(path)!r} ran {prov['algorithm'].get('steps_run')} steps, not --steps "
                          f"{config.steps}")
    return parent


def check_same_space(parent, data: Prepared, flag: str = "--finish-from") -> None:
    """ConfigError unless ``data`` (this run's source and preprocessing) is the ``flag`` release's: the same source
    fingerprint and the same transform, byte for byte, so its images live where this run's targets do."""
    prov = parent.record
    where = f"{flag} {str(parent.path)!r}"
    if prov["source"].get("fingerprint_sha256") != data.source.fingerprint:
        raise ConfigError(f"{where} was distilled from {prov['source'].get('name')} with fingerprint "
                          f"{prov['source'].get('fingerprint_sha256')}, but this source reads as "
                          f"{data.source.fingerprint}; "
                          "point --source-dir at the data it was made from")
    if parent.files.get(rel.TRANSFORM_FILE) != data.transform.to_bytes():
        raise ConfigError(f"{where}: its {rel.TRANSFORM_FILE} differs from the preprocessing this run fits, so its "
                          "images are not in this run's space; it was not made by this config")


def parent_curve(parent, y_test: np.ndarray):
    """The parent release's accuracy curve (``metrics.test_subset_curve``) as a :class:`accuracy_curve.Curve`, its
    subset rebuilt and checked against the recorded sha256; None when it has none."""
    from .accuracy_curve import Curve, indices_sha256, subset_indices

    rec = (parent.record.get("metrics") or {}).get("test_subset_curve")
    if not rec:
        return None
    idx = subset_indices(y_test, rec["subset_size"], rec["subset_seed"])
    if indices_sha256(idx) != rec["subset_indices_sha256"]:
        raise ConfigError(f"--finish-from {str(parent.path)!r}: its accuracy curve was measured on another test "
                          "subset than this source gives")
    return Curve(rec["every"], idx, rec["subset_seed"], list(zip(rec["steps"], rec["accuracy"])))


def _timing(t0: float, t_eval: float, d: Distilled) -> dict:
    """The provenance's ``timing``: this process's wall, algorithm and evaluation seconds; a resumed run's time in
    the processes before this one (``seconds_before_resume``, None when its checkpoint did not record it)."""
    now = time.perf_counter()
    timing = {"wall_seconds": round(now - t0, 3), "algorithm_seconds": round(d.seconds, 3),
              "evaluation_seconds": round(now - t_eval, 3)}
    if d.resumed_from:
        timing["seconds_before_resume"] = None if d.seconds_before is None else round(d.seconds_before, 3)
    return timing


def _problem(config: DistillConfig, data: Prepared, kernel_fn, pool, progress: bool) -> alg.Problem:
    """The run's :class:`algorithm.Problem`: the kernel in this process (``kernel_matrix`` blocks of ``eval_block``
    rows, :func:`kip.dense_engine`) or as tiles on ``pool`` (:func:`distributed.kernel_rows`, ``TiledEngine``)."""
    src = data.source
    if pool is None:
        from .kernels import kernel_matrix

        return alg.problem(data.x_train, src.y_train, src.num_classes, kernel_fn, progress=progress,
                           rows=lambda a, b: kernel_matrix(kernel_fn, a, b, block=config.eval_block),
                           gradients=kip.dense_engine(kernel_fn, config.reg))
    from .distributed import TiledEngine, kernel_rows

    return alg.problem(data.x_train, src.y_train, src.num_classes, kernel_fn, progress=progress,
                       rows=lambda a, b: kernel_rows(pool, a, b, config.tile),
                       gradients=TiledEngine(pool, config.reg, config.tile))


def _evaluate(config: DistillConfig, data: Prepared, kernel_fn, d: Distilled,
              progress: bool) -> tuple[dict, dict, dict | None]:
    """``(natural, distilled, before)``: KRR on the full test split with the real start images (centred one-hot
    labels), with the release's support set (:func:`krr.evaluate`), and (``--ls-finish``, else None) with the
    release's images under the KIP labels the solve replaced, in the same kernel pass."""
    src = data.source
    y0 = krr.centered_one_hot(d.class_ids, src.num_classes)
    ev = dict(reg=config.reg, block=config.eval_block)
    if np.array_equal(d.images, d.x0):  # LS keeps the real images: one kernel pass serves both figures
        natural, distilled = krr.evaluate_labels(kernel_fn, d.x0, [y0, d.labels], data.x_test, src.y_test,
                                                 progress="eval" if progress else None, **ev)
        return natural, distilled, None
    natural = krr.evaluate(kernel_fn, d.x0, y0, data.x_test, src.y_test,
                           progress="natural eval" if progress else None, **ev)
    label_sets = [d.labels] if d.labels_before_finish is None else [d.labels, d.labels_before_finish]
    figures = krr.evaluate_labels(kernel_fn, d.images, label_sets, data.x_test, src.y_test,
                                  progress="distilled eval" if progress else None, **ev)
    return natural, figures[0], (figures[1] if len(figures) > 1 else None)


def _files(config: DistillConfig, data: Prepared, d: Distilled, natural: dict, distilled: dict,
           curve=None) -> dict[str, bytes]:
    """The release's files but ``provenance.json``: data.npz, transform.npz, the pictures when matplotlib is here."""
    files = {rel.DATA_FILE: rel.data_bytes(d.images, d.labels, d.class_ids),
             rel.TRANSFORM_FILE: data.transform.to_bytes()}
    if not preview.available():
        print(f"note: {preview.MISSING}", file=sys.stderr)
        return files
    run = f"{config.family()} ipc{config.ipc}"
    files["preview.png"] = preview.grid_png(
        [(f"{config.algorithm.upper()} (distilled)", d.images, d.class_ids), ("real (start)", d.x0, d.class_ids)],
        data.source.class_names, per_class=10, labels=[d.labels, None],
        title=f"{run} {config.kernel.architecture}: KRR test acc {distilled['accuracy']:.3f} "
              f"(real {natural['accuracy']:.3f})")
    if d.losses:
        files["loss_curve.png"] = preview.loss_png(d.losses, run)
    elif d.parent is not None and "loss_curve.png" in d.parent.files:
        files["loss_curve.png"] = d.parent.files["loss_curve.png"]  # the same steps' losses (--finish-from)
    if curve is not None:
        files["accuracy_curve.png"] = preview.curve_png(
            [p[0] for p in curve.points], [p[1] for p in curve.points],
            f"{run} {config.kernel.architecture}: KRR accuracy on {len(curve.indices)} test images",
            final=distilled["accuracy"])
    return files


def _provenance(config: DistillConfig, data: Prepared, d: Distilled, natural: dict, distilled: dict, pool,
                timing: dict, started: dt.datetime, curve=None, family: str | None = None,
                before: dict | None = None) -> dict:
    """The run's provenance (:func:`distilled_registry.provenance.build`)."""
    src = data.source
    steps = {"steps_run": config.steps if d.losses is not None else 0,  # losses: None without steps
             "resumed_from_step": d.resumed_from, "final_loss": d.losses[-1] if d.losses else None}
    finish = {}
    if d.parent is not None:  # --finish-from: the steps are the parent release's
        pa, pp = d.parent.record["algorithm"], d.parent.record
        steps = {"steps_run": pa["steps_run"], "resumed_from_step": config.steps, "final_loss": pa.get("final_loss")}
        finish["finished_from_release"] = {
            "data_sha256": pp["files"][rel.DATA_FILE]["sha256"], "created": pp.get("created"),
            "git": (pp.get("environment") or {}).get("git"), "timing": pp.get("timing"),
            "what": "its images and labels were the state after its steps; this run ran only the label solve"}
    if d.finish is not None:
        finish["ls_finish"] = d.finish
    if d.start is not None:  # --init-from: the release the steps started from
        sp = d.start.record
        finish["started_from_release"] = {
            "data_sha256": sp["files"][rel.DATA_FILE]["sha256"], "family": sp.get("name"), "created": sp.get("created"),
            "git": (sp.get("environment") or {}).get("git"), "config": sp.get("config"),
            "steps_run": (sp.get("algorithm") or {}).get("steps_run"),
            "krr_test_accuracy": (sp.get("metrics") or {}).get("krr_test_accuracy"), "timing": sp.get("timing"),
            "what": "this run's steps started from its images and labels (a fresh optimiser) instead of real images"}
    return provenance.build(
        family or config.family(),
        config=config.to_dict(),
        source=src.describe(),
        preprocessing={"file": rel.TRANSFORM_FILE, **data.transform.params},
        kernel=config.kernel.to_dict(),
        algorithm={"name": config.algorithm, "paper": references.RUN_PAPER[config.algorithm], **steps,
                   **({"resumed_on_other_devices": d.resumed_on_other_devices} if d.resumed_on_other_devices else {}),
                   **finish, "support_size": int(len(d.images))},
        seed=config.seed,
        backend={**(pool.describe() if pool is not None else {"name": "local", "workers": 1}), "tile": config.tile},
        environment={**environment.library_versions(), "git": environment.git_commit(),
                     "device": environment.device()},
        timing=timing,
        created=started.isoformat(timespec="seconds"),
        metrics={
            "krr_test_accuracy": distilled["accuracy"], "krr_test_mse": distilled["mse"],
            "natural_krr_test_accuracy": natural["accuracy"], "natural_krr_test_mse": natural["mse"],
            "recipe": {
                "what": "kernel ridge regression with the release's kernel on the full test split of the source",
                "support": "the release's images and labels; natural_* uses the real images the run started from "
                           "(class-balanced sample, same seed) with centred one-hot labels",
                "reg": config.reg, "ridge": "K_ss + reg * trace(K_ss)/n * I",
                "test_split": "test", "test_size": distilled["test_size"],
                "source_exact_copy": src.exact,
            },
            **({"test_subset_curve": curve.record()} if curve is not None else {}),
            **({"krr_test_accuracy_before_ls_finish": before["accuracy"],
                "krr_test_mse_before_ls_finish": before["mse"]} if before is not None else {}),
        })
