"""What a loaded source is: :class:`Source` (arrays, class names, fingerprint, origin) and its fingerprint.

Defined apart from :mod:`.sources` (the catalog's readers) so that :mod:`.user_sources` and
:mod:`.sources` share it without importing each other.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from distilled_registry import source_facts

FACTS = source_facts.SOURCES


# The digits split: stratified, 25% test, this seed. Changing it changes every digits release.
DIGITS_SPLIT = {"test_fraction": 0.25, "seed": 0}


@dataclasses.dataclass
class Source:
    """A source dataset as distillation sees it.

    Attributes:
      name: source name (a key of :data:`FACTS`).
      x_train, x_test: (N, H, W, C) float32 in [0, 1].
      y_train, y_test: (N,) int64 class ids.
      class_names: C names.
      fingerprint: sha256 of the decoded integer data (:func:`fingerprint_arrays`).
      origin: where it was read from (``sklearn``, ``local:<layout>``, ``tfds:<name>:<version>``).
      files: sha256 of every file read, by file name (empty for sklearn / TFDS).
      exact: False when the copy is known to differ from the original pixels (the JPEG CIFAR-10).
      facts: for a user source (:mod:`.user_sources`), what provenance records instead of the
        catalog's source facts: licence and citation as given, counts per class and split, image size.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list
    fingerprint: str
    origin: str
    files: dict = dataclasses.field(default_factory=dict)
    exact: bool = True
    facts: dict | None = None  # a user source's own facts (licence, citation, counts...; user_sources.py)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def describe(self) -> dict:
        """What provenance records about the source (no arrays)."""
        return {
            "name": self.name,
            "origin": self.origin,
            "fingerprint_sha256": self.fingerprint,
            "fingerprint_recipe": "sha256 over (name, dtype, shape, bytes) of the uint8 images and int64 labels of "
                                  "train then test",
            "files_sha256": dict(self.files),
            "exact_copy": self.exact,
            "image_shape": list(self.x_train.shape[1:]),
            "num_classes": self.num_classes,
            "class_names": list(self.class_names),
            "train_size": int(len(self.x_train)),
            "test_size": int(len(self.x_test)),
            **({"licence": FACTS[self.name].licence, "homepage": FACTS[self.name].homepage}
               if self.facts is None else self.facts),
            **({"split": dict(DIGITS_SPLIT)} if self.name == "digits" else {}),
        }


def fingerprint_arrays(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over ``name, dtype, shape, bytes`` of each array, in the given order."""
    h = hashlib.sha256()
    for name, a in arrays.items():
        a = np.ascontiguousarray(a)
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()
