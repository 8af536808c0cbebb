"""Loaders for the releases: TFDS builders (one per catalog family) and the Hugging Face export.

Importing this package registers a TFDS builder for every catalog family, so that

    import distilled_registry.builders
    import tensorflow_datasets as tfds
    tfds.load("kip_digits/ipc10", split="train")

works; ``import distilled_registry`` does the same lazily, the moment ``tensorflow_datasets`` is
imported (:mod:`distilled_registry.tfds_registration`). Builders read releases through the registry
core; they never import ``distilled_registry.pipelines``.

Modules: ``release_builder`` (the TFDS builder base class), ``release_source`` (store, URL,
checksums), ``<family>/`` (each family's TFDS dataset folder: ``Builder``, its test, dummy_data/),
``builder_folders`` (writes those folders from the catalog), ``huggingface_export`` and
``huggingface_push`` (Hub repository layout and upload), ``builder_testing`` (dummy releases).
The papers' BibTeX and homepage are :mod:`distilled_registry.references`; the design is
``docs/design.md``.
"""

import sys

if __name__ != "distilled_registry.builders":
    # This folder imported by its path under another name (pytest, run from the repository's root,
    # imports the family tests as ``builders.<family>.<family>_dataset_builder_test``): be the one
    # package, so that no second copy registers the builders twice.
    from distilled_registry import builders as _package

    sys.modules[__name__] = _package
else:
    from .release_builder import builder_class
    from .release_builder import register as _register_catalog
    from .user_builders import register_user

    def register() -> list[str]:
        """Register a TFDS builder for every catalog family and every family of your own in the local store
        (:mod:`.user_builders`); returns their names. Idempotent."""
        return _register_catalog() + register_user()

    registered = register()

__all__ = ["builder_class", "register", "registered"]
