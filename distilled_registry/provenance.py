"""``provenance.json``: its versioned schema, checked whenever a release is written or read.

The schema is data, ``provenance.schema.json`` beside this module (JSON Schema 2020-12), with
``$id`` equal to :data:`SCHEMA`; every ``provenance.json`` names the schema it follows in its
``schema`` key. A provenance that names another schema, lacks a required field or has a field of
the wrong type is refused with :class:`ProvenanceError`, which names the file, the field and the
rule it breaks.

:class:`Provenance` is the record read once, validated, into typed frozen blocks (:class:`Source`,
:class:`Kernel`, :class:`Algorithm`, :class:`Run` with its :class:`Config`, :class:`Origin`,
:class:`Metrics`, :class:`FileEntry` per file, :class:`ReleaseBlock`): every reader (list, info,
verify, the TFDS source, the Hugging Face card, Croissant, the conformance check) uses these blocks
rather than looking keys up in nested dicts. The file on disk is unchanged.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import UserError

SCHEMA = "distilled_registry.provenance/1"
SCHEMA_FILE = Path(__file__).with_name("provenance.schema.json")


class ProvenanceError(UserError):
    """A provenance record that does not follow its schema."""


@functools.cache
def schema() -> dict:
    """The JSON Schema of :data:`SCHEMA`."""
    return json.loads(SCHEMA_FILE.read_text())


@functools.cache
def _validator():
    import jsonschema  # ~60 ms; only when a provenance is checked

    return jsonschema.Draft202012Validator(schema())


def build(name: str, *, source: dict, preprocessing: dict, kernel: dict, algorithm: dict, metrics: dict,
          created: str, config: dict | None = None, seed: int | None = None, backend: dict | None = None,
          environment: dict | None = None, timing: dict | None = None, origin: dict | None = None,
          release: dict | None = None) -> dict:
    """A provenance record of :data:`SCHEMA`: every path that writes a release makes its record here.

    Two kinds, as the schema has them: a run made here (``config``, ``seed``, ``backend``,
    ``environment``, ``timing``) and an import of the authors' published file (``origin``). Blocks
    left None are left out; ``files`` (sha256 and size of every file) is added by
    :func:`distilled_registry.release.write_release`, which checks the whole record against the schema.

    Args:
      name: the family, ``<algorithm>_<source>``.
      source: the source dataset (name, fingerprint, shape, classes, split sizes, licence).
      preprocessing: the transform's parameters and its file (``transform.npz``), or the recipe to fit.
      kernel: the kernel spec; algorithm: name, paper, steps, support size, ...
      metrics: the measured (or, for an import, reported) figures and their recipe.
      created: ISO 8601 time the release was made.
    """
    blocks = {"config": config, "origin": origin, "seed": seed, "backend": backend, "environment": environment,
              "timing": timing, "release": release}
    return {"schema": SCHEMA, "name": name, "source": source, "preprocessing": preprocessing, "kernel": kernel,
            "algorithm": algorithm, "created": created, "metrics": metrics,
            **{k: v for k, v in blocks.items() if v is not None}}


def validate(prov: object, where: str = "provenance") -> dict:
    """Return ``prov`` if it follows :data:`SCHEMA`; else raise ProvenanceError.

    Args:
      prov: the parsed ``provenance.json``.
      where: what to call it in the message (usually its path).
    """
    if not isinstance(prov, dict):
        raise ProvenanceError(f"{where}: expected a JSON object, got {type(prov).__name__}")
    if prov.get("schema") != SCHEMA:
        raise ProvenanceError(
            f"{where}: schema {prov.get('schema')!r} is not {SCHEMA!r}, the provenance schema this version "
            "of distilled-registry reads; upgrade distilled-registry, or regenerate the release")
    errors = sorted(_validator().iter_errors(prov),
                    key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        lines = [f"  at {_path(e)}: {e.message}" for e in errors[:8]]
        more = f"\n  ... and {len(errors) - 8} more" if len(errors) > 8 else ""
        raise ProvenanceError(f"{where} does not follow schema {SCHEMA} ({len(errors)} problem"
                              f"{'s' if len(errors) > 1 else ''}):\n" + "\n".join(lines) + more)
    return prov


def _path(error) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "(top level)"


# --- typed blocks: provenance.json read once, validated, into frozen dataclasses ----------------------------


def _frozen(x):
    """A read-only copy of parsed JSON: dicts as mappingproxy, lists as tuples."""
    if isinstance(x, dict):
        return MappingProxyType({k: _frozen(v) for k, v in x.items()})
    if isinstance(x, list):
        return tuple(_frozen(v) for v in x)
    return x


@dataclasses.dataclass(frozen=True)
class Source:
    """``source``: the dataset distilled from. ``image_shape`` (H, W, C); ``kind`` only for a user's own source."""

    name: str
    origin: str
    fingerprint_sha256: str | None
    files_sha256: Mapping[str, str]
    exact_copy: bool
    image_shape: tuple[int, int, int]
    num_classes: int
    class_names: tuple[str, ...]
    train_size: int
    test_size: int
    licence: str | None = None
    homepage: str | None = None
    citation: str | None = None
    kind: str | None = None

    @property
    def label(self) -> str:
        """The source as cards name it: a user's own source by kind and base name (``folder:my_images``),
        never its local path."""
        if self.kind is None:
            return self.name
        return f"{self.kind}:{self.name.rstrip('/').rsplit('/', 1)[-1]}"


@dataclasses.dataclass(frozen=True)
class Kernel:
    """``kernel``: architecture (fc, convnet, convnet3), depth, W/b std, ``get`` (ntk | nngp), implementation."""

    architecture: str
    depth: int
    W_std: float
    b_std: float
    get: str
    impl: str


@dataclasses.dataclass(frozen=True)
class Algorithm:
    """``algorithm``: kip | ls, its paper, the support size N; for a run, the steps run and final loss."""

    name: str
    paper: str
    support_size: int
    steps_run: int | None = None
    final_loss: float | None = None
    labels: str | None = None  # an import's "learned" / "one-hot" (the authors' file)


@dataclasses.dataclass(frozen=True)
class Config:
    """``config``: the hyper-parameters of a run made here (``DistillConfig.from_dict(dict(config.raw))`` reruns it)."""

    source: str
    algorithm: str
    ipc: int
    steps: int
    learning_rate: float
    target_batch: int
    learn_labels: bool
    reg: float
    ls_reg: float
    zca: bool
    zca_reg: float
    seed: int
    raw: Mapping[str, Any] = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class Run:
    """What only a run made here has: its config, seed, backend (name x workers), environment, wall time."""

    config: Config
    seed: int
    backend: str
    workers: int
    environment: Mapping[str, Any] = dataclasses.field(repr=False)
    wall_seconds: float

    @property
    def commit(self) -> str | None:
        return (self.environment.get("git") or {}).get("commit")


@dataclasses.dataclass(frozen=True)
class Origin:
    """``origin``: the authors' published file an imported release copies (its URL, sha256, variant, pin)."""

    kind: str
    authors: str
    url: str | None
    files_sha256: Mapping[str, str]
    variant: Mapping[str, Any]
    pin_state: str
    imported: str
    file: str | None = None
    paper: str | None = None
    imported_with: Mapping[str, Any] = dataclasses.field(default_factory=lambda: MappingProxyType({}))


@dataclasses.dataclass(frozen=True)
class Metrics:
    """``metrics``: accuracies in [0, 1] and MSEs (None where not measured, as in an import), the recipe's
    test size, the authors' reported accuracy (imports); ``raw`` holds every recorded figure."""

    krr_test_accuracy: float | None
    krr_test_mse: float | None
    natural_krr_test_accuracy: float | None
    natural_krr_test_mse: float | None
    test_size: int | None
    reported_test_accuracy: float | None
    raw: Mapping[str, Any] = dataclasses.field(repr=False)

    def figures(self) -> dict:
        """Every recorded figure but the recipe, as plain JSON (dicts and lists)."""
        return {k: v for k, v in _plain_json(self.raw).items() if k != "recipe"}


@dataclasses.dataclass(frozen=True)
class FileEntry:
    """One file of ``files``: its sha256 and size in bytes."""

    sha256: str
    size: int


@dataclasses.dataclass(frozen=True)
class ReleaseBlock:
    """``release``: the catalog name (``family/config``), family, config and version, once in a store."""

    name: str
    family: str
    config: str
    version: str
    url: str | None = None


@dataclasses.dataclass(frozen=True)
class Provenance:
    """A ``provenance.json`` read once and checked against :data:`SCHEMA`, in typed blocks.

    ``run`` is None for an imported file and ``origin`` None for a run (the schema's two kinds);
    ``zca``, ``transform_file`` and ``fit_later`` (why an import has no transform file yet) are the
    ``preprocessing`` block; ``data`` is the whole record as
    parsed (read-only), for writers that copy it unchanged.
    """

    name: str
    created: str
    source: Source
    kernel: Kernel
    algorithm: Algorithm
    metrics: Metrics
    files: Mapping[str, FileEntry]
    zca: bool
    transform_file: str | None
    fit_later: str | None
    run: Run | None
    origin: Origin | None
    release: ReleaseBlock | None
    data: Mapping[str, Any] = dataclasses.field(repr=False)

    @property
    def config(self) -> Config | None:
        return self.run.config if self.run else None

    @property
    def learned_labels(self) -> bool:
        """Whether the labels were learned: Label Solve, KIP with ``learn_labels``, or an import saying so."""
        return (self.algorithm.name == "ls" or bool(self.config and self.config.learn_labels)
                or self.algorithm.labels == "learned")

    def as_dict(self) -> dict:
        """The record as a plain (mutable) dict, as on disk."""
        return _plain_json(self.data)

    @classmethod
    def parse(cls, prov: object, where: str = "provenance") -> Provenance:
        """The typed record of ``prov`` (a parsed ``provenance.json``), after :func:`validate`."""
        return cls.from_valid(validate(prov, where))

    @classmethod
    def from_valid(cls, d: Mapping[str, Any]) -> Provenance:
        """The typed record of an already schema-checked ``d`` (no second check; ``files`` may be absent
        while a release is being made: :func:`build` leaves it to the writer)."""
        d = d if isinstance(d, MappingProxyType) else _frozen(d)
        src, m, pre = d["source"], d["metrics"], d["preprocessing"]
        rep = m.get("reported_by_authors") or {}
        return cls(
            name=d["name"], created=d["created"],
            source=_make(Source, src, image_shape=tuple(src["image_shape"]),
                         class_names=tuple(str(c) for c in src["class_names"])),
            kernel=_make(Kernel, d["kernel"]), algorithm=_make(Algorithm, d["algorithm"]),
            metrics=Metrics(m.get("krr_test_accuracy"), m.get("krr_test_mse"), m.get("natural_krr_test_accuracy"),
                            m.get("natural_krr_test_mse"), (m.get("recipe") or {}).get("test_size"),
                            rep.get("test_accuracy"), m),
            files=MappingProxyType({k: FileEntry(v["sha256"], v["size"]) for k, v in d.get("files", {}).items()}),
            zca=bool(pre["zca"]), transform_file=pre.get("file"), fit_later=pre.get("fit_later"),
            run=_run(d), origin=_make(Origin, d["origin"], pin_state=d["origin"]["pin"]["state"])
            if "origin" in d else None,
            release=_make(ReleaseBlock, d["release"]) if "release" in d else None, data=d)


def typed(prov: Provenance | Mapping[str, Any]) -> Provenance:
    """``prov`` as a :class:`Provenance` (a dict is taken as already schema-checked)."""
    return prov if isinstance(prov, Provenance) else Provenance.from_valid(prov)


def _make(cls, block: Mapping[str, Any], **given):
    """``cls`` from the keys of ``block`` it has fields for (a block may carry more keys: later additions)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in block.items() if k in names and k not in given}, **given)


def _run(d: Mapping[str, Any]) -> Run | None:
    if "config" not in d:
        return None
    return Run(_make(Config, d["config"], raw=d["config"]), d["seed"], d["backend"]["name"],
               d["backend"]["workers"], d["environment"], float(d["timing"]["wall_seconds"]))


def _plain_json(x: Any) -> Any:
    """A plain (mutable) copy of frozen JSON: mappings as dicts, tuples as lists."""
    if isinstance(x, Mapping):
        return {k: _plain_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain_json(v) for v in x]
    return x
