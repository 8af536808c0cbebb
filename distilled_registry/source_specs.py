"""What a run's ``source`` names: a catalog source (``mnist``) or your own (``folder:``, ``npz:``, ``tfds:``, ``hf:``).

Plain text rules, no reading: the run's config (:mod:`.distill_config`) checks a source with them, and
``pipelines.user_sources`` (which reads the files) re-exports them.
"""

from __future__ import annotations

import re
from pathlib import Path

KINDS = ("folder", "npz", "tfds", "hf")


def is_user_source(spec: str | None) -> bool:
    """Whether ``spec`` names a user source (``folder:``, ``npz:``, ``tfds:``, ``hf:``)."""
    return isinstance(spec, str) and spec.split(":", 1)[0] in KINDS and ":" in spec


def short_name(spec: str) -> str:
    """A lower-case identifier for ``spec`` (the folder or file stem, the dataset name): ``my_images``."""
    kind, _, rest = spec.partition(":")
    base = Path(rest).stem if kind in ("folder", "npz") else rest.split(":")[0].split("/")[-1]
    slug = re.sub(r"[^a-z0-9_]+", "_", base.lower()).strip("_") or kind
    return slug if slug[0].isalpha() else f"{kind}_{slug}"
