"""The main job: source -> preprocessing -> KIP or LS -> evaluation -> release folder.

``distill(config, out)`` is what ``distilled-registry distill`` runs. Every input that decides
the result is in :class:`DistillConfig`, and the whole config is written into the release's
provenance, so ``DistillConfig.from_dict(provenance["config"])`` reruns it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import sys
import time
from pathlib import Path

import numpy as np

from distilled_registry import release as rel
from distilled_registry.errors import UsageError
from distilled_registry.provenance import SCHEMA as PROVENANCE_SCHEMA
from distilled_registry import preview

from . import environment, kip, krr, label_solve, sources
from .kernels import KernelSpec
from .limits import MAX_SEED, MAX_TILE, MAX_WORKERS
from .preprocess import fit_transform

ALGORITHMS = ("kip", "ls")
# Rows per kernel tile unless a config says otherwise, for every backend: the tile decides the
# rounding, so one default keeps `--backend` from changing a release on its own.
DEFAULT_TILE = 128
# jax's matmul precision for a run, recorded in the provenance (environment.device.matmul_precision).
MATMUL_PRECISION = "highest"


class ConfigError(UsageError):
    """A distillation config that cannot run; says which value and what is allowed."""


@dataclasses.dataclass(frozen=True)
class DistillConfig:
    """One distillation run: source, preprocessing, kernel, algorithm and its hyper-parameters."""

    source: str = "digits"
    algorithm: str = "kip"
    kernel: KernelSpec = KernelSpec()
    ipc: int = 10
    steps: int = 1000            # KIP only
    learning_rate: float = 0.04  # KIP only
    target_batch: int = 5000     # KIP only
    learn_labels: bool = False   # KIP only (LS always solves labels)
    reg: float = krr.DEFAULT_REG
    ls_reg: float = label_solve.DEFAULT_LS_REG  # LS only
    zca: bool = False
    zca_reg: float = 0.1
    seed: int = 0
    eval_block: int = 1000
    tile: int = DEFAULT_TILE  # most rows per kernel tile (tiling.block_size); 0: one dense step, local only

    def validate(self) -> None:
        """Raise ConfigError naming the first bad value (before any work: nothing is loaded here).

        Every float hyper-parameter must be a finite number: ``inf`` or ``nan`` would only come back
        as a release of NaN images (or a run that diverges at its first step).
        """
        if self.source not in sources.SOURCES:
            raise ConfigError(f"unknown source {self.source!r}; known sources: {', '.join(sources.SOURCES)}")
        if self.algorithm not in ALGORITHMS:
            raise ConfigError(f"unknown algorithm {self.algorithm!r}; choose kip or ls")
        if not isinstance(self.ipc, int) or self.ipc < 1:
            raise ConfigError(f"--ipc (images per class) must be a positive integer, got {self.ipc!r}")
        for option, field in (("--lr", "learning_rate"), ("--reg", "reg"), ("--ls-reg", "ls_reg"),
                              ("--zca-reg", "zca_reg")):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise ConfigError(f"{option} must be a finite number, got {value!r}; give e.g. "
                                  f"{option} {getattr(DistillConfig, field)}")
        if not self.reg >= 0:
            raise ConfigError(f"--reg (the KRR regulariser) must be >= 0, got {self.reg!r}")
        if not self.ls_reg >= 0:
            raise ConfigError(f"--ls-reg must be >= 0, got {self.ls_reg!r}")
        if not self.zca_reg > 0:
            raise ConfigError(f"--zca-reg must be > 0, got {self.zca_reg!r}")
        if self.steps < 0:
            raise ConfigError(f"--steps must be >= 0, got {self.steps!r}")
        if not self.learning_rate > 0:
            raise ConfigError(f"--lr must be > 0, got {self.learning_rate!r}")
        if self.target_batch < 1:
            raise ConfigError(f"--target-batch must be >= 1, got {self.target_batch!r}")
        if not 0 <= self.tile <= MAX_TILE:
            raise ConfigError(f"--tile {self.tile!r} is out of range 0..{MAX_TILE} (rows per kernel tile, 0: no "
                              "tiling; one tile's vjp holds tile x tile kernel entries and their intermediates in memory)")
        if not (isinstance(self.seed, int) and 0 <= self.seed <= MAX_SEED):
            raise ConfigError(f"--seed {self.seed!r} is out of range: seeds are 0..{MAX_SEED} (numpy's generators)")
        if self.eval_block < 1:
            raise ConfigError(f"eval_block must be >= 1, got {self.eval_block!r}")

    def kip_config(self) -> kip.KipConfig:
        return kip.KipConfig(ipc=self.ipc, steps=self.steps, learning_rate=self.learning_rate,
                             target_batch=self.target_batch, reg=self.reg, learn_images=True,
                             learn_labels=self.learn_labels, seed=self.seed)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["kernel"] = self.kernel.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DistillConfig":
        d = dict(d)
        d["kernel"] = KernelSpec.from_dict(d["kernel"])
        return cls(**d)


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
    if not 1 <= workers <= MAX_WORKERS:
        raise ConfigError(f"--workers {workers} is out of range 1..{MAX_WORKERS} (Ray actors computing kernel tiles)")
    if backend == "local" and workers != 1:
        raise ConfigError(f"--workers {workers} needs --backend ray: the local backend computes every tile in this "
                          "process (one worker)")


def prepare(config: DistillConfig, source_dir: str | None = None) -> Prepared:
    """Load the source and fit + apply the preprocessing (raises SourceError / ConfigError).

    The config is checked against the source before any work: the kernel's depth against the image
    size (known from the packaged catalog before loading, and again on the loaded arrays), and
    ``ipc`` against the smallest class, before the preprocessing is fitted.
    """
    from distilled_registry import catalog

    known = catalog.load(catalog.DEFAULT_PATH)["sources"].get(config.source)
    if known:
        check_images(config, (1, *known["image_shape"]))
    src = sources.load_source(config.source, source_dir)
    check_images(config, src.x_train.shape)
    check_ipc(config, src.y_train, src.class_names)
    t = fit_transform(src.x_train, zca=config.zca, zca_reg=config.zca_reg, fitted_on=src.fingerprint)
    return Prepared(src, t, t.apply(src.x_train), t.apply(src.x_test))


def distill(config: DistillConfig, out: str | Path, source_dir: str | None = None, *,
            progress: bool = True, overwrite: bool = False, backend: str = "local", workers: int = 1,
            ray_address: str | None = None, checkpoint_every: int = 0, checkpoint_dir: str | Path | None = None,
            resume: bool = False, _fault: tuple[int, int] | None = None) -> dict:
    """Run ``config`` and write a release folder at ``out``; returns its provenance.

    Nothing is written at ``out`` unless the whole run succeeds.

    Args:
      backend, workers, ray_address: where kernel tiles are computed (``local`` in-process, or
        ``ray`` actors; see :mod:`backends`). Needs ``config.tile > 0`` for ``ray``.
      checkpoint_every: save the KIP state every this many steps (0: never) into
        ``checkpoint_dir`` (default: ``<out>.checkpoint`` beside ``out``), removed on success.
      resume: continue from the checkpoint in ``checkpoint_dir`` when there is one.
      _fault: test-only ``(step, worker)`` for the Ray backend: that worker dies after that step's forward.
    """
    config.validate()
    check_workers(backend, workers)
    out = Path(out)
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir else out.with_name(out.name + ".checkpoint")
    check_out(out, overwrite)
    if config.algorithm == "kip" and (checkpoint_every or resume):
        a, c = out.resolve(), ckpt_dir.resolve()
        if c == a or a in c.parents:
            raise ConfigError(f"--checkpoint-dir {str(ckpt_dir)!r} is --out or inside it; give a folder beside it "
                              f"(default: {out.name}.checkpoint)")
        if os.path.lexists(ckpt_dir) and not ckpt_dir.is_dir():
            raise ConfigError(f"--checkpoint-dir {str(ckpt_dir)!r} is a file; give a folder")
    if checkpoint_every < 0:
        raise ConfigError(f"--checkpoint-every must be >= 0 (0: never), got {checkpoint_every}")
    if backend != "local" and config.tile == 0:
        raise ConfigError(f"--backend {backend} spreads kernel tiles over workers: give --tile N (rows per tile), "
                          f"e.g. the default {DEFAULT_TILE}")
    t0 = time.perf_counter()
    started = dt.datetime.now(dt.timezone.utc)
    data = prepare(config, source_dir)
    from .kernels import make_kernel_fn

    kernel_fn = make_kernel_fn(config.kernel)
    pool = None
    if config.tile:
        from . import backends

        try:
            pool = backends.make_workers(config.kernel.to_dict(), backend, workers, ray_address,
                                         **({"fault": _fault} if _fault else {}))
        except ValueError as e:
            raise ConfigError(str(e)) from e
    import jax

    try:
        # Full float32 products everywhere (KRR solves, neural-tangents' convolutions): no TF32 or
        # bf16 passes on GPUs, so a GPU computes what the CPU does (the fast kernel asks for it too).
        with jax.default_matmul_precision(MATMUL_PRECISION):
            return _run(config, out, data, kernel_fn, pool, progress, overwrite, checkpoint_every, ckpt_dir,
                        resume, t0, started)
    finally:
        if pool is not None:
            pool.close()


def check_out(out: Path, overwrite: bool = False) -> None:
    """Refuse, before any work, an ``--out`` the release could not be written to.

    It must not exist (not even as a dangling symlink) unless ``overwrite``, and its nearest existing
    ancestor must be a folder this process may write in.
    """
    if os.path.lexists(out) and not overwrite:
        raise ConfigError(f"--out {str(out)!r} already exists; choose another or remove it first")
    parent = out.parent
    while not os.path.lexists(parent) and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"--out {str(out)!r}: {str(parent)!r} is a file (or a broken link), not a folder; "
                          "choose another --out")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {str(out)!r}: no permission to write in {str(parent)!r}; choose another --out")


def _run(config, out, data, kernel_fn, pool, progress, overwrite, checkpoint_every, ckpt_dir, resume, t0,
         started) -> dict:
    src = data.source
    idx = kip.support_indices(src.y_train, config.ipc, config.seed)
    x0, class_ids = data.x_train[idx], src.y_train[idx]
    y0 = krr.centered_one_hot(class_ids, src.num_classes)

    t_alg = time.perf_counter()
    losses, resumed_from = None, 0
    if config.algorithm == "kip":
        from . import checkpoint

        kcfg = config.kip_config()
        state, _ = kip.init(kcfg, data.x_train, src.y_train, src.num_classes)
        history: list[float] = []
        if resume:
            saved = checkpoint.load(ckpt_dir, state, config.to_dict())
            if saved is not None:
                state, history = saved
        resumed_from = state.step
        def hook(s, losses_so_far) -> None:
            checkpoint.save(ckpt_dir, s, config.to_dict(), losses_so_far)
        engine = None
        if pool is not None:
            from .distributed import TiledEngine

            engine = TiledEngine(pool, config.reg, config.tile)
        state, losses = kip.run(kcfg, kernel_fn, data.x_train, src.y_train, src.num_classes, engine=engine,
                                state=state, hook=hook, hook_every=checkpoint_every, progress=progress,
                                losses=history)
        images, labels = state.images, state.labels
    else:
        images = x0
        y_t = krr.centered_one_hot(src.y_train, src.num_classes)
        if pool is None:
            labels = label_solve.label_solve(kernel_fn, x0, data.x_train, y_t, reg=config.reg,
                                             ls_reg=config.ls_reg, block=config.eval_block, progress=progress)
        else:
            from .distributed import kernel_rows

            g, b = label_solve.accumulate(lambda i, j: kernel_rows(pool, data.x_train[i:j], x0, config.tile),
                                          y_t, len(y_t), config.eval_block, progress)
            labels = label_solve.solve(kernel_rows(pool, x0, x0, config.tile), g, b, config.reg, config.ls_reg)
    alg_seconds = time.perf_counter() - t_alg

    t_eval = time.perf_counter()
    ev = dict(reg=config.reg, block=config.eval_block)
    if np.array_equal(images, x0):  # LS keeps the real images: one kernel pass serves both figures
        natural, distilled = krr.evaluate_labels(kernel_fn, x0, [y0, labels], data.x_test, src.y_test,
                                                 progress="eval" if progress else None, **ev)
    else:
        natural = krr.evaluate(kernel_fn, x0, y0, data.x_test, src.y_test,
                               progress="natural eval" if progress else None, **ev)
        distilled = krr.evaluate(kernel_fn, images, labels, data.x_test, src.y_test,
                                 progress="distilled eval" if progress else None, **ev)
    eval_seconds = time.perf_counter() - t_eval

    files = {
        rel.DATA_FILE: rel.data_bytes(images, labels, class_ids),
        "transform.npz": data.transform.to_bytes(),
    }
    if preview.available():
        files["preview.png"] = preview.grid_png(
            [(f"{config.algorithm.upper()} (distilled)", images, class_ids), ("real (start)", x0, class_ids)],
            src.class_names, per_class=10, labels=[labels, None],
            title=f"{config.algorithm}_{config.source} ipc{config.ipc} {config.kernel.architecture}: "
                  f"KRR test acc {distilled['accuracy']:.3f} (real {natural['accuracy']:.3f})")
        if losses:
            files["loss_curve.png"] = preview.loss_png(losses, f"{config.algorithm}_{config.source} ipc{config.ipc}")
    else:
        print(f"note: {preview.MISSING}", file=sys.stderr)
    provenance = {
        "schema": PROVENANCE_SCHEMA,
        "name": f"{config.algorithm}_{config.source}",
        "config": config.to_dict(),
        "source": src.describe(),
        "preprocessing": {"file": "transform.npz", **data.transform.params},
        "kernel": config.kernel.to_dict(),
        "algorithm": {
            "name": config.algorithm,
            "paper": {"kip": "Nguyen, Chen, Lee. Dataset Meta-Learning from Kernel Ridge Regression. ICLR 2021",
                      "ls": "Nguyen, Novak, Xiao, Lee. Dataset Distillation with Infinitely Wide "
                            "Convolutional Networks. NeurIPS 2021"}[config.algorithm],
            "steps_run": config.steps if config.algorithm == "kip" else 0,
            "resumed_from_step": resumed_from,
            "final_loss": losses[-1] if losses else None,
            "support_size": int(len(images)),
        },
        "seed": config.seed,
        "backend": {**(pool.describe() if pool is not None else {"name": "local", "workers": 1}),
                    "tile": config.tile},
        "environment": {**environment.library_versions(), "git": environment.git_commit(),
                        "device": environment.device()},
        "timing": {"wall_seconds": round(time.perf_counter() - t0, 3), "algorithm_seconds": round(alg_seconds, 3),
                   "evaluation_seconds": round(eval_seconds, 3)},
        "created": started.isoformat(timespec="seconds"),
        "metrics": {
            "krr_test_accuracy": distilled["accuracy"],
            "krr_test_mse": distilled["mse"],
            "natural_krr_test_accuracy": natural["accuracy"],
            "natural_krr_test_mse": natural["mse"],
            "recipe": {
                "what": "kernel ridge regression with the release's kernel on the full test split of the source",
                "support": "the release's images and labels; natural_* uses the real images the run started from "
                           "(class-balanced sample, same seed) with centred one-hot labels",
                "reg": config.reg, "ridge": "K_ss + reg * trace(K_ss)/n * I",
                "test_split": "test", "test_size": distilled["test_size"],
                "source_exact_copy": src.exact,
            },
        },
    }
    rel.write_release(out, files, provenance, overwrite=overwrite)
    if config.algorithm == "kip" and (checkpoint_every or resume):
        from . import checkpoint

        checkpoint.remove(ckpt_dir)  # its own file only; the folder too when that leaves it empty
    return provenance
