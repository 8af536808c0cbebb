"""``provenance.json``: its versioned schema, checked whenever a release is written or read.

The schema is data, ``provenance.schema.json`` beside this module (JSON Schema 2020-12), with
``$id`` equal to :data:`SCHEMA`; every ``provenance.json`` names the schema it follows in its
``schema`` key. A provenance that names another schema, lacks a required field or has a field of
the wrong type is refused with :class:`ProvenanceError`, which names the file, the field and the
rule it breaks.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

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
