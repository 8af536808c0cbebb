"""The one home of a run's configuration: every hyper-parameter, its default, its bounds and its check.

A :class:`DistillConfig` (with its :class:`KernelSpec`) says everything that decides a release: the
source, the preprocessing, the kernel, the algorithm and its hyper-parameters. Each field is declared
once here with its default and its metadata (:func:`option`: the command-line flag, the help text,
the kind of value and its bounds); from them

- :meth:`DistillConfig.validate` checks a config (every number through :mod:`.user_values`);
- the command line builds ``distill``'s flags and help, and ``--set FIELD=VALUE`` of ``regenerate``
  and ``rerun`` (``distilled_registry.cli``);
- the catalog's configs (:mod:`.configs`) and the pipelines' own configs take their defaults.

Plain Python: no numpy, no JAX. ``DistillConfig.from_dict(provenance["config"])`` reruns a release;
``from_dict(d).to_dict() == d`` for every config a release records.

Reference defaults (Nguyen, Chen, Lee, ICLR 2021 / NeurIPS 2021): Adam with learning rate
:attr:`DistillConfig.learning_rate`, class-balanced target batches of :attr:`DistillConfig.target_batch`,
the KRR ridge ``reg * trace(K_ss) / n``, the Label Solve ridge ``ls_reg``, ZCA strength ``zca_reg``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from . import source_facts, source_specs, user_values
from .errors import UsageError
from .limits import (
    DEFAULT_TILE,
    MAX_DEPTH,
    MAX_EVAL_SUBSET,
    MAX_IPC,
    MAX_LR_DROPS,
    MAX_SEED,
    MAX_SIDE,
    MAX_STEPS,
    MAX_TARGET_BATCH,
    MAX_TILE,
)

ALGORITHMS = ("kip", "ls")
ARCHITECTURES = ("fc", "convnet", "convnet3")
GETS = ("ntk", "nngp")
IMPLS = ("nt", "fast")
KINDS = ("text", "choice", "count", "real", "bool", "size", "steps", "kernel")  # what a field's value is
# Fields a source of your own reads (pipelines/user_sources.py): left out of to_dict() at their defaults,
# so the configs of catalog runs (and their checkpoints) read as before.
USER_SOURCE_FIELDS = ("image_size", "test_fraction", "split_seed")
# Fields left out of to_dict() at their defaults (None), so configs made before them read as before.
OPTIONAL_FIELDS = USER_SOURCE_FIELDS + ("ls_targets", "lr_drop_at", "lr_drop_scale", "ls_finish", "init_from")
# Fields that say how the kernel is computed, not what: a catalog spec leaves them out at their defaults.
HOW_FIELDS = ("eval_block", "tile")


class ConfigError(UsageError):
    """A distillation config that cannot run; says which value and what is allowed."""


def option(default: Any, kind: str, help: str, flag: str | None = None, **bounds) -> Any:
    """A config field: its ``default``, the ``kind`` of value, its ``help``, the command line's ``flag``
    (None: no flag of its own), and ``bounds`` (``low``, ``high``, ``above`` of a number; ``choices``)."""
    assert kind in KINDS, kind
    return dataclasses.field(default=default, metadata={"kind": kind, "help": help, "flag": flag, "bounds": bounds})


def check_value(cls: type, name: str, value: Any) -> Any:
    """``value`` checked as field ``name`` of ``cls`` (its kind and bounds); BadValue / ConfigError otherwise.

    The message names the field's flag (``--lr``), else the field (``eval_block``).
    """
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    m = f.metadata
    shown, b = m["flag"] or name, m["bounds"]
    if value is None and f.default is None:
        return None
    if m["kind"] == "count":
        return user_values.count(value, shown, b.get("low", 1), b.get("high"))
    if m["kind"] == "real":
        return user_values.real(value, shown, b.get("low"), b.get("high"), b.get("above"))
    if m["kind"] == "bool" and not isinstance(value, bool):
        raise ConfigError(f"{name} must be True or False, got {value!r}")
    if m["kind"] == "choice" and value not in b["choices"]:
        raise ConfigError(f"{shown} {value!r} is not one of {', '.join(b['choices'])}")
    if m["kind"] == "size" and not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise ConfigError(f"{shown} {value!r}: give HxW (or one side), each 1..{b['high']}")
    if m["kind"] == "size":
        return tuple(user_values.count(v, shown, 1, b["high"]) for v in value)
    if m["kind"] == "steps":
        return _steps(value, shown, b)
    return value


def _steps(value: Any, shown: str, bounds: dict) -> int | tuple[int, ...]:
    """One step (an int) or two or more strictly increasing steps (a tuple): a ``steps`` field's value."""
    items = list(value) if isinstance(value, (tuple, list)) else [value]
    if not 1 <= len(items) <= MAX_LR_DROPS:
        raise ConfigError(f"{shown}: give 1 to {MAX_LR_DROPS} steps, increasing, e.g. 850 or 850,1600")
    out = [user_values.count(v, shown, bounds.get("low", 1), bounds.get("high")) for v in items]
    if any(a >= b for a, b in zip(out, out[1:])):
        raise ConfigError(f"{shown} {','.join(map(str, out))}: give the steps increasing, e.g. 850,1600")
    return out[0] if len(out) == 1 else tuple(out)


def check_sha256(value: Any, shown: str) -> str:
    """``value`` if it is a sha256 in hex (64 of 0-9a-f), else ConfigError naming ``shown``."""
    if not (isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)):
        raise ConfigError(f"{shown} {str(value)[:80]!r} is not a sha256 (64 lowercase hex digits): it names the "
                          "data.npz of the release a run starts from")
    return value


def drop_steps(value: int | tuple | list | None) -> tuple[int, ...]:
    """The steps of an ``lr_drop_at`` value (None, one step or several) as a tuple: ``850 -> (850,)``."""
    return () if value is None else tuple(value) if isinstance(value, (tuple, list)) else (value,)


@dataclasses.dataclass(frozen=True)
class KernelSpec:
    """What kernel to compute: enough to rebuild it exactly, and nothing else.

    Attributes:
      architecture: ``fc``, ``convnet`` or ``convnet3``.
      depth: hidden Dense+ReLU layers (fc) or Conv+ReLU+AvgPool blocks (convnets).
      W_std: weight standard deviation (NTK parameterisation).
      b_std: bias standard deviation.
      get: ``ntk`` (neural tangent kernel) or ``nngp`` (infinite-width Gaussian process).
      impl: ``nt`` (neural-tangents ``stax``) or ``fast`` (this package's ConvNet recursion).
    """

    architecture: str = option("fc", "choice", "the infinite-width network whose kernel is used", "--kernel",
                               choices=ARCHITECTURES)
    depth: int = option(1, "count", f"1..{MAX_DEPTH}: hidden layers (fc) or pooling blocks (convnets, at most log2 of "
                        "the image side: 3 for digits, 4 for mnist, 5 for cifar); default 1 for fc, 3 for convnets",
                        "--depth", high=MAX_DEPTH)
    W_std: float = option(math.sqrt(2.0), "real", "weight standard deviation (NTK parameterisation)", above=0)
    b_std: float = option(0.1, "real", "bias standard deviation", low=0)
    get: str = option("ntk", "choice", "ntk (neural tangent kernel) or nngp (Gaussian process kernel)",
                      "--kernel-get", choices=GETS)
    impl: str = option("nt", "choice", "convnets: fast (default; this package's recursion, equal to "
                       "neural-tangents) or nt; fc: nt", "--kernel-impl", choices=IMPLS)

    def __post_init__(self):
        for f in dataclasses.fields(self):
            check_value(KernelSpec, f.name, getattr(self, f.name))
        if self.impl == "fast" and self.architecture == "fc":
            raise ConfigError("impl='fast' exists for convnet and convnet3 only; use impl='nt' for fc")

    @classmethod
    def of(cls, architecture: str = "fc", depth: int | None = None, get: str = "ntk",
           impl: str | None = None) -> "KernelSpec":
        """The spec of ``architecture`` with its usual depth (1 for fc, 3 for convnets) and implementation
        (``nt`` for fc, ``fast`` for convnets) unless given."""
        fc = architecture == "fc"
        return cls(architecture=architecture, depth=depth if depth is not None else (1 if fc else 3), get=get,
                   impl=impl or ("nt" if fc else "fast"))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "KernelSpec":
        return cls(**d)

    def min_image_size(self) -> int:
        """Height and width must be at least this (one 2x2 pool per block)."""
        return 1 if self.architecture == "fc" else 2 ** self.depth

    def check_images(self, shape: tuple) -> None:
        """Raise ConfigError when images of ``shape`` (N, H, W, C) cannot go through the network.

        Both implementations pool with VALID padding and round odd sides down (28 -> 14 -> 7 -> 3, as
        neural-tangents does), so any side of at least ``2**depth`` works.
        """
        if len(shape) != 4:
            raise ConfigError(f"kernels take NHWC images, got an array of shape {shape}")
        h, w = shape[1], shape[2]
        m = self.min_image_size()
        if h < m or w < m:
            deepest = max(0, min(int(h), int(w)).bit_length() - 1)  # floor(log2(min(H, W)))
            fix = f"give --depth {deepest} or less" if deepest >= 1 else "use --kernel fc"
            raise ConfigError(
                f"--depth {self.depth} is too deep for {h}x{w} images: {self.architecture} with depth {self.depth} "
                f"pools {self.depth} times by 2, so image height and width must be at least {m}; got {h}x{w}; {fix}")


@dataclasses.dataclass(frozen=True)
class DistillConfig:
    """One distillation run: source, preprocessing, kernel, algorithm and its hyper-parameters."""

    source: str = option("digits", "text", "digits (embedded), mnist, fashion_mnist, cifar10, cifar100, svhn_cropped; "
                         "or your own: an image folder (train/<class>/, test/<class>/; or <class>/ with "
                         "--test-fraction), an .npz (x_train, y_train, x_test, y_test[, class_names]), "
                         "tfds:NAME[:VERSION] (prepared in $TFDS_DATA_DIR) or hf:REPO_ID", "--source")
    algorithm: str = option("kip", "choice", "kip (Kernel Inducing Points: learns the images) or ls (Label Solve: "
                            "solves the labels)", "--algorithm", choices=ALGORITHMS)
    kernel: KernelSpec = option(KernelSpec(), "kernel", "the kernel (its own fields: --kernel, --depth, ...)")
    ipc: int = option(10, "count", "images per class, at least 1 and at most the smallest class of the source's "
                      "training split", "--ipc", high=MAX_IPC)
    steps: int = option(1000, "count", f"KIP steps (0..{MAX_STEPS})", "--steps", low=0, high=MAX_STEPS)
    learning_rate: float = option(0.04, "real", "KIP Adam learning rate (> 0)", "--lr", above=0)
    lr_drop_at: int | tuple | None = option(
        None, "steps", "KIP: from this step on the learning rate is --lr times --lr-drop-scale; several steps "
        "(850,1600) multiply it by the scale at each (optax.piecewise_constant_schedule); a run resumed may add "
        "steps at or after its checkpoint's step", "--lr-drop-at", low=0, high=MAX_STEPS)
    lr_drop_scale: float | None = option(None, "real", "KIP: the factor of each --lr-drop-at step, in (0, 1]",
                                         "--lr-drop-scale", above=0, high=1)
    target_batch: int = option(5000, "count", f"KIP target batch (class-balanced, 1..{MAX_TARGET_BATCH})",
                               "--target-batch", high=MAX_TARGET_BATCH)
    learn_labels: bool = option(False, "bool", "KIP also learns the support labels (LS always solves them)",
                                "--learn-labels")
    reg: float = option(1e-6, "real", "KRR ridge, scaled by trace(K_ss)/n (>= 0)", "--reg", low=0)
    ls_reg: float = option(1e-10, "real", "LS normal-equation ridge (trace-scaled, >= 0)", "--ls-reg", low=0)
    ls_targets: int | None = option(None, "count", "LS solves against a class-balanced sample of this many training "
                                    "images, drawn with --seed (default: the whole training split)", "--ls-targets",
                                    high=MAX_TARGET_BATCH)
    ls_finish: bool = option(False, "bool", "KIP: after the last step, replace the support labels by Label Solve's "
                             "closed form for the final images (against the training split, or --ls-targets of it; "
                             "--ls-reg); the KIP labels' accuracy is recorded beside", "--ls-finish")
    # the release a KIP run starts from instead of real images: the sha256 of its data.npz (distill's --init-from
    # takes that release's folder and sets it; pipelines/starting.py, start_release)
    init_from: str | None = option(None, "text", "KIP: start from this release's images and labels, named by the "
                                   "sha256 of its data.npz")
    zca: bool = option(False, "bool", "ZCA-whiten after standardising", "--zca")
    zca_reg: float = option(0.1, "real", "ZCA regulariser, added to the eigenvalues (> 0)", "--zca-reg", above=0)
    seed: int = option(0, "count", f"0..{MAX_SEED}: picks the real images the run starts from and its target batches",
                       "--seed", low=0, high=MAX_SEED)
    eval_block: int = option(1000, "count", "test rows per KRR evaluation block", high=MAX_EVAL_SUBSET)
    # most rows per kernel tile (tiling.block_size); 0: one dense step, local only (the CLI's --tile: cli.arguments)
    tile: int = option(DEFAULT_TILE, "count", "rows per kernel tile", "--tile", low=0, high=MAX_TILE)
    image_size: tuple | None = option(None, "size", "your own source: resize every image to HxW (or SxS given one "
                                      "number), bilinear", "--image-size", high=MAX_SIDE)
    test_fraction: float | None = option(None, "real", "your own source without a test split: cut this fraction of "
                                         "each class off as test", "--test-fraction", above=0, high=0.999)
    split_seed: int = option(0, "count", "the seed of the --test-fraction split", "--split-seed", low=0,
                             high=MAX_SEED)

    def validate(self) -> None:
        """Raise ConfigError (or user_values.BadValue) naming the first bad value (before any work: nothing is loaded).

        Every field is checked by its kind and bounds (:func:`check_value`): every float a finite
        number (``inf`` or ``nan`` would only come back as a release of NaN images), every count an
        integer within its bound (:mod:`.limits`); the kernel checks itself when made.
        """
        user = source_specs.is_user_source(self.source)
        if self.source not in source_facts.SOURCES and not user:
            raise ConfigError(f"unknown source {self.source!r}; known sources: {', '.join(source_facts.SOURCES)}, or "
                              "your own: an image folder, an .npz, tfds:NAME, hf:REPO_ID")
        if not user and (self.image_size is not None or self.test_fraction is not None):
            raise ConfigError(f"--image-size and --test-fraction are for your own sources, not {self.source}")
        if self.algorithm not in ALGORITHMS:
            raise ConfigError(f"unknown algorithm {self.algorithm!r}; choose kip or ls")
        if self.ls_finish and self.algorithm != "kip":
            raise ConfigError("--ls-finish is for --algorithm kip: Label Solve already solves its labels")
        if self.ls_targets is not None and self.algorithm != "ls" and not self.ls_finish:
            raise ConfigError(f"--ls-targets {self.ls_targets} is for --algorithm ls or --ls-finish; KIP samples "
                              "--target-batch targets each step")
        if (self.lr_drop_at is None) != (self.lr_drop_scale is None):
            raise ConfigError("give --lr-drop-at STEP and --lr-drop-scale FACTOR together (the learning rate is "
                              "--lr times FACTOR from STEP on)")
        if self.lr_drop_at is not None and self.algorithm != "kip":
            raise ConfigError(f"--lr-drop-at {self.lr_drop_at} is for --algorithm kip (Label Solve has no steps)")
        if self.ls_targets is not None and not user and isinstance(self.ipc, int):
            classes = source_facts.SOURCES[self.source].num_classes
            if self.ls_targets < self.ipc * classes:
                raise ConfigError(f"--ls-targets {self.ls_targets} is fewer than the {self.ipc * classes} support "
                                  f"images (--ipc {self.ipc} x {classes} classes): give at least {self.ipc * classes}")
        if self.init_from is not None:
            check_sha256(self.init_from, "init_from")
            if self.algorithm != "kip":
                raise ConfigError("--init-from is for --algorithm kip: Label Solve keeps the real images")
        if not isinstance(self.kernel, KernelSpec):
            raise ConfigError(f"kernel must be a KernelSpec, got {self.kernel!r}")
        for f in dataclasses.fields(self):
            check_value(DistillConfig, f.name, getattr(self, f.name))

    def to_dict(self) -> dict:
        """Every field (the kernel as a dict), but the :data:`OPTIONAL_FIELDS` at their defaults."""
        d = dataclasses.asdict(self)
        d["kernel"] = self.kernel.to_dict()
        for key in OPTIONAL_FIELDS:
            if d[key] == getattr(DistillConfig, key):
                del d[key]
        for key in ("image_size", "lr_drop_at"):
            if isinstance(d.get(key), tuple):
                d[key] = list(d[key])
        return d

    def to_spec(self) -> dict:
        """The catalog's form (``catalog.Entry.spec``): :meth:`to_dict` without ``tile`` and ``eval_block`` at
        their defaults (how the kernel is computed, not what)."""
        return {k: v for k, v in self.to_dict().items() if not (k in HOW_FIELDS and v == getattr(DistillConfig, k))}

    @classmethod
    def from_dict(cls, d: dict) -> "DistillConfig":
        d = dict(d)
        d["kernel"] = KernelSpec.from_dict(d["kernel"])
        for key in ("image_size", "lr_drop_at"):
            if isinstance(d.get(key), list):
                d[key] = tuple(d[key])
        return cls(**d)

    def source_options(self) -> dict:
        """What reading a user source as this run did needs besides its name (``image_size``, ``test_fraction``,
        ``split_seed``); ``{}`` for a catalog source."""
        if not source_specs.is_user_source(self.source):
            return {}
        d = self.to_dict()
        out = {k: d[k] for k in USER_SOURCE_FIELDS if d.get(k) is not None}
        if "image_size" in out:
            out["image_size"] = tuple(out["image_size"])
        return out

    def family(self) -> str:
        """The default family of a run: ``<algorithm>_<source>`` (a user source: its short name)."""
        if source_specs.is_user_source(self.source):
            return f"{self.algorithm}_{source_specs.short_name(self.source)}"
        return f"{self.algorithm}_{self.source}"


def default(name: str) -> Any:
    """The default of field ``name`` of :class:`DistillConfig` (``default("learning_rate")``)."""
    return {f.name: f.default for f in dataclasses.fields(DistillConfig)}[name]


def field_kind(path: str) -> tuple[type, str]:
    """``(class, field)`` of a field path: ``steps`` (DistillConfig) or ``kernel.depth`` (KernelSpec); ConfigError
    naming the known fields when there is none."""
    head, dot, rest = path.partition(".")
    cls, name = (KernelSpec, rest) if dot and head == "kernel" else (DistillConfig, path)
    known = [f.name for f in dataclasses.fields(cls)]
    if dot and head != "kernel" or name not in known or name == "kernel":
        fields = [f.name for f in dataclasses.fields(DistillConfig) if f.name != "kernel"]
        fields += [f"kernel.{f.name}" for f in dataclasses.fields(KernelSpec)]
        raise ConfigError(f"unknown config field {path!r}; fields: {', '.join(fields)}")
    return cls, name


def with_overrides(config: DistillConfig, overrides: dict[str, Any]) -> DistillConfig:
    """``config`` with fields replaced (``{"steps": 2000, "kernel.depth": 2}``), each value checked, then the whole."""
    top = {}
    kernel = {}
    for path, value in overrides.items():
        cls, name = field_kind(path)
        (kernel if cls is KernelSpec else top)[name] = check_value(cls, name, value)
    if kernel:
        top["kernel"] = dataclasses.replace(config.kernel, **kernel)
    out = dataclasses.replace(config, **top)
    out.validate()
    return out
